package config_test

import (
	"errors"
	"fmt"

	"github.com/pgmedic/pgmedic/config"
)

// Parse reads pgmedic.yaml text: a profile extends a built-in one, environment
// variables override it, and every problem names its line and key.
func ExampleParse() {
	yaml := []byte(`profile: staging
profiles:
  staging:
    extends: development
    indexOptimizer:
      minTableRows: 5000
`)
	env := config.MapEnv(map[string]string{"PGMEDIC_QUERY_ANALYZER_TOP_STATEMENTS": "20"})
	p, err := config.Parse(yaml, "pgmedic.yaml", "", env)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Name, p.IndexOptimizer.MinTableRows, p.QueryAnalyzer.TopStatements, p.Connection.RequireVerifyFull)

	_, err = config.Parse([]byte("profiles:\n  production:\n    connection:\n      lockTimout: 2s\n"), "pgmedic.yaml", "", nil)
	fmt.Println(err)
	var ce *config.Error
	if errors.As(err, &ce) {
		fmt.Println("hint:", ce.Hint)
	}
	// Output:
	// staging 5000 20 false
	// pgmedic.yaml:4: unknown key "lockTimout" in profiles.production.connection (valid: applicationName, idleInTransactionTimeout, lockTimeout, requireVerifyFull, statementTimeout)
	// hint: did you mean "lockTimeout"?
}
