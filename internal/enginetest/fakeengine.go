package enginetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// FakeEngine is an in-process server of the part of Docker's Engine API
// that the docker driver uses, on a unix socket of the test's own: what
// lets the suite run without root. A "container" is a record; a command
// exec'd in it runs on this machine, as the test's user. Product is
// "Docker" or "Podman" (what /version says it is).
type FakeEngine struct {
	Socket  string
	product string

	mu         sync.Mutex
	images     map[string]bool
	containers map[string]*fakeContainer // by id
	execs      map[string]*fakeExec
	full       bool
	// hold, while set, keeps a create waiting until its client gives up,
	// then creates anyway, as a daemon that finishes a request cut short.
	held chan struct{}
}

type fakeContainer struct {
	ID, Name, Image string
	Labels          map[string]string
	Running         bool
}

type fakeExec struct {
	container string
	cmd, env  []string
	exitCode  int
}

// StartFakeEngine serves a fake engine of product holding images, until
// the test ends.
func StartFakeEngine(t *testing.T, product string, images ...string) *FakeEngine {
	f := &FakeEngine{Socket: filepath.Join(t.TempDir(), "engine.sock"), product: product,
		images: map[string]bool{}, containers: map[string]*fakeContainer{}, execs: map[string]*fakeExec{}}
	for _, i := range images {
		f.images[i] = true
	}
	serveUnix(t, f.Socket, f.serve)
	return f
}

// serveUnix serves handler on a unix socket until the test ends.
func serveUnix(t *testing.T, socket string, handler http.HandlerFunc) {
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(handler)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
}

// Hold makes creates wait for their client to give up before creating;
// the channel is closed once one waits.
func (f *FakeEngine) Hold() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.held = make(chan struct{})
	return f.held
}

// Fill makes every create fail as a full disk does.
func (f *FakeEngine) Fill() { f.mu.Lock(); f.full = true; f.mu.Unlock() }

// Things lists the containers by name, with their run labels.
func (f *FakeEngine) Things() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for _, c := range f.containers {
		out[c.Name] = c.Labels["io.everywhere.run"]
	}
	return out
}

// Plant adds a container named name labelled with run ("" for none).
func (f *FakeEngine) Plant(name, run string) {
	labels := map[string]string{}
	if run != "" {
		labels["io.everywhere.run"] = run
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id := newID()
	f.containers[id] = &fakeContainer{ID: id, Name: name, Labels: labels}
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var versioned = regexp.MustCompile(`^/v[0-9.]+`)

func (f *FakeEngine) serve(w http.ResponseWriter, r *http.Request) {
	path := versioned.ReplaceAllString(r.URL.Path, "")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	w.Header().Set("Api-Version", "1.41")
	switch {
	case path == "/_ping":
		w.Header().Set("Ostype", "linux")
		_, _ = io.WriteString(w, "OK")
	case path == "/version":
		v := map[string]any{"Version": "99.1.0", "ApiVersion": "1.41", "MinAPIVersion": "1.24", "Os": "linux", "Arch": goarch(), "KernelVersion": "6.1.0"}
		if f.product == "Podman" {
			v["Components"] = []map[string]any{{"Name": "Podman Engine", "Version": "99.1.0"}}
		} else {
			v["Components"] = []map[string]any{{"Name": "Engine", "Version": "99.1.0"}}
		}
		writeJSON(w, http.StatusOK, v)
	case len(parts) >= 3 && parts[0] == "images" && parts[len(parts)-1] == "json":
		ref := strings.Join(parts[1:len(parts)-1], "/")
		f.mu.Lock()
		has := f.images[ref]
		f.mu.Unlock()
		if !has {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "No such image: " + ref})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"Id": "sha256:" + strings.Repeat("ab", 32), "Architecture": goarch(), "Os": "linux"})
	case path == "/containers/create":
		f.create(w, r)
	case path == "/containers/json":
		f.list(w, r)
	case len(parts) == 3 && parts[0] == "containers" && parts[2] == "start":
		f.withContainer(w, parts[1], func(c *fakeContainer) { c.Running = true; w.WriteHeader(http.StatusNoContent) })
	case len(parts) == 2 && parts[0] == "containers" && r.Method == http.MethodDelete:
		f.remove(w, parts[1])
	case len(parts) == 3 && parts[0] == "containers" && parts[2] == "exec":
		f.execCreate(w, r, parts[1])
	case len(parts) == 3 && parts[0] == "exec" && parts[2] == "start":
		f.execStart(w, r, parts[1])
	case len(parts) == 3 && parts[0] == "exec" && parts[2] == "json":
		f.mu.Lock()
		x := f.execs[parts[1]]
		f.mu.Unlock()
		if x == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "no such exec"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ExitCode": x.exitCode, "Running": false})
	default:
		writeJSON(w, http.StatusNotImplemented, map[string]string{"message": "the fake engine does not serve " + r.Method + " " + path})
	}
}

