package lxd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"everywhere/internal/driver"
	"everywhere/internal/engineapi"
	"everywhere/internal/host"
)

// DockerRun runs a Docker container inside an LXD instance ("containers all
// the way down", `lxc exec c1 -- docker run IMAGE CMD`): `lxd.docker_run:
// {image: everywhere/debian:bookworm, cmd: [uname, -m]}`. The instance needs
// Docker (the lab's LXD images carry docker.io) and nesting (the docker
// profile's security.nesting=true). An image the instance's Docker lacks is
// copied from the host's own Docker engine: docker save there, pushed into
// the instance with LXD's file API, docker load inside. No registry is
// asked.
type DockerRun struct {
	driver.Bound[*Driver] `yaml:"-"`
	Instance              string   `yaml:"instance"` // default: the instance this run launched last through this host
	Image                 string   `yaml:"image"`
	Cmd                   []string `yaml:"cmd"`
	AnyRun                bool     `yaml:"any_run"` // also in an instance this run did not create
}

// Validate checks the fields.
func (dr *DockerRun) Validate() error {
	if dr.Image == "" {
		return errors.New("image: missing")
	}
	return nil
}

// Command describes the step as it would be typed.
func (dr *DockerRun) Command() string {
	return (&Exec{Bound: dr.Bound, Instance: dr.Instance, Cmd: dr.dockerRun("RUN")}).Command()
}

func (dr *DockerRun) dockerRun(runID string) []string {
	return append([]string{"docker", "run", "--rm", "--label", engineapi.Label + "=" + runID, dr.Image}, dr.Cmd...)
}

// dockerWait is how often the instance's Docker is asked whether it is up:
// systemd starts it with the instance, after the launch step returned.
const dockerWait = time.Second

// Run waits for the instance's Docker, gives it the image if it lacks it,
// then runs the container (removed when it ends).
func (dr *DockerRun) Run(ctx context.Context, t driver.Target, limit int) (*host.Output, error) {
	s, name, err := dr.Driver().instanceFor(ctx, t, dr.Instance, dr.AnyRun)
	if err != nil {
		return nil, err
	}
	if err := s.waitForDocker(ctx, name); err != nil {
		return nil, err
	}
	if code, _, _ := s.quiet(ctx, name, "docker", "image", "inspect", "--format", "{{.Id}}", dr.Image); code != 0 {
		if err := dr.Driver().copyImage(ctx, t, s, name, dr.Image); err != nil {
			return nil, err
		}
	}
	out := host.NewOutputFor(ctx, limit)
	return out, s.exec(ctx, t, name, dr.dockerRun(t.RunID()), out)
}

// quiet runs a short command of the step's own in the instance: its exit
// code (-1 when it could not run) and output.
func (s *server) quiet(ctx context.Context, name string, argv ...string) (int, string, error) {
	var out strings.Builder
	code, err := s.Client.Exec(ctx, name, argv, nil, &out, &out)
	if err != nil {
		return -1, "", err
	}
	return code, strings.TrimSpace(out.String()), nil
}

// waitForDocker waits while the instance's Docker engine is not up yet
// (the CLI cannot reach its socket); any other failure of the CLI fails the
// step at once, with what it said.
func (s *server) waitForDocker(ctx context.Context, name string) error {
	var last string
	for {
		code, out, err := s.quiet(ctx, name, "docker", "version", "--format", "{{.Server.Version}}")
		switch {
		case err != nil && ctx.Err() == nil:
			return fmt.Errorf("instance %s has no docker command (%v): its image needs docker.io", name, err)
		case code == 127:
			return fmt.Errorf("instance %s has no docker command: its image needs docker.io", name)
		case code == 0:
			return nil
		case err == nil && !daemonNotUp(out):
			return fmt.Errorf("docker in instance %s fails (exit %d): %s", name, code, firstLines(out, 3))
		}
		last = out
		select {
		case <-ctx.Done():
			return fmt.Errorf("Docker in instance %s did not answer (last: %q; a launch without -p docker's security.nesting=true cannot run it): %w", name, firstLines(last, 3), ctx.Err())
		case <-time.After(dockerWait):
		}
	}
}

// daemonNotUp says whether the docker CLI's output is that of an engine
// not (yet) listening on its socket.
func daemonNotUp(out string) bool {
	return strings.Contains(out, "Cannot connect to the Docker daemon") || strings.Contains(out, "Is the docker daemon running")
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines[n] = "…"
	}
	return strings.Join(lines, " / ")
}

// copyImage gives the instance's Docker the host engine's image ref.
func (d *Driver) copyImage(ctx context.Context, t driver.Target, s *server, name, ref string) error {
	if d.opts.Images == nil {
		return fmt.Errorf("image %q is not in %s and no engine of the host's is given to copy it from", ref, name)
	}
	archive, err := d.opts.Images.SaveImage(ctx, t, ref)
	if err != nil {
		return fmt.Errorf("image %q for Docker in %s: %w", ref, name, err)
	}
	defer archive.Close()
	file := "/var/tmp/everywhere-" + t.RunID() + "-image.tar"
	if err := s.PushFile(ctx, name, file, archive, 0o600); err != nil {
		return err
	}
	code, out, err := s.quiet(ctx, name, "sh", "-c", `docker load -i "$0"; code=$?; rm -f "$0"; exit $code`, file)
	if err == nil && code != 0 {
		err = fmt.Errorf("exit %d: %s", code, out)
	}
	if err != nil {
		return fmt.Errorf("docker load of %q in %s: %w", ref, name, err)
	}
	return nil
}
