package tools

// Assertions and small helpers on tool results.

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// text is the one text block of res.
func text(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if len(res.Content) != 1 {
		t.Fatalf("%d content blocks, want 1", len(res.Content))
	}
	tc, ok := res.Content[0].(mcp.TextContent)
	if !ok {
		t.Fatalf("content is %T, want text", res.Content[0])
	}
	return tc.Text
}

// structured decodes res's structured content into a T, rejecting fields T
// does not have.
func structured[T any](t *testing.T, res *mcp.CallToolResult) T {
	t.Helper()
	var out T
	if res.IsError {
		t.Fatalf("tool error: %s", text(t, res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
	return out
}

// wantToolError checks that res is a tool error whose text holds every one
// of want, and returns the text.
func wantToolError(t *testing.T, res *mcp.CallToolResult, want ...string) string {
	t.Helper()
	msg := text(t, res)
	if !res.IsError {
		t.Fatalf("not a tool error: %s", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error text %q lacks %q", msg, w)
		}
	}
	return msg
}

// ids returns the token IDs of a list result, in order.
func ids(r ListTokensResult) []string {
	out := make([]string, len(r.Tokens))
	for i, tok := range r.Tokens {
		out[i] = tok.ID
	}
	return out
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
