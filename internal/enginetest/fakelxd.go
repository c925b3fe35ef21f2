package enginetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// FakeLXD is an in-process server of the part of the REST API 1.0 (LXD's
// and Incus's) that the lxd driver uses, on a unix socket of the test's
// own. An instance is a record; a command exec'd in it runs on this
// machine, as the test's user. Server is "lxd" or "incus".
type FakeLXD struct {
	Socket string
	server string

	mu         sync.Mutex
	aliases    map[string]string // alias → fingerprint
	instances  map[string]*fakeInstance
	operations map[string]fakeOperation
	logs       map[string][]byte
	full       bool
	held       chan struct{} // see Hold
	next       int
}

type fakeInstance struct {
	Name   string            `json:"name"`
	Status string            `json:"status"`
	Type   string            `json:"type"`
	Arch   string            `json:"architecture"`
	Config map[string]string `json:"config"`
}

// fakeOperation is done when created: waiting on it answers at once.
type fakeOperation struct {
	status   int
	err      string
	metadata any
}

// StartFakeLXD serves a fake server ("lxd" or "incus") with images by
// alias, until the test ends.
func StartFakeLXD(t *testing.T, server string, aliases ...string) *FakeLXD {
	f := &FakeLXD{Socket: filepath.Join(t.TempDir(), "unix.socket"), server: server, aliases: map[string]string{},
		instances: map[string]*fakeInstance{}, operations: map[string]fakeOperation{}, logs: map[string][]byte{}}
	for _, a := range aliases {
		f.aliases[a] = strings.Repeat("c0ffee", 10)
	}
	serveUnix(t, f.Socket, f.serve)
	return f
}

// Hold makes creations wait for their client to give up, then create; the
// channel is closed once one waits.
func (f *FakeLXD) Hold() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.held = make(chan struct{})
	return f.held
}

// Fill makes every creation fail as a full disk does.
func (f *FakeLXD) Fill() { f.mu.Lock(); f.full = true; f.mu.Unlock() }

// Things lists the instances with their run keys.
func (f *FakeLXD) Things() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for name, i := range f.instances {
		out[name] = i.Config["user.everywhere.run"]
	}
	return out
}

// Plant adds a stopped instance labelled with run ("" for none).
func (f *FakeLXD) Plant(name, run string) {
	config := map[string]string{}
	if run != "" {
		config["user.everywhere.run"] = run
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.instances[name] = &fakeInstance{Name: name, Status: "Stopped", Type: "container", Arch: kernelArch(), Config: config}
}

func kernelArch() string {
	return map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686"}[runtime.GOARCH]
}

func (f *FakeLXD) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	parts := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	for i, p := range parts {
		parts[i], _ = url.PathUnescape(p)
	}
	switch {
	case path == "/1.0":
		f.sync(w, map[string]any{"api_version": "1.0", "auth": "trusted", "environment": map[string]any{
			"architectures": []string{kernelArch()}, "server": f.server, "server_version": "99.0", "kernel_version": "6.1.0"}})
	case len(parts) == 3 && parts[1] == "profiles":
		if parts[2] != "default" {
			f.error(w, http.StatusNotFound, "Profile not found")
			return
		}
		f.sync(w, map[string]any{"name": "default"})
	case len(parts) == 4 && parts[1] == "images" && parts[2] == "aliases":
		f.mu.Lock()
		target, ok := f.aliases[parts[3]]
		f.mu.Unlock()
		if !ok {
			f.error(w, http.StatusNotFound, "Image alias not found")
			return
		}
		f.sync(w, map[string]string{"name": parts[3], "target": target})
	case len(parts) == 4 && parts[1] == "operations" || len(parts) == 5 && parts[1] == "operations":
		f.mu.Lock()
		op, ok := f.operations[parts[2]]
		f.mu.Unlock()
		if !ok {
			f.error(w, http.StatusNotFound, "Operation not found")
			return
		}
		status := map[int]string{200: "Success", 400: "Failure"}[op.status]
		f.sync(w, map[string]any{"id": parts[2], "status": status, "status_code": op.status, "err": op.err, "metadata": op.metadata})
	case path == "/1.0/instances" && r.Method == http.MethodGet:
		f.mu.Lock()
		list := []*fakeInstance{}
		for _, i := range f.instances {
			list = append(list, i)
		}
		f.mu.Unlock()
		f.sync(w, list)
	case path == "/1.0/instances" && r.Method == http.MethodPost:
		f.create(w, r)
	case len(parts) == 3 && parts[1] == "instances":
		f.instance(w, r, parts[2])
	case len(parts) == 4 && parts[1] == "instances" && parts[3] == "state":
		f.state(w, r, parts[2])
	case len(parts) == 4 && parts[1] == "instances" && parts[3] == "exec":
		f.exec(w, r, parts[2])
	case len(parts) == 5 && parts[1] == "instances" && parts[3] == "logs":
		f.mu.Lock()
		data, ok := f.logs[path]
		if r.Method == http.MethodDelete {
			delete(f.logs, path)
		}
		f.mu.Unlock()
		switch {
		case !ok:
			f.error(w, http.StatusNotFound, "log not found")
		case r.Method == http.MethodDelete:
			f.sync(w, nil)
		default:
			_, _ = w.Write(data)
		}
	default:
		f.error(w, http.StatusNotImplemented, "the fake does not serve "+r.Method+" "+path)
	}
}

