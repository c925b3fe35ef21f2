package main

import (
	"fmt"

	"everywhere/internal/result"
)

// usageError is bad input from the user: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitCode carries a run's result code out of a command without printing.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// finish turns a result into the command's exit status.
func finish(res *result.Result) error {
	if code := res.ExitCode(); code != result.ExitOK {
		return exitCode(code)
	}
	return nil
}
