package healthcare_test

import (
	"fmt"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/healthcare"
)

// The classifier says which columns hold PHI, from their names and types, with the
// configuration's overrides applied.
func ExampleClassifier_Column() {
	cls, err := healthcare.New(config.Healthcare{NotPHI: []string{"providers.npi"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range [][3]string{{"patients", "date_of_birth", "date"}, {"patients", "mrn", "text"}, {"providers", "npi", "text"}} {
		ms := cls.Column(c[0], c[1], c[2])
		if len(ms) == 0 {
			fmt.Printf("%s.%s: not PHI\n", c[0], c[1])
			continue
		}
		fmt.Printf("%s.%s: %s\n", c[0], c[1], ms[0].Identifier)
	}
	// Output:
	// patients.date_of_birth: date
	// patients.mrn: medical_record_number
	// providers.npi: not PHI
}