func (f *FakeLXD) create(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name   string            `json:"name"`
		Config map[string]string `json:"config"`
		Source struct {
			Alias string `json:"alias"`
		} `json:"source"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.error(w, http.StatusBadRequest, err.Error())
		return
	}
	f.mu.Lock()
	held := f.held
	f.held = nil
	f.mu.Unlock()
	if held != nil {
		close(held)
		<-r.Context().Done()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.instances[body.Name]; dup {
		f.errorLocked(w, http.StatusConflict, "Instance \""+body.Name+"\" already exists")
		return
	}
	if f.full {
		f.asyncLocked(w, fakeOperation{status: 400, err: "Failed creating instance from image: Unpack failed: write /var/lib/incus/storage-pools/default/containers/" + body.Name + "/rootfs/bin/sh: no space left on device"})
		return
	}
	f.instances[body.Name] = &fakeInstance{Name: body.Name, Status: "Stopped", Type: "container", Arch: kernelArch(), Config: body.Config}
	f.asyncLocked(w, fakeOperation{status: 200})
}

func (f *FakeLXD) instance(w http.ResponseWriter, r *http.Request, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.instances[name]
	switch {
	case !ok:
		f.errorLocked(w, http.StatusNotFound, "Instance not found")
	case r.Method == http.MethodDelete && i.Status != "Stopped":
		f.asyncLocked(w, fakeOperation{status: 400, err: "Instance is running"})
	case r.Method == http.MethodDelete:
		delete(f.instances, name)
		f.asyncLocked(w, fakeOperation{status: 200})
	default:
		f.syncLocked(w, i)
	}
}

func (f *FakeLXD) state(w http.ResponseWriter, r *http.Request, name string) {
	var body struct {
		Action string `json:"action"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.instances[name]
	switch {
	case !ok:
		f.errorLocked(w, http.StatusNotFound, "Instance not found")
	case r.Method == http.MethodGet:
		f.syncLocked(w, map[string]any{"network": map[string]any{}})
	case body.Action == "start":
		i.Status = "Running"
		f.asyncLocked(w, fakeOperation{status: 200})
	default:
		i.Status = "Stopped"
		f.asyncLocked(w, fakeOperation{status: 200})
	}
}

func (f *FakeLXD) exec(w http.ResponseWriter, r *http.Request, name string) {
	var body struct {
		Command     []string          `json:"command"`
		Environment map[string]string `json:"environment"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.error(w, http.StatusBadRequest, err.Error())
		return
	}
	f.mu.Lock()
	i, ok := f.instances[name]
	running := ok && i.Status == "Running"
	f.mu.Unlock()
	if !running {
		f.error(w, http.StatusBadRequest, "Instance is not running")
		return
	}
	var env []string
	for k, v := range body.Environment {
		if k != "PATH" {
			env = append(env, k+"="+v)
		}
	}
	var stdout, stderr bytes.Buffer
	code := runHere(r.Context(), body.Command, env, &stdout, &stderr)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	out := fmt.Sprintf("/1.0/instances/%s/logs/exec_%d.stdout", name, f.next)
	errs := fmt.Sprintf("/1.0/instances/%s/logs/exec_%d.stderr", name, f.next)
	f.logs[out], f.logs[errs] = stdout.Bytes(), stderr.Bytes()
	f.asyncLocked(w, fakeOperation{status: 200, metadata: map[string]any{"return": code, "output": map[string]string{"1": out, "2": errs}}})
}

func (f *FakeLXD) sync(w http.ResponseWriter, metadata any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncLocked(w, metadata)
}

func (f *FakeLXD) syncLocked(w http.ResponseWriter, metadata any) {
	writeJSON(w, http.StatusOK, map[string]any{"type": "sync", "status_code": 200, "metadata": metadata})
}

func (f *FakeLXD) error(w http.ResponseWriter, code int, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errorLocked(w, code, message)
}

func (f *FakeLXD) errorLocked(w http.ResponseWriter, code int, message string) {
	writeJSON(w, code, map[string]any{"type": "error", "error_code": code, "error": message})
}

// asyncLocked answers with an operation, already over.
func (f *FakeLXD) asyncLocked(w http.ResponseWriter, op fakeOperation) {
	f.next++
	id := fmt.Sprintf("op-%d-%d", time.Now().UnixNano(), f.next)
	f.operations[id] = op
	writeJSON(w, http.StatusAccepted, map[string]any{"type": "async", "status_code": 100, "operation": "/1.0/operations/" + id})
}
