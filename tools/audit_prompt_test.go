package tools

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tokenaudit/influx-token-mcp/influx"
)

func getPrompt(t *testing.T, h *harness, args map[string]string) (string, error) {
	t.Helper()
	params := map[string]any{"name": "audit_tokens"}
	if args != nil {
		params["arguments"] = args
	}
	raw, err := h.rawResponse(t, "prompts/get", params)
	if err != nil {
		return "", err
	}
	res, err := mcp.ParseGetPromptResult(&raw)
	if err != nil {
		t.Fatalf("prompts/get: %v in %s", err, raw)
	}
	if len(res.Messages) != 1 || res.Messages[0].Role != mcp.RoleUser {
		t.Fatalf("messages %+v", res.Messages)
	}
	tc, ok := res.Messages[0].Content.(mcp.TextContent)
	if !ok {
		t.Fatalf("content %T", res.Messages[0].Content)
	}
	return tc.Text, nil
}

func TestAuditPromptList(t *testing.T) {
	h := newHarness(t, baseWorld().start(t), Settings{})
	res, err := h.srv.Client().ListPrompts(t.Context(), mcp.ListPromptsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Prompts) != 1 {
		t.Fatalf("%d prompts", len(res.Prompts))
	}
	p := res.Prompts[0]
	if p.Name != "audit_tokens" || p.Title == "" || p.Description == "" {
		t.Errorf("%+v", p)
	}
	var names []string
	for _, a := range p.Arguments {
		names = append(names, a.Name)
		if a.Required || a.Description == "" {
			t.Errorf("argument %+v: should be optional and described", a)
		}
	}
	if !slices.Equal(names, []string{"org", "user"}) {
		t.Errorf("arguments %v", names)
	}
}

// snippetRE finds the tool calls the prompt writes as `tool {json}`.
var (
	snippetRE      = regexp.MustCompile("`([a-z_]+) (\\{[^`]*\\})`")
	snippetStartRE = regexp.MustCompile("`[a-z_]+ \\{")
)

type snippet struct {
	tool string
	args map[string]any
	raw  string
}

func snippets(t *testing.T, text string) []snippet {
	t.Helper()
	var out []snippet
	for _, m := range snippetRE.FindAllStringSubmatch(text, -1) {
		s := snippet{tool: m[1], raw: m[0]}
		if err := json.Unmarshal([]byte(m[2]), &s.args); err != nil {
			t.Errorf("%s: the arguments are not a JSON object: %v", m[0], err)
			continue
		}
		out = append(out, s)
	}
	// Every code span that starts a tool call must parse as one.
	if starts := len(snippetStartRE.FindAllString(text, -1)); starts != len(out) {
		t.Errorf("%d tool calls start, %d parse, in:\n%s", starts, len(out), text)
	}
	return out
}

func TestAuditPromptGet(t *testing.T) {
	h := newHarness(t, baseWorld().start(t), Settings{})
	for _, tc := range []struct {
		name   string
		args   map[string]string
		scope  map[string]any // what every list_tokens snippet must carry
		target string
	}{
		// Without org, every call audits every org: the server's default
		// org must not narrow it.
		{"no arguments", nil, map[string]any{"allOrgs": true}, "every InfluxDB API token I can see, in every org"},
		{"empty arguments", map[string]string{"org": "", "user": ""}, map[string]any{"allOrgs": true}, "every InfluxDB API token I can see"},
		{"org", map[string]string{"org": "acme"}, map[string]any{"org": "acme"}, `the InfluxDB API tokens of org "acme"`},
		{"user", map[string]string{"user": "alice"}, map[string]any{"user": "alice", "allOrgs": true}, `the InfluxDB API tokens of user "alice"`},
		{"both", map[string]string{"org": "acme", "user": "alice"}, map[string]any{"org": "acme", "user": "alice"}, `the InfluxDB API tokens of org "acme" and user "alice"`},
		{"quotes and backticks", map[string]string{"org": "acme \"prod\" `x`"}, map[string]any{"org": "acme \"prod\" `x`"}, "org "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, err := getPrompt(t, h, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(text, `\u003c`) {
				t.Errorf("placeholders are HTML-escaped:\n%s", text)
			}
			if !strings.Contains(text, tc.target) {
				t.Errorf("text lacks %q:\n%s", tc.target, text)
			}
			// The overview step states the scope.
			overview := text[strings.Index(text, "1. Overview"):]
			overview, _, _ = strings.Cut(overview, "\n")
			wantScope := "Scope: every org the configured token can see"
			if org := tc.args["org"]; org != "" {
				wantScope = "Scope: org "
			}
			if !strings.Contains(overview, wantScope) {
				t.Errorf("overview %q lacks %q", overview, wantScope)
			}
			ss := snippets(t, text)
			lists := 0
			for _, s := range ss {
				if s.tool != "list_tokens" {
					continue
				}
				lists++
				for k, v := range tc.scope {
					if s.args[k] != v {
						t.Errorf("%s: %s = %v, want %q", s.raw, k, s.args[k], v)
					}
				}
				for _, k := range []string{"org", "user", "allOrgs"} {
					if _, scoped := tc.scope[k]; !scoped && s.args[k] != nil {
						t.Errorf("%s: %s set though the prompt was not asked for it", s.raw, k)
					}
				}
			}
			if lists < 5 {
				t.Errorf("only %d list_tokens snippets", lists)
			}
		})
	}

	t.Run("unknown argument", func(t *testing.T) {
		_, err := getPrompt(t, h, map[string]string{"organization": "acme"})
		if err == nil || !strings.Contains(err.Error(), `"organization"`) || !strings.Contains(err.Error(), "org and user") {
			t.Errorf("err = %v, want one naming the argument and the allowed ones", err)
		}
	})
}

