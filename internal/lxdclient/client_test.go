package lxdclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeLXD serves canned REST answers on a unix socket, for the error shapes;
// the real daemon is what the lxd_test suite proves the client against.
func fakeLXD(t *testing.T, handler http.HandlerFunc) *Client {
	t.Helper()
	socket := t.TempDir() + "/unix.socket"
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(handler)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return NewUnix(func(ctx context.Context, network, addr string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}, socket)
}

func TestErrorShapes(t *testing.T) {
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		call     func(*Client) error
		want     string
		notFound bool
	}{
		{"error envelope", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"type":"error","error":"Instance not found","error_code":404}`)
		}, func(c *Client) error { _, err := c.Instance(context.Background(), "c1"); return err }, "Instance not found", true},
		{"failed operation", func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.Method == http.MethodPut:
				fmt.Fprint(w, `{"type":"async","operation":"/1.0/operations/42"}`)
			case strings.HasSuffix(r.URL.Path, "/wait"):
				fmt.Fprint(w, `{"type":"sync","metadata":{"id":"42","status":"Failure","status_code":400,"err":"Failed to run: forkstart"}}`)
			}
		}, func(c *Client) error { return c.SetState(context.Background(), "c1", "start", false) }, "Failed to run: forkstart", false},
		{"unreadable answer", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "<html>proxy error</html>")
		}, func(c *Client) error { _, err := c.Server(context.Background()); return err }, "unreadable answer", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(fakeLXD(t, tt.handler))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			var lxdErr *Error
			if IsNotFound(err) != tt.notFound || (tt.notFound && !errors.As(err, &lxdErr)) {
				t.Errorf("IsNotFound(%v) = %v", err, IsNotFound(err))
			}
		})
	}
}
