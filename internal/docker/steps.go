package docker

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/stdcopy"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"everywhere/internal/driver"
	"everywhere/internal/host"
)

// removeGrace bounds removing a container after its step was cancelled.
const removeGrace = 30 * time.Second

// Version reports the engine: `docker.version: {}`.
type Version struct {
	driver.Bound[*Driver] `yaml:"-"`
}

// Command describes the step.
func (v *Version) Command() string { return v.Driver().opts.CLI + " version" }

// Run reports the engine's versions and platform, as asked when connecting.
func (v *Version) Run(ctx context.Context, t driver.Target, limit int) (*host.Output, error) {
	e, err := v.Driver().connect(ctx, t)
	if err != nil {
		return nil, err
	}
	ver := e.Version
	out := host.NewOutputFor(ctx, limit)
	fmt.Fprintf(&out.Stdout, "%s (Docker API %s; client speaks %s)\n%s/%s, kernel %s\n", e.Product(), ver.APIVersion, e.ClientVersion(), ver.Os, ver.Arch, ver.KernelVersion)
	// Honest about emulation and about plain TCP.
	if note := e.note(t.Host().Arch); note != "" {
		fmt.Fprintln(&out.Stdout, note)
	}
	return out, nil
}

// Images lists the engine's images with their architectures:
// `docker.images: {reference: debian}`.
type Images struct {
	driver.Bound[*Driver] `yaml:"-"`
	Reference             string `yaml:"reference"` // only images matching this reference pattern
}

// Command describes the step.
func (i *Images) Command() string {
	return strings.TrimSpace(i.Driver().opts.CLI + " images " + i.Reference)
}

