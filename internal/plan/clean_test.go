package plan

import (
	"context"
	"errors"
	"testing"

	"everywhere/internal/driver"
	"everywhere/internal/host"
)

// A host without an engine has nothing of it to clean: everywhere clean
// skips that engine there, as not applicable, instead of failing the
// host; any other error of a cleaner stays an error.
func TestCleanerOfAnAbsentEngine(t *testing.T) {
	for _, tt := range []struct {
		err        error
		applicable bool
	}{
		{driver.Absent(errors.New("no Podman socket at /run/podman/podman.sock")), false},
		{errors.New("permission denied on /run/podman/podman.sock"), true},
	} {
		reg, err := driver.NewRegistry(&driver.Driver{Name: "podman", Clean: func(context.Context, driver.Target, driver.Live, int) (*host.Output, error) {
			return nil, tt.err
		}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Cleaners(reg, nil).Steps[0].Action.Run(context.Background(), nil, 0)
		if errors.Is(err, driver.ErrNotApplicable) == tt.applicable || err == nil {
			t.Errorf("cleaner failing with %q gave %v", tt.err, err)
		}
	}
}
