package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/tokenaudit/influx-token-mcp/integration/mcpharness"
	"github.com/tokenaudit/influx-token-mcp/integration/testserver"
)

// Issue 7: a client that is not mcp-go — the official MCP Go SDK — on its
// default stateless protocol (server/discover, 2026-07-28) and on initialize
// with 2025-11-25, 2025-06-18 (and the older 2025-03-26 and 2024-11-05),
// pinned with ClientSessionOptions.ProtocolVersion: list tools, call both tools (every
// structuredContent is validated against the outputSchema by mcpharness),
// get the prompt.
func TestProtocolVersions(t *testing.T) {
	t.Parallel()
	e := shared
	for _, c := range []struct {
		ask, want string
		handshake string // the first method the client sends
	}{
		{"", mcpharness.Protocol20260728, "server/discover"},
		{mcpharness.Protocol20251125, mcpharness.Protocol20251125, "initialize"},
		{mcpharness.Protocol20250618, mcpharness.Protocol20250618, "initialize"},
		// Older versions mcp-go also answers; their clients read the text.
		{"2025-03-26", "2025-03-26", "initialize"},
		{"2024-11-05", "2024-11-05", "initialize"},
	} {
		name := c.ask
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			s := e.sessionWith(t, testserver.TokOperator, nil, c.ask)
			if got := s.ProtocolVersion(); got != c.want {
				t.Errorf("negotiated protocol %q, want %q", got, c.want)
			}
			checkHandshake(t, s, c.handshake, c.want)
			if info := s.Client().InitializeResult().ServerInfo; info == nil || info.Name != "influx-token-mcp" {
				t.Errorf("serverInfo %+v, want name influx-token-mcp", info)
			}

			checkTools(t, s)

			// Both tools, with answers checked against InfluxDB.
			got, _ := list(ctx, t, s, map[string]any{"limit": 500})
			compareList(t, got.Tokens, e.directList(ctx, t, testserver.TokOperator, nil))
			got, _ = list(ctx, t, s, map[string]any{"action": "write", "resourceType": "buckets", "resourceName": "telegraf", "limit": 2})
			if got.Count != 2 || !got.Truncated {
				t.Errorf("paged access query: count %d truncated %v", got.Count, got.Truncated)
			}
			list(ctx, t, s, map[string]any{"limit": 0})
			tok := e.fx.Token(testserver.TokAcmeAllAccess)
			want, _ := e.directGet(ctx, t, testserver.TokOperator, tok.ID)
			d := get(ctx, t, s, tok.ID)
			compareToken(t, d.tokenOut, want)
			compareDetails(t, tok.Name, d, want, tok)
			// Tool errors, argument errors.
			wantContains(t, "get_token unknown", toolError(ctx, t, s, "get_token", map[string]any{"authID": unknownID(e)}), "not found")
			wantContains(t, "bad argument", toolError(ctx, t, s, "list_tokens", map[string]any{"status": "expired"}), "status")
			wantContains(t, "unknown argument", toolError(ctx, t, s, "get_token", map[string]any{"id": tok.ID}), "authID")

			res := s.Prompt(ctx, t, "audit_tokens", map[string]string{"org": testserver.OrgAcme})
			if len(res.Messages) == 0 {
				t.Errorf("audit_tokens has no messages")
			}
		})
	}
}

// checkHandshake reads the client's first message and the server's answer
// from the raw streams.
func checkHandshake(t *testing.T, s *mcpharness.Session, method, version string) {
	t.Helper()
	first, _, _ := strings.Cut(s.Sent(), "\n")
	var req struct {
		Method string `json:"method"`
		Params struct {
			ProtocolVersion string         `json:"protocolVersion"`
			Meta            map[string]any `json:"_meta"`
		} `json:"params"`
	}
	if err := json.Unmarshal([]byte(first), &req); err != nil {
		t.Fatalf("first message: %v: %s", err, first)
	}
	if req.Method != method {
		t.Errorf("the client opened with %q, want %q", req.Method, method)
	}
	switch method {
	case "initialize":
		if req.Params.ProtocolVersion != version {
			t.Errorf("initialize asked for %q, want %q", req.Params.ProtocolVersion, version)
		}
		if strings.Contains(s.Sent(), `"server/discover"`) {
			t.Errorf("a pinned legacy session sent server/discover")
		}
	case "server/discover":
		if strings.Contains(s.Sent(), `"method":"initialize"`) {
			t.Errorf("the modern session fell back to initialize:\n%s", s.Sent())
		}
	}
	reply, _, _ := strings.Cut(s.Received(), "\n")
	var resp struct {
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal([]byte(reply), &resp); err != nil || resp.Result == nil {
		t.Fatalf("first answer is not a result: %s", reply)
	}
	if !strings.Contains(string(resp.Result), version) {
		t.Errorf("handshake answer does not name %s: %s", version, resp.Result)
	}
}

// checkTools checks tools/list: exactly the two tools, each read-only by
// its annotations, with an input and an output schema.
func checkTools(t *testing.T, s *mcpharness.Session) {
	t.Helper()
	var names []string
	for name, tool := range s.Tools {
		names = append(names, name)
		a := tool.Annotations
		if a == nil || !a.ReadOnlyHint || a.DestructiveHint == nil || *a.DestructiveHint ||
			!a.IdempotentHint || a.OpenWorldHint == nil || *a.OpenWorldHint || a.Title == "" {
			t.Errorf("tool %s: annotations %s, want read-only, not destructive, idempotent, closed world, titled", name, toJSON(a))
		}
		if tool.InputSchema == nil || tool.OutputSchema == nil {
			t.Errorf("tool %s lacks an input or output schema", name)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"get_token", "list_tokens"}) {
		t.Errorf("tools/list: %v, want get_token and list_tokens", names)
	}
	if s.Tools["get_token"] != nil {
		var in struct {
			Required []string `json:"required"`
		}
		_ = json.Unmarshal([]byte(toJSON(s.Tools["get_token"].InputSchema)), &in)
		if !slices.Equal(in.Required, []string{"authID"}) {
			t.Errorf("get_token requires %v, want [authID]", in.Required)
		}
	}
}
