package docker

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/docker/docker/pkg/stdcopy"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"everywhere/internal/driver"
	"everywhere/internal/host"
)

// filesImageRepo names the images startContainer makes of a spec's files
// alone; the tag is their digest, so each is loaded once per engine.
const filesImageRepo = "everywhere/files"

// startContainer starts a container for a step of another driver
// (net.matrix), and waits for its command's first line.
func (d *Driver) startContainer(ctx context.Context, t driver.Target, spec driver.ContainerSpec) (driver.Container, error) {
	if len(spec.Cmd) == 0 {
		return nil, errors.New("no command to run in the container")
	}
	e, err := d.connect(ctx, t)
	if err != nil {
		return nil, err
	}
	platform := Platform(t.Host().Arch)
	ref := spec.Image
	if ref == "" {
		if ref, err = e.loadFilesImage(ctx, spec.Files, platform); err != nil {
			return nil, err
		}
	} else if err := e.requireImage(ctx, ref); err != nil {
		return nil, err
	}
	networkName := spec.Network
	if networkName == "" {
		networkName = "bridge"
	}
	created, err := e.ContainerCreate(ctx,
		&container.Config{Image: ref, Entrypoint: spec.Cmd[:1], Cmd: spec.Cmd[1:], Labels: map[string]string{Label: t.RunID()}},
		&container.HostConfig{NetworkMode: container.NetworkMode(networkName)}, nil, &platform, "")
	if err != nil {
		return nil, fmt.Errorf("creating container of %s: %w", ref, err)
	}
	c := &dockerContainer{e: e, id: created.ID}
	ok := false
	defer func() {
		if !ok {
			rmCtx, cancel := t.Detach(ctx, removeGrace)
			defer cancel()
			_ = c.Remove(rmCtx)
		}
	}()
	if spec.Image != "" && len(spec.Files) > 0 {
		var layer bytes.Buffer
		tw := tar.NewWriter(&layer)
		if err := Files(spec.Files)(tw); err != nil {
			return nil, err
		}
		if err := tw.Close(); err != nil {
			return nil, err
		}
		if err := e.CopyToContainer(ctx, created.ID, "/", &layer, container.CopyToContainerOptions{}); err != nil {
			return nil, fmt.Errorf("copying files into container %s: %w", c.Name(), err)
		}
	}
	if err := e.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return nil, fmt.Errorf("starting container %s: %w", c.Name(), err)
	}
	readyCtx, cancel := context.WithTimeout(ctx, driver.ReadyWait)
	c.ready, err = e.firstLine(readyCtx, created.ID)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.Name(), err)
	}
	info, err := e.ContainerInspect(ctx, created.ID)
	if err != nil {
		return nil, fmt.Errorf("inspecting container %s: %w", c.Name(), err)
	}
	if info.NetworkSettings != nil && info.NetworkSettings.Networks[networkName] != nil {
		c.address = info.NetworkSettings.Networks[networkName].IPAddress
	}
	if c.address == "" {
		return nil, fmt.Errorf("container %s has no IPv4 address on network %q", c.Name(), networkName)
	}
	ok = true
	return c, nil
}

// loadFilesImage loads (unless the engine has it) an image of files alone,
// for the host's platform: a static binary then needs nothing of any image.
func (e *engine) loadFilesImage(ctx context.Context, files []driver.File, p ocispec.Platform) (string, error) {
	digest := sha256.New()
	for _, f := range files {
		fmt.Fprintf(digest, "%s %o %d\n", f.Path, f.Mode, len(f.Data))
		digest.Write(f.Data)
	}
	fmt.Fprintf(digest, "%s/%s/%s", p.OS, p.Architecture, p.Variant)
	ref := filesImageRepo + ":" + hex.EncodeToString(digest.Sum(nil))[:16]
	if _, err := e.ImageInspect(ctx, ref); err == nil {
		return ref, nil
	} else if !cerrdefs.IsNotFound(err) {
		return "", fmt.Errorf("inspecting image %q: %w", ref, err)
	}
	var archive bytes.Buffer
	if err := WriteImage(&archive, ref, p, nil, nil, Files(files)); err != nil {
		return "", err
	}
	if err := LoadImage(ctx, e, &archive); err != nil {
		return "", fmt.Errorf("loading image %s: %w", ref, err)
	}
	return ref, nil
}

// ImageLoader is the part of an Engine-API client that loads images.
type ImageLoader interface {
	ImageLoad(ctx context.Context, input io.Reader, opts ...client.ImageLoadOption) (image.LoadResponse, error)
}

// LoadImage loads an image archive (WriteImage's) into an engine, and
// returns once the engine has read all of it, or says why it did not.
func LoadImage(ctx context.Context, engine ImageLoader, archive io.Reader) error {
	resp, err := engine.ImageLoad(ctx, archive)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return jsonmessage.DisplayJSONMessagesStream(resp.Body, io.Discard, 0, false, nil)
}

// firstLine follows the container's output until its first line on
// standard output; a container that exits first is an error with its output.
func (e *engine) firstLine(ctx context.Context, id string) (string, error) {
	rc, err := e.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		return "", fmt.Errorf("reading its output: %w", err)
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	defer pr.Close() // the copy below stops with it
	var stderr bytes.Buffer
	go func() { _, err := stdcopy.StdCopy(pw, &stderr, rc); pw.CloseWithError(err) }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("no line from its command: %w", ctx.Err())
		}
		said := strings.TrimSpace(stderr.String())
		return "", fmt.Errorf("its command ended before it was ready: %q", said[:min(len(said), 2048)])
	}
	return strings.TrimSpace(line), nil
}

type dockerContainer struct {
	e       *engine
	id      string
	address string
	ready   string
}

func (c *dockerContainer) Name() string    { return shortID(c.id) }
func (c *dockerContainer) Address() string { return c.address }
func (c *dockerContainer) Ready() string   { return c.ready }

// Exec runs argv and waits for it or for ctx; what it started is ended
// by Remove, which the step always calls.
func (c *dockerContainer) Exec(ctx context.Context, argv []string, limit int) (*host.Output, error) {
	return c.e.exec(ctx, c.id, argv, nil, limit)
}

func (c *dockerContainer) Remove(ctx context.Context) error {
	err := c.e.ContainerRemove(ctx, c.id, container.RemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("removing container %s: %w", c.Name(), err)
	}
	return nil
}
