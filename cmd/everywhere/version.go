package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// Set by a release build (make dist): -ldflags "-X main.buildVersion=v1.2.0
// -X main.buildCommit=… -X main.buildDate=…". A build made without VCS
// stamping (GOFLAGS=-buildvcs=false, a tarball) says what it is only thus.
var (
	buildVersion string
	buildCommit  string // the full commit hash, "+dirty" when the tree had changes
	buildDate    string // the commit's date, RFC 3339, so that the same commit builds the same binary
)

// releaseVersion is everywhere's version for a result's record: the
// release's, else the module version `go install everywhere@v…` recorded,
// else empty (a build from a work tree, whose version is not known).
func releaseVersion() string {
	if buildVersion != "" {
		return buildVersion
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return ""
}

// versionLine says what this binary is, for --version and bug reports: its
// version, the commit it was built from (the vcs settings go build
// records), and the Go that built it.
func versionLine() string {
	v := releaseVersion()
	if v == "" {
		v = "(devel)"
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return fmt.Sprintf("%s, no build information, %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	commit := "commit unknown (built with -buildvcs=false or outside git)"
	if buildCommit != "" {
		settings["vcs.revision"], settings["vcs.modified"], settings["vcs.time"] = strings.TrimSuffix(buildCommit, "+dirty"), strconv.FormatBool(strings.HasSuffix(buildCommit, "+dirty")), buildDate
	}
	if rev := settings["vcs.revision"]; rev != "" {
		commit = "commit " + rev
		if settings["vcs.modified"] == "true" {
			commit += " (modified)"
		}
		if when := settings["vcs.time"]; when != "" {
			commit += " of " + when
		}
	}
	return fmt.Sprintf("%s, %s, %s %s/%s", v, commit, info.GoVersion, runtime.GOOS, runtime.GOARCH)
}
