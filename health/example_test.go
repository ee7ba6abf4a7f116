package health_test

import (
	"fmt"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/health"
)

// List describes every check with the thresholds the profile gives it; Run applies
// them to a snapshot (see checkup.Check for the whole check-up in one call).
func ExampleList() {
	cfg, err := config.Defaults(config.Production)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range health.List(cfg) {
		if c.ID == "sessions.idle_in_transaction" {
			fmt.Println(c.ID, c.Severity, c.Title)
		}
	}
	fmt.Println(health.IsCheck("indexes.invalid"), health.IsCheck("indexes.imaginary"))
	// Output:
	// sessions.idle_in_transaction medium Sessions idle in an open transaction
	// true false
}
