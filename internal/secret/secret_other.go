//go:build !linux && unix

package secret

import (
	"fmt"

	"golang.org/x/sys/unix"
)

func hold() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		return fmt.Errorf("disabling core dumps: setrlimit(RLIMIT_CORE): %v", err)
	}
	return nil
}

func held() (bool, error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &lim); err != nil {
		return false, err
	}
	return lim.Cur == 0 && lim.Max == 0, nil
}
