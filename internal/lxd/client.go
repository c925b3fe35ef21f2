package lxd

import "everywhere/internal/lxdclient"

// The REST client is internal/lxdclient's. These names keep the lab's
// uses of it through this package working; new code imports lxdclient.
type (
	// Client is lxdclient.Client.
	Client = lxdclient.Client
	// Server is lxdclient.Server.
	Server = lxdclient.Server
)

// NewUnix is lxdclient.NewUnix.
var NewUnix = lxdclient.NewUnix

// IsNotFound is lxdclient.IsNotFound.
func IsNotFound(err error) bool { return lxdclient.IsNotFound(err) }