// Run lists the images, sorted by name.
func (i *Images) Run(ctx context.Context, t driver.Target, limit int) (*host.Output, error) {
	e, err := i.Driver().connect(ctx, t)
	if err != nil {
		return nil, err
	}
	opts := image.ListOptions{}
	if i.Reference != "" {
		opts.Filters = filters.NewArgs(filters.Arg("reference", i.Reference))
	}
	list, err := e.ImageList(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	var rows []string
	for _, img := range list {
		arch := "?"
		if inspect, err := e.ImageInspect(ctx, img.ID); err == nil {
			arch = inspect.Architecture
			if inspect.Variant != "" {
				arch += "/" + inspect.Variant
			}
		}
		names := img.RepoTags
		if len(names) == 0 {
			names = []string{"<none>"}
		}
		for _, name := range names {
			rows = append(rows, fmt.Sprintf("%s  %s  %s  %s", name, shortID(img.ID), arch, humanSize(img.Size)))
		}
	}
	sort.Strings(rows)
	out := host.NewOutputFor(ctx, limit)
	for _, r := range rows {
		fmt.Fprintln(&out.Stdout, r)
	}
	return out, nil
}

// Run runs a command in a new container and removes it afterwards unless
// Keep: `docker.run: {image: debian, cmd: [uname, -m]}`.
type Run struct {
	driver.Bound[*Driver] `yaml:"-"`
	Image                 string   `yaml:"image"`
	Cmd                   []string `yaml:"cmd"`
	Env                   []string `yaml:"env"`
	Platform              string   `yaml:"platform"` // os/arch[/variant], e.g. linux/arm64
	Name                  string   `yaml:"name"`
	Keep                  bool     `yaml:"keep"`   // leave the container for docker.exec; remove it with docker.rm in cleanup
	Detach                bool     `yaml:"detach"` // start it and go on (it is kept): what docker.exec then runs in
	Pull                  bool     `yaml:"pull"`   // pull the image first; never done implicitly
}

func (r *Run) Validate() error {
	if r.Image == "" {
		return fmt.Errorf("image: missing")
	}
	if r.Detach {
		r.Keep = true
	}
	if r.Keep && r.Name == "" {
		return fmt.Errorf("keep: true (or detach: true) needs a name: for docker.exec and docker.rm to find it")
	}
	if r.Platform != "" {
		if _, err := parsePlatform(r.Platform); err != nil {
			return err
		}
	}
	return nil
}

// Command describes the step as docker would be called.
func (r *Run) Command() string {
	return strings.TrimSpace(r.Driver().opts.CLI + " run " + r.Image + " " + host.ShellQuote(r.Cmd))
}

// Run creates, starts, waits for and removes the container. Its output is
// read from the engine's log of it.
func (r *Run) Run(ctx context.Context, t driver.Target, limit int) (*host.Output, error) {
	e, err := r.Driver().connect(ctx, t)
	if err != nil {
		return nil, err
	}
	if r.Pull {
		if err := e.pull(ctx, r.Image, r.Platform); err != nil {
			return nil, err
		}
	} else if err := e.requireImage(ctx, r.Image); err != nil {
		return nil, err
	}
	var platform *ocispec.Platform
	if r.Platform != "" {
		p, _ := parsePlatform(r.Platform)
		platform = &p
	}
	labels := map[string]string{Label: t.RunID(), StepLabel: driver.NewExecMark()}
	created, err := e.ContainerCreate(ctx, &container.Config{Image: r.Image, Cmd: r.Cmd, Env: r.Env, Labels: labels},
		&container.HostConfig{}, nil, platform, r.Name)
	if err != nil {
		if ctx.Err() != nil {
			// The engine may finish creating it after the request was cut short.
			e.removeCreated(ctx, t, labels)
		}
		return nil, fmt.Errorf("creating container: %w", err)
	}
	if !r.Keep {
		// Removed also when the step fails or is cancelled: on a context of its own.
		defer func() {
			rmCtx, cancel := t.Detach(ctx, removeGrace)
			defer cancel()
			_ = e.ContainerRemove(rmCtx, created.ID, container.RemoveOptions{Force: true})
		}()
	}
	if r.Detach {
		if err := e.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
			return nil, fmt.Errorf("starting container %s: %w", r.Name, err)
		}
		out := host.NewOutputFor(ctx, limit)
		fmt.Fprintf(&out.Stdout, "%s %s started\n", r.Name, shortID(created.ID))
		return out, nil
	}
	waitOK, waitErr := e.ContainerWait(ctx, created.ID, container.WaitConditionNextExit)
	if err := e.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return nil, fmt.Errorf("starting container: %w", err)
	}
	out := host.NewOutputFor(ctx, limit)
	select {
	case status := <-waitOK:
		out.ExitCode = int(status.StatusCode)
		if status.Error != nil {
			return nil, fmt.Errorf("waiting for container: %s", status.Error.Message)
		}
	case err := <-waitErr:
		return nil, fmt.Errorf("waiting for container: %w", err)
	}
	if err := e.logs(ctx, created.ID, out); err != nil {
		return out, err
	}
	return out, nil
}

// StepLabel tells one step's container from others of its run (on an
// engine that several hosts share), for removing what a cancelled create
// made.
const StepLabel = "io.everywhere.step"

