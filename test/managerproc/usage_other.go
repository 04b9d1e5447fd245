//go:build !unix

package managerproc

import (
	"errors"
	"os"
)

// peakRSSOf is not available without getrusage.
func peakRSSOf(*os.ProcessState) (uint64, error) {
	return 0, errors.New("peak resident set size of an exited process: not supported on this platform")
}
