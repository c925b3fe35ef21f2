package sshconfig

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// openSSH asks ssh itself: ssh -G with the config file, user and port ssh
// would be given, within the Config's timeout. Match exec then runs as ssh
// runs it.
func (c *Config) openSSH(ctx context.Context, q Query) (Settings, error) {
	args := []string{"-G"}
	if c.file != "" {
		args = append(args, "-F", c.file)
	}
	if q.User != "" {
		args = append(args, "-l", q.User)
	}
	if q.Port != 0 {
		args = append(args, "-p", strconv.Itoa(q.Port))
	}
	args = append(args, "--", q.Alias)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.ssh, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Its own process group, so that a Match exec command it runs goes
	// with it on timeout; only the group we started is signalled.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return Settings{}, fmt.Errorf("ssh config: ssh %s: no answer within %v (a Match exec that hangs?)", strings.Join(args, " "), c.timeout)
	case ctx.Err() != nil:
		return Settings{}, ctx.Err()
	case err != nil:
		return Settings{}, sshError(args, stderr.String(), err)
	}
	return c.parseDump(q, stdout.String())
}

// sshLine is how ssh words an error in a file: "FILE line N: why" (some
// messages have "FILE: line N: why").
var sshLine = regexp.MustCompile(`^(.*?):? line (\d+): (.*)$`)

// sshError turns what ssh said into an error naming the file and line;
// ssh's own summary ("terminating, 1 bad configuration options") is left
// out.
func sshError(args []string, stderr string, err error) error {
	var reasons []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "", strings.Contains(l, "terminating, "), strings.HasPrefix(l, "Pseudo-terminal will not be allocated"):
			continue
		}
		if m := sshLine.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[2])
			return &errorAt{file: m[1], line: n, reason: m[3]}
		}
		reasons = append(reasons, l)
	}
	if len(reasons) == 0 {
		reasons = []string{err.Error()}
	}
	return fmt.Errorf("%w: ssh %s: %s", ErrConfig, strings.Join(args, " "), strings.Join(reasons, "; "))
}

// parseDump reads ssh -G's output for q.
func (c *Config) parseDump(q Query, out string) (Settings, error) {
	values := map[string][]string{}
	for _, l := range strings.Split(out, "\n") {
		key, value, ok := strings.Cut(l, " ")
		if ok {
			values[key] = append(values[key], value)
		}
	}
	one := func(key string) string {
		if v := values[key]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	s := Settings{Alias: q.Alias, HostName: one("hostname"), User: one("user"), Resolver: ResolverOpenSSH,
		IdentityFiles: values["identityfile"], CertificateFiles: values["certificatefile"],
		IdentitiesOnly: one("identitiesonly") == "yes", IdentityAgent: one("identityagent"),
		HostKeyAlias: one("hostkeyalias"), ProxyJump: one("proxyjump"), ProxyCommand: one("proxycommand")}
	var err error
	if s.Port, err = strconv.Atoi(one("port")); err != nil {
		return Settings{}, fmt.Errorf("ssh -G %s: port %q", q.Alias, one("port"))
	}
	s.StrictHostKeyChecking = map[string]string{"true": "yes", "false": "no", "accept-new": "accept-new"}[one("stricthostkeychecking")]
	for key, dst := range map[string]*time.Duration{"connecttimeout": &s.ConnectTimeout, "serveraliveinterval": &s.ServerAliveInterval} {
		if n, err := strconv.Atoi(one(key)); err == nil && n > 0 {
			*dst = time.Duration(n) * time.Second
		}
	}
	s.UserKnownHostsFiles = c.pathList(q, "userknownhostsfile", one("userknownhostsfile"))
	s.GlobalKnownHostsFiles = c.pathList(q, "globalknownhostsfile", one("globalknownhostsfile"))
	return s, nil
}

// pathList splits ssh -G's one-line list of files. ssh joins them with
// spaces, so a path with a space in it is ambiguous: the builtin's reading
// of the same files settles it when it agrees; else a run of words that
// names an existing file is one path.
func (c *Config) pathList(q Query, key, line string) []string {
	if line == "" || line == "none" {
		return nil
	}
	words := strings.Split(line, " ")
	if len(words) == 1 {
		return words
	}
	if mine, err := c.builtinWith(context.Background(), q, true); err == nil {
		if v, ok := mine.field(key).([]string); ok && strings.Join(v, " ") == line {
			return v
		}
	}
	var paths []string
	for i := 0; i < len(words); {
		j := len(words)
		for ; j > i+1; j-- {
			if _, err := os.Stat(strings.Join(words[i:j], " ")); err == nil {
				break
			}
		}
		paths = append(paths, strings.Join(words[i:j], " "))
		i = j
	}
	return paths
}
