package labkit

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"
)

// StopHosts stops, with stop and in parallel (a dockerd or a machine takes
// seconds to stop), every host any lab in c's folder may have started.
func StopHosts(ctx context.Context, c Config, stop func(context.Context, Host) error) error {
	all := c.allHosts()
	errs := make([]error, len(all))
	var g errgroup.Group
	for i, h := range all {
		g.Go(func() error {
			if err := stop(ctx, h); err != nil {
				errs[i] = fmt.Errorf("lab host %s: %w", h.Name, err)
			}
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(errs...)
}

// StopShared stops what the lab's hosts share: the package proxy, the
// bridge and the isolation rules.
func StopShared(ctx context.Context, c Config) error {
	return errors.Join(StopCgroup(ctx, c.ProxyCgroup()), removeBridge(ctx, c), Unisolate(ctx, c))
}
