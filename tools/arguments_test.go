package tools

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// The hint must not depend on how mcp-go words its own validation errors: an
// mcp-go upgrade may change them at will.
func TestArgumentHintsIgnoreMCPGoWording(t *testing.T) {
	hooks := argumentHints(All(nil, Settings{}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	call := func(args map[string]any, text string) string {
		req := &mcp.CallToolRequest{}
		req.Params.Name = "list_tokens"
		req.Params.Arguments = args
		res := mcp.NewToolResultError(text)
		for _, hook := range hooks.OnAfterCallTool {
			hook(context.Background(), 1, req, res)
		}
		return res.Content[0].(mcp.TextContent).Text
	}
	if got := call(map[string]any{"usr": "alice"}, "some future mcp-go wording"); got != `Invalid arguments: unknown argument "usr" (list_tokens takes action, allOrgs, createdAfter, createdBefore, description, limit, offset, org, orgID, resourceID, resourceName, resourceType, risk, status, user, userID).` {
		t.Errorf("unknown argument: got %q", got)
	}
	// Valid arguments: the error is the handler's own and stays as it is.
	if got := call(map[string]any{"user": "alice"}, "user \"alice\" not found"); got != `user "alice" not found` {
		t.Errorf("handler error rewritten: got %q", got)
	}
}
