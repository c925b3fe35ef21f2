// Package lxdclient is a small typed client of the REST API 1.0 that LXD
// and Incus (LXD's fork) share, reached through a unix socket (by any
// dialer: a host's SSH connection, or this machine's) or over HTTPS, as
// `lxc remote add` does. LXD's own Go client cannot be had here; this one
// follows its shapes (canonical/lxd client/): one file per resource, long
// actions are operations that the caller waits for, and the server's error
// message is surfaced as it is. It knows no driver, plan or run.
package lxdclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// Error is an error response of the LXD server.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// IsNotFound says whether err is LXD's 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// Client talks to one LXD or Incus server.
type Client struct {
	http  *http.Client
	base  string // http://lxd or https://host:8443
	where string // how the server is reached, for errors
}

// Dialer opens a stream to a unix socket on the server's machine.
type Dialer func(ctx context.Context, network, addr string) (net.Conn, error)

// NewUnix returns a client of the LXD listening on socket, reached by dial.
func NewUnix(dial Dialer, socket string) *Client {
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx, "unix", socket) },
	}
	return &Client{http: &http.Client{Transport: transport}, base: "http://lxd", where: "unix socket " + socket}
}

// Remote is a server reached over HTTPS, as `lxc remote add` sets one up.
type Remote struct {
	URL        string // https://HOST:8443
	ClientCert string // PEM files of this client's certificate and key
	ClientKey  string
	ServerCert string // the server's certificate, pinned; empty: the system's roots verify it
}

// NewHTTPS returns a client of a remote server, authenticated by a client
// certificate. The server is verified against ServerCert (a PEM file, as
// `lxc remote add` stores it) or, without it, the system's roots; never skipped.
func NewHTTPS(cfg Remote) (*Client, error) {
	cert, err := tls.LoadX509KeyPair(cfg.ClientCert, cfg.ClientKey)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.ServerCert != "" {
		pem, err := os.ReadFile(cfg.ServerCert)
		if err != nil {
			return nil, fmt.Errorf("server certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("server certificate %s: no PEM certificate in it", cfg.ServerCert)
		}
		tlsConfig.RootCAs = pool
		// LXD's self-signed certificates name no host: pin the certificate
		// itself instead of checking the name.
		tlsConfig.InsecureSkipVerify = true
		tlsConfig.VerifyPeerCertificate = pinned(pem)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme != "https" {
		return nil, fmt.Errorf("url %q: want https://HOST:PORT", cfg.URL)
	}
	return &Client{http: &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}}, base: strings.TrimRight(cfg.URL, "/"), where: cfg.URL}, nil
}

// pinned accepts exactly the server certificate in pemData.
func pinned(pemData []byte) func([][]byte, [][]*x509.Certificate) error {
	var want [][]byte
	for rest := pemData; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		want = append(want, block.Bytes)
	}
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) > 0 {
			for _, w := range want {
				if bytes.Equal(raw[0], w) {
					return nil
				}
			}
		}
		return errors.New("server certificate does not match the pinned server_cert")
	}
}

// Where says how the server is reached.
func (c *Client) Where() string { return c.where }

// Close drops idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// response is LXD's envelope for every answer.
type response struct {
	Type       string          `json:"type"` // sync, async, error
	StatusCode int             `json:"status_code"`
	Error      string          `json:"error"`
	ErrorCode  int             `json:"error_code"`
	Operation  string          `json:"operation"`
	Metadata   json.RawMessage `json:"metadata"`
}

// do sends a request and decodes a sync answer's metadata into out, or
// returns an async answer's operation path.
func (c *Client) do(ctx context.Context, method, path string, body any, out any) (string, error) {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return "", err
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, reader)
	if err != nil {
		return "", err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.send(req, out)
}

func (c *Client) send(req *http.Request, out any) (string, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: %w", c.where, err)
	}
	defer resp.Body.Close()
	var r response
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return "", fmt.Errorf("%s: %s %s: unreadable answer (%s): %w", c.where, req.Method, req.URL.Path, resp.Status, err)
	}
	if r.Type == "error" {
		return "", &Error{Status: r.ErrorCode, Message: r.Error}
	}
	if out != nil && len(r.Metadata) > 0 {
		if err := json.Unmarshal(r.Metadata, out); err != nil {
			return "", fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
		}
	}
	return r.Operation, nil
}

// Server describes the server.
type Server struct {
	Environment struct {
		Architectures []string `json:"architectures"`
		Server        string   `json:"server"` // "lxd" or "incus"
		ServerName    string   `json:"server_name"`
		ServerVersion string   `json:"server_version"`
		Kernel        string   `json:"kernel_version"`
	} `json:"environment"`
	APIVersion string `json:"api_version"`
	Auth       string `json:"auth"`
}

// Server returns GET /1.0.
func (c *Client) Server(ctx context.Context) (*Server, error) {
	var s Server
	_, err := c.do(ctx, http.MethodGet, "/1.0", nil, &s)
	return &s, err
}

// Operation is a long-running action of the server.
type Operation struct {
	ID         string          `json:"id"`
	Status     string          `json:"status"`
	StatusCode int             `json:"status_code"`
	Err        string          `json:"err"`
	Metadata   json.RawMessage `json:"metadata"`
}

// Wait blocks until the operation at path ends or ctx does, and fails with
// the operation's own error when it failed.
func (c *Client) Wait(ctx context.Context, path string) (*Operation, error) {
	for {
		var op Operation
		// The server bounds each wait; ctx bounds the whole.
		_, err := c.do(ctx, http.MethodGet, path+"/wait?timeout=10", nil, &op)
		if err != nil {
			return nil, err
		}
		switch {
		case op.StatusCode >= 400:
			return &op, &Error{Status: op.StatusCode, Message: op.Err}
		case op.StatusCode == http.StatusOK:
			return &op, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// act sends a request whose answer is an operation, and waits for it.
func (c *Client) act(ctx context.Context, method, path string, body any) (*Operation, error) {
	op, err := c.do(ctx, method, path, body, nil)
	if err != nil {
		return nil, err
	}
	if op == "" {
		return nil, nil
	}
	return c.Wait(ctx, op)
}
