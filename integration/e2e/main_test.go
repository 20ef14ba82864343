// Package e2e tests the built influx-token-mcp binary over stdio, with the
// official MCP Go SDK client, against the real InfluxDB token API (package
// testserver; v2.8.0 or v2.10.0, by module file). Answers are compared with
// what the same InfluxDB returns directly for the same query and token, and
// with expectations computed from the fixtures' permissions
// (testserver.Permission.Allows).
//
// Every session also checks, through mcpharness, that structuredContent
// matches the tool's outputSchema, that stdout carries JSON-RPC only, and
// that no fixture token value appears in any message, stdout or stderr.
package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tokenaudit/influx-token-mcp/integration/mcpharness"
)

// Shared by every test of the package; tests only read from the server.
var (
	binary string // the built influx-token-mcp
	shared *env   // the seeded InfluxDB most tests use
	hashed *env   // the same fixtures on an InfluxDB that stores hashed tokens
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "influx-token-mcp-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if binary, err = mcpharness.Build(ctx, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	e, err := startEnv(ctx, false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer e.srv.Close()
	shared = e
	// Started here, one after the other, not in parallel tests:
	// testserver.Start sets InfluxDB's build info, a global that serving
	// servers read, so starting one while another serves is a data race.
	h, err := startEnv(ctx, true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer h.srv.Close()
	hashed = h
	return m.Run()
}
