package term

import (
	"bufio"
	"fmt"
	"strings"
)

// Confirm prints question on the terminal and reads one line; it reports
// whether the line is exactly answer (after trimming spaces), as a
// deliberate confirmation must be typed, not defaulted to.
func Confirm(question, answer string) (bool, error) {
	tty, err := open()
	if err != nil {
		return false, err
	}
	defer tty.Close()
	fmt.Fprint(tty, question)
	line, err := bufio.NewReader(tty).ReadString('\n')
	if err != nil && line == "" {
		return false, ErrCancelled
	}
	return strings.TrimSpace(line) == answer, nil
}
