package finding

import (
	"fmt"
	"math"
	"strings"
)

// HumanBytes prints a size in binary units ("512 B", "1.5 MiB", "12 GiB"), the one
// form every finding, report and command uses.
func HumanBytes(b int64) string {
	const unit = 1024
	if b < unit && b > -unit {
		return fmt.Sprintf("%d B", b)
	}
	v := float64(b)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		v /= unit
		if math.Abs(v) < unit || u == "PiB" {
			s := fmt.Sprintf("%.1f", v)
			return strings.TrimSuffix(strings.TrimRight(s, "0"), ".") + " " + u
		}
	}
	return fmt.Sprintf("%d B", b) // not reached
}