// TestAuditPromptSnippetsMatchSchemas checks every `tool {json}` call in the
// prompt against the input schemas of a real tools/list, and runs each call
// that has no placeholder against the fake InfluxDB.
func TestAuditPromptSnippetsMatchSchemas(t *testing.T) {
	h := newHarness(t, baseWorld().start(t), Settings{})
	schemas := map[string]struct {
		props    map[string]map[string]any
		required []string
	}{}
	for _, tool := range h.listTools(t) {
		b, err := json.Marshal(tool.InputSchema)
		if err != nil {
			t.Fatal(err)
		}
		var s struct {
			Properties map[string]map[string]any `json:"properties"`
			Required   []string                  `json:"required"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		if len(s.Properties) == 0 {
			t.Fatalf("%s: no properties in %s", tool.Name, b)
		}
		schemas[tool.Name] = struct {
			props    map[string]map[string]any
			required []string
		}{s.Properties, s.Required}
	}

	for _, args := range []map[string]string{nil, {"org": "acme", "user": "alice"}} {
		prompt, err := getPrompt(t, h, args)
		if err != nil {
			t.Fatal(err)
		}
		ss := snippets(t, prompt)
		seen := map[string]bool{}
		for _, s := range ss {
			t.Run(fmt.Sprint(args, s.raw), func(t *testing.T) {
				seen[s.tool] = true
				schema, ok := schemas[s.tool]
				if !ok {
					t.Fatalf("%s: no tool %q in tools/list", s.raw, s.tool)
				}
				for k, v := range s.args {
					prop, ok := schema.props[k]
					if !ok {
						t.Errorf("%s: %s has no argument %q (it has %v)", s.raw, s.tool, k, sortedKeys(schema.props))
						continue
					}
					if enum, ok := prop["enum"].([]any); ok && !slices.Contains(enum, v) {
						t.Errorf("%s: %s = %v is not one of %v", s.raw, k, v, enum)
					}
				}
				for _, r := range schema.required {
					if _, ok := s.args[r]; !ok {
						t.Errorf("%s: lacks the required %s", s.raw, r)
					}
				}
				if strings.Contains(s.raw, "<") {
					return // a placeholder for the model to fill in
				}
				if res := h.call(t, s.tool, s.args); res.IsError {
					t.Errorf("%s fails: %s", s.raw, text(t, res))
				}
			})
		}
		for name := range schemas {
			if !seen[name] {
				t.Errorf("the prompt never shows how to call %s", name)
			}
		}
	}
}

// TestAuditPromptIsEconomical follows the prompt over 10,000 tokens as an
// assistant would: every call it shows, two get_token calls, and the
// pages it asks for. That is at most 12 calls and, with the list shared as
// main.go shares it, at most 3 list requests to InfluxDB.
func TestAuditPromptIsEconomical(t *testing.T) {
	fake := generatedWorld(10000).start(t)
	h := newCachedHarness(t, fake, Settings{}, influx.NewListCache(time.Hour, 0))
	prompt, err := getPrompt(t, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	oneYearAgo := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	calls, opened := 0, 0
	for _, s := range snippets(t, prompt) {
		if s.tool == "get_token" {
			continue // opened below, for tokens the lists showed
		}
		args := map[string]any{}
		for k, v := range s.args {
			if str, ok := v.(string); ok && strings.HasPrefix(str, "<one year ago") {
				v = oneYearAgo
			}
			args[k] = v
		}
		for {
			calls++
			res := structured[ListTokensResult](t, h.call(t, s.tool, args))
			if args["risk"] == riskCanCreateTokens {
				for _, tok := range res.Tokens[:min(2, len(res.Tokens))] {
					calls++
					opened++
					if r := h.call(t, "get_token", map[string]any{"authID": tok.ID}); r.IsError {
						t.Fatal(text(t, r))
					}
				}
			}
			// The prompt pages through instance-wide tokens only.
			if !res.Truncated || args["risk"] != riskInstanceWide || res.Total > 1000 {
				break
			}
			args["offset"] = res.Offset + res.Count
		}
	}
	if opened != 2 {
		t.Fatalf("opened %d tokens, want 2 (the world has token creators)", opened)
	}
	if calls > 12 {
		t.Errorf("the audit took %d calls, want at most 12", calls)
	}
	if n := len(fake.RequestsTo(listPath)); n > 3 {
		t.Errorf("the audit asked InfluxDB for the token list %d times, want at most 3", n)
	}
}
