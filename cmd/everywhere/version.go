package main

import "runtime/debug"

// buildVersion is set by a release build: -ldflags "-X main.buildVersion=v1.2.0".
var buildVersion string

// version is everywhere's version for a result's record: the release's,
// else the module version `go install everywhere@v…` recorded, else empty
// (a build from a work tree, whose version is not known).
func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return ""
}
