package tools

// The harness: the production MCP server in process (mcptest), over a real
// influx.Client pointed at a fake InfluxDB or any host.

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/mcptest"

	"github.com/tokenaudit/influx-token-mcp/influx"
	"github.com/tokenaudit/influx-token-mcp/internal/fakeinflux"
	"github.com/tokenaudit/influx-token-mcp/internal/mcpstdio"
)

// harness is the production MCP server, in process, over a real
// influx.Client pointed at host.
type harness struct {
	srv     *mcptest.Server
	fake    *fakeinflux.Server // nil when host is not a fake
	logs    *mcpstdio.Buffer
	secrets []string
	ids     atomic.Int64
}

// newHarness serves the tools against fake with settings (Host is filled in).
func newHarness(t *testing.T, fake *fakeinflux.Server, settings Settings) *harness {
	t.Helper()
	return newHarnessAt(t, fake.URL, fake, settings)
}

func newHarnessAt(t *testing.T, host string, fake *fakeinflux.Server, settings Settings) *harness {
	t.Helper()
	return newHarnessWith(t, host, fake, settings, nil)
}

// newCachedHarness is newHarness with the token list shared through lists,
// as main.go runs the tools. Its requests may take a minute: its tests read
// 10,000 tokens, which takes seconds under the race detector on a busy
// machine.
func newCachedHarness(t *testing.T, fake *fakeinflux.Server, settings Settings, lists *influx.ListCache) *harness {
	t.Helper()
	settings.Timeout = cmp.Or(settings.Timeout, time.Minute)
	return newHarnessWith(t, fake.URL, fake, settings, func(c *influx.Client) Client { return lists.Client(c) })
}

// newHarnessWith serves the tools against host through wrap(client), or the
// bare client when wrap is nil.
func newHarnessWith(t *testing.T, host string, fake *fakeinflux.Server, settings Settings, wrap func(*influx.Client) Client) *harness {
	t.Helper()
	client, err := influx.New(influx.Options{
		Host: host, Token: fakeinflux.Token, Timeout: cmp.Or(settings.Timeout, 5*time.Second),
		UserAgent: "influx-token-mcp/test",
		Retry:     influx.RetryPolicy{MaxAttempts: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if settings.Host == "" {
		settings.Host = host
	}
	if settings.Timeout == 0 {
		settings.Timeout = 5 * time.Second
	}
	h := &harness{fake: fake, logs: &mcpstdio.Buffer{}, secrets: []string{fakeinflux.Token}}
	if fake != nil {
		h.secrets = fake.Secrets()
	}
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var c Client = client
	if wrap != nil {
		c = wrap(client)
	}
	toolsList := All(c, settings)
	h.srv = mcptest.NewUnstartedServer(t)
	h.srv.AddServerOptions(ServerOptions(logger, toolsList)...)
	h.srv.AddServerOptions(CompletionOptions(client, logger)...)
	h.srv.AddTools(toolsList...)
	h.srv.AddPrompts(Prompts()...)
	if err := h.srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.srv.Close()
		h.assertNoSecret(t, "server log", h.logs.String())
	})
	return h
}

func (h *harness) assertNoSecret(t *testing.T, where, s string) {
	t.Helper()
	for _, secret := range h.secrets {
		if strings.Contains(s, secret) {
			t.Errorf("%s holds the secret %q", where, secret)
		}
	}
}

// raw sends one JSON-RPC request and returns its raw result, failing the
// test on a protocol error.
func (h *harness) raw(t *testing.T, method string, params any) json.RawMessage {
	t.Helper()
	res, err := h.rawResponse(t, method, params)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return res
}

// rawResponse is raw that returns a JSON-RPC error as an error.
func (h *harness) rawResponse(t *testing.T, method string, params any) (json.RawMessage, error) {
	t.Helper()
	// Only a hang should end here: a loaded 2-core machine running -race
	// takes tens of seconds over the largest lists.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	resp, err := h.srv.Client().GetTransport().SendRequest(ctx, transport.JSONRPCRequest{
		JSONRPC: mcp.JSONRPC_VERSION,
		ID:      mcp.NewRequestId(fmt.Sprintf("test-%d", h.ids.Add(1))),
		Method:  method,
		Params:  params,
	})
	if err != nil {
		t.Fatalf("%s: transport: %v", method, err)
	}
	h.assertNoSecret(t, method+" result", string(resp.Result))
	if resp.Error != nil {
		h.assertNoSecret(t, method+" error", resp.Error.Message)
		return nil, fmt.Errorf("JSON-RPC error %d: %s", resp.Error.Code, resp.Error.Message)
	}
	return resp.Result, nil
}

// call calls a tool with args (any JSON value) and checks that no secret is
// anywhere in the raw result.
func (h *harness) call(t *testing.T, tool string, args any) *mcp.CallToolResult {
	t.Helper()
	raw := h.raw(t, "tools/call", map[string]any{"name": tool, "arguments": args})
	res, err := mcp.ParseCallToolResult(&raw)
	if err != nil {
		t.Fatalf("%s: %v in %s", tool, err, raw)
	}
	return res
}

// listTools is a real tools/list.
func (h *harness) listTools(t *testing.T) []mcp.Tool {
	t.Helper()
	res, err := h.srv.Client().ListTools(t.Context(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Tools
}
