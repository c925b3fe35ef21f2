package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version says what this binary is: the module's version, the commit it
// was built from (the vcs settings go build records), and the Go that
// built it, for bug reports.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return fmt.Sprintf("unknown (no build information) %s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	commit := "commit unknown (built with -buildvcs=false or outside git)"
	if rev := settings["vcs.revision"]; rev != "" {
		commit = "commit " + rev
		if settings["vcs.modified"] == "true" {
			commit += " (modified)"
		}
		if when := settings["vcs.time"]; when != "" {
			commit += " of " + when
		}
	}
	return fmt.Sprintf("%s, %s, %s %s/%s", info.Main.Version, commit, info.GoVersion, runtime.GOOS, runtime.GOARCH)
}
