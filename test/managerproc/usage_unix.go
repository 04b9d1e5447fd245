//go:build unix

package managerproc

import (
	"errors"
	"os"
	"runtime"
	"syscall"
)

// peakRSSOf returns an exited process's maximum resident set size in bytes.
func peakRSSOf(st *os.ProcessState) (uint64, error) {
	ru, ok := st.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0, errors.New("the exited process has no resource usage")
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return uint64(ru.Maxrss), nil // bytes there
	}
	return uint64(ru.Maxrss) * 1024, nil // KiB on Linux and the BSDs
}