func (f *FakeEngine) create(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Image  string
		Labels map[string]string
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	f.mu.Lock()
	full, held := f.full, f.held
	f.held = nil
	f.mu.Unlock()
	if held != nil {
		close(held)
		<-r.Context().Done()
	}
	if full {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "mkdir /var/lib/engine/overlay/" + newID()[:12] + ": no space left on device"})
		return
	}
	name := r.URL.Query().Get("name")
	c := &fakeContainer{ID: newID(), Name: name, Image: body.Image, Labels: body.Labels}
	if c.Name == "" {
		c.Name = c.ID[:12]
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, other := range f.containers {
		if other.Name == c.Name {
			writeJSON(w, http.StatusConflict, map[string]string{"message": fmt.Sprintf("Conflict. The container name %q is already in use", "/"+name)})
			return
		}
	}
	f.containers[c.ID] = c
	writeJSON(w, http.StatusCreated, map[string]any{"Id": c.ID, "Warnings": []string{}})
}

// filterLabels reads the label filters of a list request: KEY or KEY=VALUE.
func filterLabels(r *http.Request) []string {
	var filters map[string]map[string]bool
	_ = json.Unmarshal([]byte(r.URL.Query().Get("filters")), &filters)
	var labels []string
	for l := range filters["label"] {
		labels = append(labels, l)
	}
	return labels
}

func (f *FakeEngine) list(w http.ResponseWriter, r *http.Request) {
	labels := filterLabels(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, c := range f.containers {
		match := true
		for _, l := range labels {
			key, value, withValue := strings.Cut(l, "=")
			got, has := c.Labels[key]
			match = match && has && (!withValue || got == value)
		}
		if match {
			out = append(out, map[string]any{"Id": c.ID, "Names": []string{"/" + c.Name}, "Image": c.Image, "Labels": c.Labels})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// find is the container of that id or name; f.mu held.
func (f *FakeEngine) find(ref string) *fakeContainer {
	for _, c := range f.containers {
		if c.ID == ref || c.Name == ref {
			return c
		}
	}
	return nil
}

func (f *FakeEngine) withContainer(w http.ResponseWriter, ref string, do func(*fakeContainer)) {
	f.mu.Lock()
	c := f.find(ref)
	f.mu.Unlock()
	if c == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "No such container: " + ref})
		return
	}
	do(c)
}

func (f *FakeEngine) remove(w http.ResponseWriter, ref string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(ref)
	if c == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "No such container: " + ref})
		return
	}
	delete(f.containers, c.ID)
	w.WriteHeader(http.StatusNoContent)
}

func (f *FakeEngine) execCreate(w http.ResponseWriter, r *http.Request, ref string) {
	var body struct{ Cmd, Env []string }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	f.withContainer(w, ref, func(c *fakeContainer) {
		if !c.Running {
			writeJSON(w, http.StatusConflict, map[string]string{"message": "container " + c.ID + " is not running"})
			return
		}
		id := newID()
		f.mu.Lock()
		f.execs[id] = &fakeExec{container: c.ID, cmd: body.Cmd, env: body.Env}
		f.mu.Unlock()
		writeJSON(w, http.StatusCreated, map[string]string{"Id": id})
	})
}

// execStart runs the command here and streams its output in the engine's
// multiplexed framing over the hijacked connection, as the real one does.
func (f *FakeEngine) execStart(w http.ResponseWriter, r *http.Request, id string) {
	f.mu.Lock()
	x := f.execs[id]
	f.mu.Unlock()
	if x == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "no such exec"})
		return
	}
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = buf.WriteString("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	_ = buf.Flush()
	var mu sync.Mutex // the two streams' frames must not interleave
	code := runHere(context.Background(), x.cmd, x.env, &frameWriter{mu: &mu, w: conn, stream: 1}, &frameWriter{mu: &mu, w: conn, stream: 2})
	f.mu.Lock()
	x.exitCode = code
	f.mu.Unlock()
}

// runHere runs argv on this machine: the fakes' stand-in for a container.
func runHere(ctx context.Context, argv, env []string, stdout, stderr io.Writer) int {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env, cmd.Stdout, cmd.Stderr = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...), stdout, stderr
	var exit *exec.ExitError
	switch err := cmd.Run(); {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintln(stderr, err)
		return 127
	}
	return 0
}

// frameWriter writes the engine's stream frames: a header of the stream
// and the length, then the bytes.
type frameWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	stream byte
}

func (f *frameWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	header := make([]byte, 8)
	header[0] = f.stream
	binary.BigEndian.PutUint32(header[4:], uint32(len(p)))
	if _, err := f.w.Write(append(header, p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func goarch() string { return runtime.GOARCH }

func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}
