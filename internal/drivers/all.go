// Package drivers is the one list of the drivers everywhere offers, which
// the CLI hands down to plans, inventories, `hosts` and `clean` (restic's
// internal/backend/all is the model). Adding an engine is a folder of its
// own plus a line here; nothing registers itself.
package drivers

import (
	"everywhere/internal/docker"
	"everywhere/internal/driver"
	"everywhere/internal/filepush"
	"everywhere/internal/lxd"
	"everywhere/internal/netmatrix"
	"everywhere/internal/shell"
)

// All makes every driver, in the order of `hosts` columns. Each call makes
// new values: two registries share no client.
func All() *driver.Registry {
	dockerd := docker.New(docker.Docker()) // also the images lxd.docker_run copies in
	engines := []*driver.Driver{
		dockerd.Driver,
		docker.New(docker.Podman()).Driver,
		lxd.New(lxd.LXD(dockerd)).Driver,
		lxd.New(lxd.Incus(dockerd)).Driver,
	}
	list := append([]*driver.Driver{shell.New(), filepush.New(), netmatrix.New(driver.EnginesOf(engines...))}, engines...)
	r, err := driver.NewRegistry(list...)
	if err != nil {
		panic("drivers: " + err.Error()) // a programming error, which TestAll finds
	}
	return r
}
