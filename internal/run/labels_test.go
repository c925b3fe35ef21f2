package run

import (
	"context"
	"reflect"
	"testing"

	"everywhere/internal/inventory"
	"everywhere/internal/sshconn"
)

// A host's result carries its inventory labels, reached or not, so that a
// report can be filtered by them.
func TestResultCarriesLabels(t *testing.T) {
	r := &Runner{Connect: func(context.Context, inventory.Host) (Conn, error) {
		return nil, &sshconn.ConnectError{Host: "h", Addr: "h:22", Kind: sshconn.ErrUnreachable, Detail: "no"}
	}}
	res := r.Run(context.Background(), []inventory.Host{{Name: "h", Address: "h", Port: 22, Labels: []string{"prod", "rack-1"}}}, mustPlan(t, "steps: [{name: hi, shell: echo hi}]"))
	if got := res.Hosts[0].Labels; !reflect.DeepEqual(got, []string{"prod", "rack-1"}) {
		t.Errorf("labels %q, want prod, rack-1", got)
	}
}
