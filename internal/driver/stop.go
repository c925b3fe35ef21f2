package driver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// ExecMarker is the environment variable set on a command run in a
// container, so that a step that times out can find and stop it (and what it
// started): neither Docker's nor LXD's API can kill an exec'd process.
const ExecMarker = "EVERYWHERE_EXEC"

// NewExecMark is a value for ExecMarker unique to one command.
func NewExecMark() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// KillMarked is the argv, run in the same container, that sends SIGKILL to
// every process whose environment holds ExecMarker=mark. It needs only sh,
// tr and grep, and prints what it killed.
func KillMarked(mark string) []string {
	return []string{"sh", "-c", `for e in /proc/[0-9]*/environ; do
  if tr '\0' '\n' < "$e" 2>/dev/null | grep -qx "$1"; then p=${e#/proc/}; p=${p%/environ}; kill -KILL "$p" 2>/dev/null && echo "$p"; fi
done`, "sh", ExecMarker + "=" + mark}
}

// StopGrace bounds stopping a command whose step ended first.
const StopGrace = 30 * time.Second

// StopMarked kills the processes of an exec in container whose step ended
// (cause), found by mark: it runs KillMarked through exec, on t's detached
// context bounded by StopGrace, and returns what the step reports.
func StopMarked(ctx context.Context, t Target, container, mark string, cause error, exec func(ctx context.Context, argv []string) (stdout string, err error)) error {
	ctx, cancel := t.Detach(ctx, StopGrace)
	defer cancel()
	killed, err := exec(ctx, KillMarked(mark))
	if err != nil {
		return fmt.Errorf("exec in %s: %w; stopping the command failed: %v", container, cause, err)
	}
	return fmt.Errorf("exec in %s: killed pids %s: %w", container, strings.Join(strings.Fields(killed), " "), cause)
}
