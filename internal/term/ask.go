package term

import (
	"bufio"
	"fmt"
	"strings"
)

// Ask prints prompt on the terminal and reads one line, echoed, without
// its line end or surrounding spaces. An empty answer is "", end of input
// is ErrCancelled.
func Ask(prompt string) (string, error) {
	tty, err := open()
	if err != nil {
		return "", err
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	// The terminal is in canonical mode: one read returns at most one
	// line, so the reader takes nothing that belongs to a later prompt.
	line, err := bufio.NewReader(tty).ReadString('\n')
	if err != nil {
		return "", ErrCancelled
	}
	return strings.TrimSpace(line), nil
}

// AskYesNo asks a question that defaults to no: prompt should end in
// "[y/N] ". Only y or yes (any case) is a yes.
func AskYesNo(prompt string) (bool, error) {
	a, err := Ask(prompt)
	if err != nil {
		return false, err
	}
	a = strings.ToLower(a)
	return a == "y" || a == "yes", nil
}
