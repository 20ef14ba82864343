package main

import (
	"bytes"
	"testing"
)

// The release build stamps main.version, main.commit and main.date with
// -ldflags -X (.goreleaser.yaml); --version prints them. .ci/package.sh
// checks the same on the binaries goreleaser builds.
func TestVersionPrintsStampedValues(t *testing.T) {
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "0.1.0", "0123abc", "2026-11-30T01:02:03Z"

	var stdout, stderr bytes.Buffer
	if code := run([]string{"--version"}, nil, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	if got, want := stdout.String(), "influx-token-mcp 0.1.0 (commit 0123abc, built 2026-11-30T01:02:03Z)\n"; got != want {
		t.Errorf("--version printed %q, want %q", got, want)
	}
	if got := serverVersion(); got != "0.1.0" {
		t.Errorf("server version %q, want the stamped 0.1.0", got)
	}
}