// removeCreated removes, on a context of its own, the containers of this
// step (found by its labels) that the engine made after ctx ended.
func (e *engine) removeCreated(ctx context.Context, t driver.Target, labels map[string]string) {
	ctx, cancel := t.Detach(ctx, removeGrace)
	defer cancel()
	args := filters.NewArgs()
	for k, v := range labels {
		args.Add("label", k+"="+v)
	}
	// Give the engine the time it takes to finish what it was asked.
	for range 3 {
		list, err := e.ContainerList(ctx, container.ListOptions{All: true, Filters: args})
		if err != nil {
			return
		}
		for _, c := range list {
			_ = e.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (e *engine) logs(ctx context.Context, id string, out *host.Output) error {
	rc, err := e.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return fmt.Errorf("reading container output: %w", err)
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(&out.Stdout, &out.Stderr, rc); err != nil {
		return fmt.Errorf("reading container output: %w", err)
	}
	return nil
}

func (e *engine) pull(ctx context.Context, ref, platform string) error {
	rc, err := e.ImagePull(ctx, ref, image.PullOptions{Platform: platform})
	if err != nil {
		return fmt.Errorf("pulling %q: %w", ref, err)
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

// Exec runs a command in a kept container: `docker.exec: {container: c1, cmd: [ip, addr]}`.
type Exec struct {
	driver.Bound[*Driver] `yaml:"-"`
	Container             string   `yaml:"container"`
	Cmd                   []string `yaml:"cmd"`
}

func (x *Exec) Validate() error {
	if x.Container == "" || len(x.Cmd) == 0 {
		return fmt.Errorf("needs container and cmd")
	}
	return nil
}

// Command describes the step as docker would be called.
func (x *Exec) Command() string {
	return x.Driver().opts.CLI + " exec " + x.Container + " " + host.ShellQuote(x.Cmd)
}

// Run executes the command and returns its output and exit code. When the
// step ends first, the command and what it started are killed.
func (x *Exec) Run(ctx context.Context, t driver.Target, limit int) (*host.Output, error) {
	e, err := x.Driver().connect(ctx, t)
	if err != nil {
		return nil, err
	}
	mark := driver.NewExecMark()
	out, err := e.exec(ctx, x.Container, x.Cmd, []string{driver.ExecMarker + "=" + mark}, limit)
	if err != nil && ctx.Err() != nil {
		return out, driver.StopMarked(ctx, t, x.Container, mark, err, func(ctx context.Context, argv []string) (string, error) {
			killed, err := e.exec(ctx, x.Container, argv, nil, 4096)
			if err != nil {
				return "", err
			}
			return killed.Stdout.String(), nil
		})
	}
	return out, err
}

// exec runs cmd in a running container and waits for it, or for ctx.
func (e *engine) exec(ctx context.Context, containerID string, cmd, env []string, limit int) (*host.Output, error) {
	created, err := e.ContainerExecCreate(ctx, containerID, container.ExecOptions{Cmd: cmd, Env: env, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return nil, fmt.Errorf("exec in %s: %w", containerID, err)
	}
	attached, err := e.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return nil, fmt.Errorf("exec in %s: %w", containerID, err)
	}
	defer attached.Close()
	out := host.NewOutputFor(ctx, limit)
	copied := make(chan error, 1)
	go func() { _, err := stdcopy.StdCopy(&out.Stdout, &out.Stderr, attached.Reader); copied <- err }()
	select {
	case err := <-copied:
		if err != nil {
			return out, fmt.Errorf("exec output: %w", err)
		}
	case <-ctx.Done():
		return out, ctx.Err()
	}
	inspect, err := e.ContainerExecInspect(ctx, created.ID)
	if err != nil {
		return out, fmt.Errorf("exec status: %w", err)
	}
	out.ExitCode = inspect.ExitCode
	return out, nil
}

// Remove removes a container, running or not; one already gone is fine,
// so cleanup can always run it: `docker.rm: {container: c1}`.
type Remove struct {
	driver.Bound[*Driver] `yaml:"-"`
	Container             string `yaml:"container"`
}

func (rm *Remove) Validate() error {
	if rm.Container == "" {
		return fmt.Errorf("container: missing")
	}
	return nil
}

// Command describes the step as docker would be called.
func (rm *Remove) Command() string { return rm.Driver().opts.CLI + " rm -f " + rm.Container }

// Run removes the container.
func (rm *Remove) Run(ctx context.Context, t driver.Target, limit int) (*host.Output, error) {
	e, err := rm.Driver().connect(ctx, t)
	if err != nil {
		return nil, err
	}
	out := host.NewOutputFor(ctx, limit)
	err = e.ContainerRemove(ctx, rm.Container, container.RemoveOptions{Force: true})
	switch {
	case cerrdefs.IsNotFound(err):
		fmt.Fprintf(&out.Stdout, "%s: already gone\n", rm.Container)
	case err != nil:
		return nil, fmt.Errorf("removing %s: %w", rm.Container, err)
	default:
		fmt.Fprintf(&out.Stdout, "%s: removed\n", rm.Container)
	}
	return out, nil
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	return id[:min(12, len(id))]
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%dkB", n>>10)
}
