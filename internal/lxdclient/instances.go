package lxdclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Instance is what `lxc list` shows of one instance.
type Instance struct {
	Name         string            `json:"name"`
	Status       string            `json:"status"`
	Type         string            `json:"type"`
	Architecture string            `json:"architecture"`
	Profiles     []string          `json:"profiles"`
	Config       map[string]string `json:"config"`
	State        *struct {
		Network map[string]struct {
			Addresses []struct {
				Family  string `json:"family"`
				Address string `json:"address"`
				Scope   string `json:"scope"`
			} `json:"addresses"`
		} `json:"network"`
	} `json:"state"`
}

// IPv4 lists the instance's global IPv4 addresses as "ADDRESS (IFACE)".
func (i Instance) IPv4() []string {
	var out []string
	i.eachIPv4(func(iface, address string) { out = append(out, address+" ("+iface+")") })
	sort.Strings(out)
	return out
}

// IPv4On is the instance's global IPv4 address on iface, else the lowest
// it has on any, else "".
func (i Instance) IPv4On(iface string) string {
	var on, lowest string
	i.eachIPv4(func(name, address string) {
		if name == iface {
			on = address
		}
		if lowest == "" || address < lowest {
			lowest = address
		}
	})
	if on != "" {
		return on
	}
	return lowest
}

func (i Instance) eachIPv4(f func(iface, address string)) {
	if i.State == nil {
		return
	}
	for iface, n := range i.State.Network {
		for _, a := range n.Addresses {
			if a.Family == "inet" && a.Scope == "global" {
				f(iface, a.Address)
			}
		}
	}
}

// Instances lists every instance with its state (GET ?recursion=2).
func (c *Client) Instances(ctx context.Context) ([]Instance, error) {
	var list []Instance
	_, err := c.do(ctx, http.MethodGet, "/1.0/instances?recursion=2", nil, &list)
	sort.Slice(list, func(a, b int) bool { return list[a].Name < list[b].Name })
	return list, err
}

