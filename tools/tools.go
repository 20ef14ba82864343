// Package tools holds the MCP tools and prompt of the server, one file each,
// and the server options they are meant to run with.
package tools

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/tokenaudit/influx-token-mcp/influx"
)

// Client is what the tools need from InfluxDB; *influx.Client implements it.
type Client interface {
	ListAuthorizations(ctx context.Context, f influx.ListFilter, fn func(*influx.Authorization) error) error
	GetAuthorization(ctx context.Context, id string) (*influx.Authorization, error)
	FindBuckets(ctx context.Context, name, id string) ([]influx.Bucket, error)
	FindOrgs(ctx context.Context, name string) ([]influx.Organization, error)
	FindUsers(ctx context.Context, name string) ([]influx.User, error)
	Exists(ctx context.Context, kind, id string) (bool, error)
}

// Settings are the parts of the configuration the tools use.
type Settings struct {
	Host         string // for messages only
	DefaultOrg   string // INFLUX_ORG: list_tokens' org when the call names none
	DefaultOrgID string // INFLUX_ORG_ID: likewise, by ID
	// DefaultOrgSource says where the default org was set: "INFLUX_ORG",
	// "INFLUX_ORG_ID" or "profile" (influx.ConfigSource.Org).
	DefaultOrgSource string
	Timeout          time.Duration // INFLUX_TIMEOUT, for messages only
}

// All returns every tool of the server. main.go and the tests register this
// one list, so the tests see exactly what users get.
func All(c Client, s Settings) []server.ServerTool {
	tools := []server.ServerTool{
		ListTokens(c, s),
		GetToken(c, s),
	}
	for i := range tools {
		tools[i].Handler = withCallDeadline(tools[i].Handler, callTimeout(s))
	}
	return tools
}

// callTimeoutFactor times INFLUX_TIMEOUT is how long one tool call may take
// in all: each request has INFLUX_TIMEOUT, and a call makes a few (the token
// list, lookups of a resource's org, retries on 429 and 503).
const callTimeoutFactor = 3

// defaultTimeout stands in for an unset Settings.Timeout (tests).
const defaultTimeout = 30 * time.Second

func callTimeout(s Settings) time.Duration {
	return callTimeoutFactor * cmp.Or(s.Timeout, defaultTimeout)
}

// withCallDeadline gives every call of a tool one deadline for all the
// requests it makes, so that no sequence of requests, each within
// INFLUX_TIMEOUT, can keep a call going for long.
func withCallDeadline(next server.ToolHandlerFunc, d time.Duration) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return next(ctx, req)
	}
}

// Prompts returns every prompt of the server.
func Prompts() []server.ServerPrompt {
	return []server.ServerPrompt{AuditTokensPrompt()}
}

const instructions = `This server audits InfluxDB API tokens (authorizations) read-only: who holds which token, what each can read or write, and which are risky or stale. ` +
	`Use list_tokens to search and filter (by user, org, status, description, effective access to a resource, risk flag, creation time) and get its summary counts; use get_token for one token's full permissions. ` +
	`Token secrets are never shown, and InfluxDB lists only the tokens the configured token may read.`

// ServerOptions are the options the server runs with, shared by main.go and
// the tests so that both exercise the same validation and recovery. tools
// are the tools whose argument errors get rewritten for the model.
func ServerOptions(log *slog.Logger, tools []server.ServerTool) []server.ServerOption {
	return []server.ServerOption{
		server.WithToolCapabilities(false),
		server.WithPromptCapabilities(false),
		server.WithInstructions(instructions),
		server.WithTitle("InfluxDB Token Audit"),
		server.WithDescription("Audits InfluxDB API tokens read-only: who holds which token, what each can read or write, and which are risky or stale. Token secrets are never shown."),
		server.WithWebsiteURL("https://github.com/tokenaudit/influx-token-mcp"),
		server.WithRecovery(),
		server.WithToolHandlerMiddleware(recoverAsToolError(log)),
		server.WithToolHandlerMiddleware(logCalls(log)),
		server.WithInputSchemaValidation(),
		server.WithOutputSchemaValidation(),
		server.WithHooks(argumentHints(tools, log)),
	}
}

