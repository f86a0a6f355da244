//go:build linux

package secret

import (
	"fmt"

	"golang.org/x/sys/unix"
)

func hold() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		return fmt.Errorf("disabling core dumps: setrlimit(RLIMIT_CORE): %v", err)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("disabling core dumps: prctl(PR_SET_DUMPABLE): %v", err)
	}
	return nil
}

func held() (bool, error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &lim); err != nil {
		return false, err
	}
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		return false, err
	}
	return lim.Cur == 0 && lim.Max == 0 && d == 0, nil
}