// Instance returns one instance with its state.
func (c *Client) Instance(ctx context.Context, name string) (*Instance, error) {
	var i Instance
	if _, err := c.do(ctx, http.MethodGet, "/1.0/instances/"+url.PathEscape(name)+"?recursion=1", nil, &i); err != nil {
		return nil, err
	}
	var state struct {
		Network json.RawMessage `json:"network"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/1.0/instances/"+url.PathEscape(name)+"/state", nil, &state); err != nil {
		return nil, err
	}
	i.State = nil
	if len(state.Network) > 0 {
		_ = json.Unmarshal([]byte(`{"network":`+string(state.Network)+`}`), &i.State)
	}
	return &i, nil
}

// InstanceSource says what an instance is created from.
type InstanceSource struct {
	Type        string `json:"type"` // image
	Alias       string `json:"alias,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// CreateInstance is the body of POST /1.0/instances.
type CreateInstance struct {
	Name     string            `json:"name"`
	Type     string            `json:"type"` // container
	Source   InstanceSource    `json:"source"`
	Profiles []string          `json:"profiles"`
	Config   map[string]string `json:"config,omitempty"`
}

// Create asks the server to create an instance and returns the creation's
// operation, to Wait for: the instance exists once that succeeds.
func (c *Client) Create(ctx context.Context, req CreateInstance) (string, error) {
	return c.do(ctx, http.MethodPost, "/1.0/instances", req, nil)
}

// SetState starts or stops an instance and waits for it.
func (c *Client) SetState(ctx context.Context, name, action string, force bool) error {
	_, err := c.act(ctx, http.MethodPut, "/1.0/instances/"+url.PathEscape(name)+"/state",
		map[string]any{"action": action, "timeout": 30, "force": force})
	return err
}

// Delete stops (forcibly) and deletes an instance.
func (c *Client) Delete(ctx context.Context, name string) error {
	i, err := c.Instance(ctx, name)
	if err != nil {
		return err
	}
	// LXD gives a stop 30 s; an emulated machine's forced stop of an
	// instance running Docker took longer, and went on: asked again while
	// ctx lasts.
	for i.Status != "Stopped" {
		err := c.SetState(ctx, name, "stop", true)
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "timed out") || ctx.Err() != nil {
			return fmt.Errorf("stopping %s: %w", name, err)
		}
		if i, err = c.Instance(ctx, name); err != nil {
			return err
		}
	}
	// An instance whose start failed is briefly busy with LXD's own stop.
	for {
		_, err = c.act(ctx, http.MethodDelete, "/1.0/instances/"+url.PathEscape(name), nil)
		if err == nil || !strings.Contains(err.Error(), "is busy") {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Exec runs command in the instance without websockets: LXD records the
// output to log files, which are read into stdout and stderr and deleted.
// env adds to the command's environment.
func (c *Client) Exec(ctx context.Context, name string, command []string, env map[string]string, stdout, stderr io.Writer) (int, error) {
	environment := map[string]string{"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	maps.Copy(environment, env)
	op, err := c.act(ctx, http.MethodPost, "/1.0/instances/"+url.PathEscape(name)+"/exec", map[string]any{
		"command": command, "wait-for-websocket": false, "interactive": false, "record-output": true,
		"environment": environment,
	})
	if err != nil {
		return 0, err
	}
	var meta struct {
		Return int               `json:"return"`
		Output map[string]string `json:"output"`
	}
	if err := json.Unmarshal(op.Metadata, &meta); err != nil {
		return 0, fmt.Errorf("exec result: %w", err)
	}
	for fd, w := range map[string]io.Writer{"1": stdout, "2": stderr} {
		path := meta.Output[fd]
		if path == "" {
			continue
		}
		if err := c.fetch(ctx, path, w); err != nil {
			return meta.Return, err
		}
		_, _ = c.do(ctx, http.MethodDelete, path, nil, nil)
	}
	return meta.Return, nil
}

// fetch copies a raw file of the server (an exec log) into w.
func (c *Client) fetch(ctx context.Context, path string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", c.where, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: GET %s: %s", c.where, path, resp.Status)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// ImageAlias resolves an alias to an image fingerprint.
func (c *Client) ImageAlias(ctx context.Context, alias string) (string, error) {
	var a struct {
		Target string `json:"target"`
	}
	_, err := c.do(ctx, http.MethodGet, "/1.0/images/aliases/"+url.PathEscape(alias), nil, &a)
	return a.Target, err
}

// Image is what the server knows of an image.
type Image struct {
	Fingerprint  string            `json:"fingerprint"`
	Architecture string            `json:"architecture"`
	Properties   map[string]string `json:"properties"`
}

// Image returns an image by fingerprint.
func (c *Client) Image(ctx context.Context, fingerprint string) (*Image, error) {
	var img Image
	_, err := c.do(ctx, http.MethodGet, "/1.0/images/"+url.PathEscape(fingerprint), nil, &img)
	return &img, err
}

// DeleteImage deletes an image (its aliases go with it).
func (c *Client) DeleteImage(ctx context.Context, fingerprint string) error {
	_, err := c.act(ctx, http.MethodDelete, "/1.0/images/"+url.PathEscape(fingerprint), nil)
	return err
}

// ProfileExists says whether a profile exists.
func (c *Client) ProfileExists(ctx context.Context, name string) (bool, error) {
	_, err := c.do(ctx, http.MethodGet, "/1.0/profiles/"+url.PathEscape(name), nil, nil)
	if IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// CreateProfile creates a profile with config.
func (c *Client) CreateProfile(ctx context.Context, name, description string, config map[string]string) error {
	_, err := c.do(ctx, http.MethodPost, "/1.0/profiles", map[string]any{"name": name, "description": description, "config": config}, nil)
	return err
}

// ImportImage uploads a unified image tarball (metadata.yaml and rootfs/)
// and gives it alias.
func (c *Client) ImportImage(ctx context.Context, tarball io.Reader, alias string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/1.0/images", tarball)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	op, err := c.send(req, nil)
	if err != nil {
		return "", err
	}
	done, err := c.Wait(ctx, op)
	if err != nil {
		return "", fmt.Errorf("importing image: %w", err)
	}
	var meta struct {
		Fingerprint string `json:"fingerprint"`
	}
	if err := json.Unmarshal(done.Metadata, &meta); err != nil || meta.Fingerprint == "" {
		return "", fmt.Errorf("importing image: no fingerprint in %s", done.Metadata)
	}
	_, err = c.do(ctx, http.MethodPost, "/1.0/images/aliases", map[string]string{"name": alias, "target": meta.Fingerprint}, nil)
	return meta.Fingerprint, err
}

// WaitRunning polls until the instance runs and, with ipv4, has a global
// IPv4 address, or ctx ends.
func (c *Client) WaitRunning(ctx context.Context, name string, ipv4 bool) (*Instance, error) {
	for {
		i, err := c.Instance(ctx, name)
		if err != nil {
			return nil, err
		}
		if i.Status == "Running" && (!ipv4 || len(i.IPv4()) > 0) {
			return i, nil
		}
		select {
		case <-ctx.Done():
			want := "RUNNING"
			if ipv4 {
				want += " with an IPv4 address"
			}
			return i, fmt.Errorf("instance %s is %s, not %s: %w", name, strings.ToUpper(i.Status), want, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Configure sets server configuration keys and, when certificate (base64
// DER) is given, trusts it as a client: `lxc config set` and `lxc config
// trust add`.
func (c *Client) Configure(ctx context.Context, config map[string]string, certificate string) error {
	if _, err := c.do(ctx, http.MethodPatch, "/1.0", map[string]any{"config": config}, nil); err != nil {
		return err
	}
	if certificate == "" {
		return nil
	}
	_, err := c.do(ctx, http.MethodPost, "/1.0/certificates", map[string]string{"type": "client", "certificate": certificate, "name": "everywhere"}, nil)
	return err
}

// PushFile writes r to path in the instance (LXD's file API, as `lxc file
// push` does), owned by root with mode.
func (c *Client) PushFile(ctx context.Context, name, path string, r io.Reader, mode fs.FileMode) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/1.0/instances/"+url.PathEscape(name)+"/files?path="+url.QueryEscape(path), r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	// LXD reads X-LXD-*, Incus X-Incus-*: both are sent.
	for _, prefix := range []string{"X-LXD-", "X-Incus-"} {
		req.Header.Set(prefix+"type", "file")
		req.Header.Set(prefix+"uid", "0")
		req.Header.Set(prefix+"gid", "0")
		req.Header.Set(prefix+"mode", fmt.Sprintf("%04o", mode.Perm()))
		req.Header.Set(prefix+"write", "overwrite")
	}
	if _, err := c.send(req, nil); err != nil {
		return fmt.Errorf("pushing %s into %s: %w", path, name, err)
	}
	return nil
}