// NewServer builds the MCP server with every tool and prompt.
func NewServer(c Client, s Settings, version string, log *slog.Logger) *server.MCPServer {
	tools := All(c, s)
	srv := server.NewMCPServer("influx-token-mcp", version, append(ServerOptions(log, tools), CompletionOptions(c, log)...)...)
	srv.AddTools(tools...)
	srv.AddPrompts(Prompts()...)
	return srv
}

// recoverAsToolError turns a panic in a handler into a tool error, so the
// assistant gets an answer and the session goes on. (server.WithRecovery,
// outside it, would answer with a protocol error instead.)
func recoverAsToolError(log *slog.Logger) server.ToolHandlerMiddleware {
	return func(next server.ToolHandlerFunc) server.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (res *mcp.CallToolResult, err error) {
			defer func() {
				if r := recover(); r != nil {
					log.Error("tool handler panicked", "tool", req.Params.Name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
					res = mcp.NewToolResultError(fmt.Sprintf("internal error in %s; this is a bug in influx-token-mcp, please report it. The next call will work normally.", req.Params.Name))
					err = nil
				}
			}()
			return next(ctx, req)
		}
	}
}

// logCalls logs each call at debug level: tool, arguments (never secret),
// duration and outcome.
func logCalls(log *slog.Logger) server.ToolHandlerMiddleware {
	return func(next server.ToolHandlerFunc) server.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			start := time.Now()
			res, err := next(ctx, req)
			if log.Enabled(ctx, slog.LevelDebug) {
				args, _ := json.Marshal(req.GetRawArguments())
				isErr := res != nil && res.IsError
				log.Debug("tool call", "tool", req.Params.Name, "args", clipN(string(args), 500), "ms", time.Since(start).Milliseconds(), "isError", isErr)
			}
			return res, err
		}
	}
}

// nonNullable rewrites schema types such as ["null", "integer"], which the
// struct-to-schema generator gives pointers and slices, to the plain type:
// the tools never send null, and some clients reject type lists. It must
// follow mcp.WithInputSchema and mcp.WithOutputSchema.
func nonNullable() mcp.ToolOption {
	return func(t *mcp.Tool) {
		// Rewritten as text to keep the properties in declaration order.
		t.RawInputSchema = nullableType.ReplaceAll(t.RawInputSchema, []byte(`"$1"`))
		for _, p := range t.OutputSchema.Properties {
			dropNull(p)
		}
	}
}

var nullableType = regexp.MustCompile(`\["null","(\w+)"\]`)

func dropNull(schema any) {
	switch s := schema.(type) {
	case map[string]any:
		if types, ok := s["type"].([]any); ok && len(types) == 2 {
			for i, t := range types {
				if t == "null" {
					s["type"] = types[1-i]
				}
			}
		}
		for _, v := range s {
			dropNull(v)
		}
	case []any:
		for _, v := range s {
			dropNull(v)
		}
	}
}

// readOnly sets the title and annotations of every tool here: nothing is
// changed, and the tools talk only to the one configured InfluxDB. The title
// goes both at the top level (protocol 2025-06-18 on) and in the annotations
// (what older clients read).
func readOnly(title string) mcp.ToolOption {
	return func(t *mcp.Tool) {
		t.Title = title
		mcp.WithToolAnnotation(mcp.ToolAnnotation{
			Title:           title,
			ReadOnlyHint:    mcp.ToBoolPtr(true),
			DestructiveHint: mcp.ToBoolPtr(false),
			IdempotentHint:  mcp.ToBoolPtr(true),
			OpenWorldHint:   mcp.ToBoolPtr(false),
		})(t)
	}
}
