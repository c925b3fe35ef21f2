package nslab

// What the tests of the whole lab (package nslab_test, which brings it up
// through the lab package) look at inside a host.
var (
	RunningPID        = runningPID
	Netns             = netns
	HostRoot          = hostRoot
	PidFile           = pidFile
	DockerSocket      = dockerSocket
	RouteOverlay      = routeOverlay
	RemoveHostNetwork = removeHostNetwork
	InNamespace       = inNamespace
	Answers           = answers
)
