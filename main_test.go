package main

// The built binary's tests are in internal/binarytest; here are the unit
// tests of main's own functions.

import (
	"runtime/debug"
	"testing"
)

// A build from a git checkout has no release version: --version names the
// commit and its time from the build info, and says when the tree had local
// changes.
func TestVersionOfASourceBuild(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/tokenaudit/influx-token-mcp", Version: "(devel)"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "89decbbef26b0d3abeab7650185c5c6f2e6e9e76"},
			{Key: "vcs.time", Value: "2026-11-30T01:21:25Z"},
			{Key: "vcs.modified", Value: "true"},
		}}
	want := "influx-token-mcp (devel) (commit 89decbbef26b0d3abeab7650185c5c6f2e6e9e76, 2026-11-30T01:21:25Z, with local changes, go1.26.8)"
	if got := versionLine(bi); got != want {
		t.Errorf("versionLine = %q, want %q", got, want)
	}
	bi.Settings = nil // built with -buildvcs=false, or outside a checkout
	if got, want := versionLine(bi), "influx-token-mcp (devel) (go1.26.8)"; got != want {
		t.Errorf("without VCS info: %q, want %q", got, want)
	}
	bi.Main.Version = "v1.2.3" // go install …@v1.2.3
	if got, want := versionLine(bi), "influx-token-mcp v1.2.3 (go1.26.8)"; got != want {
		t.Errorf("go install: %q, want %q", got, want)
	}
}
