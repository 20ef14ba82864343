package e2e

import (
	"cmp"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/tokenaudit/influx-token-mcp/integration/testserver"
)

// Issue 8: the counts-only overview and the audit_tokens prompt.

// TestSummaryMatchesInfluxDB: list_tokens with limit 0 returns no tokens
// and a summary equal to the counts computed from InfluxDB's own list for
// the same token and filters: active/inactive, each risk flag, per org and
// per user (most tokens first, ties by name).
func TestSummaryMatchesInfluxDB(t *testing.T) {
	t.Parallel()
	e := shared
	for _, caller := range []string{testserver.TokOperator, testserver.TokAuditor, testserver.TokAuditorRestricted, testserver.TokAuditorInactive} {
		t.Run(caller, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			s := e.session(t, caller, nil)
			for _, filter := range []map[string]any{{}, {"org": testserver.OrgAcme}, {"user": testserver.UserBob}} {
				want := e.directList(ctx, t, caller, filter)
				got, r := list(ctx, t, s, withLimit(filter, 0))
				if len(got.Tokens) != 0 || got.Count != 0 || got.Total != len(want) || got.Truncated {
					t.Errorf("%s limit 0: %d tokens, count %d, total %d, truncated %v; InfluxDB lists %d",
						toJSON(filter), len(got.Tokens), got.Count, got.Total, got.Truncated, len(want))
				}
				if w := wantSummary(t, want); !summariesEqual(got.Summary, w) {
					t.Errorf("%s summary\n got %s\nwant %s", toJSON(filter), toJSON(got.Summary), toJSON(w))
				}
				if len(want) > 0 {
					wantContains(t, "text", r.Text, "limit 0: counts only", itoa(len(want))+" tokens match")
				}
				if strings.Contains(r.Text, "offset=") {
					t.Errorf("limit 0 text suggests paging on: %s", r.Text)
				}
			}
		})
	}
}

// wantSummary counts InfluxDB's authorizations the way the README defines
// the summary.
func wantSummary(t testing.TB, as []apiAuth) summaryOut {
	s := summaryOut{Risks: map[string]int{"instance-wide": 0, "can-create-tokens": 0, "dangling": 0, "inactive": 0, "no-description": 0}}
	orgs, users := map[string]*groupOut{}, map[string]*groupOut{}
	add := func(m map[string]*groupOut, id, name string) {
		if m[id] == nil {
			m[id] = &groupOut{ID: id, Name: name}
		}
		m[id].Tokens++
	}
	for _, a := range as {
		if a.Status == "inactive" {
			s.Inactive++
		} else {
			s.Active++
		}
		for _, r := range wantRisks(t, a) {
			s.Risks[r]++
		}
		add(orgs, a.OrgID, a.Org)
		add(users, a.UserID, a.User)
	}
	sorted := func(m map[string]*groupOut) []groupOut {
		out := []groupOut{}
		for _, g := range m {
			out = append(out, *g)
		}
		slices.SortFunc(out, func(a, b groupOut) int {
			return cmp.Or(cmp.Compare(b.Tokens, a.Tokens), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
		})
		return out
	}
	s.Orgs, s.Users = sorted(orgs), sorted(users)
	return s
}

func summariesEqual(a, b summaryOut) bool {
	norm := func(s summaryOut) string {
		if s.Orgs == nil {
			s.Orgs = []groupOut{}
		}
		if s.Users == nil {
			s.Users = []groupOut{}
		}
		return toJSON(s)
	}
	return norm(a) == norm(b)
}

// toolCall matches the calls the audit prompt names: `tool {json}`.
var toolCall = regexp.MustCompile("`(list_tokens|get_token) (\\{[^`]*\\})`")

// placeholder matches a value the prompt leaves to the assistant, e.g.
// "<one year ago, RFC 3339>" or "<id>".
var placeholder = regexp.MustCompile(`^<[^<>]+>$`)

// TestAuditPrompt gets the audit_tokens prompt for org acme and makes every
// call it names, with its placeholders filled in: each must succeed, and
// each list_tokens answer must equal the fixture model's.
func TestAuditPrompt(t *testing.T) {
	t.Parallel()
	e := shared
	ctx := testContext(t)
	s := e.session(t, testserver.TokOperator, nil)

	prompts, err := s.Client().ListPrompts(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var audit *mcp.Prompt
	for _, p := range prompts.Prompts {
		if p.Name == "audit_tokens" {
			audit = p
		}
	}
	if audit == nil {
		t.Fatalf("prompts/list has no audit_tokens: %s", toJSON(prompts))
	}
	var argNames []string
	for _, a := range audit.Arguments {
		argNames = append(argNames, a.Name)
	}
	if !sameSet(argNames, []string{"org", "user"}) {
		t.Errorf("audit_tokens arguments %v, want org and user", argNames)
	}

	for _, args := range []map[string]string{{"org": testserver.OrgAcme}, {"org": testserver.OrgGlobex, "user": testserver.UserBob}, nil} {
		t.Run(toJSON(args), func(t *testing.T) {
			res := s.Prompt(ctx, t, "audit_tokens", args)
			var text strings.Builder
			for _, m := range res.Messages {
				if tc, ok := m.Content.(*mcp.TextContent); ok {
					text.WriteString(tc.Text)
				}
			}
			calls := toolCall.FindAllStringSubmatch(text.String(), -1)
			if len(calls) < 7 {
				t.Fatalf("the prompt names %d tool calls, want the audit's 7 or more:\n%s", len(calls), text.String())
			}
			tools := map[string]bool{}
			for _, c := range calls {
				tool := c[1]
				tools[tool] = true
				var callArgs map[string]any
				if err := json.Unmarshal([]byte(c[2]), &callArgs); err != nil {
					t.Errorf("call %s: arguments are not JSON: %v", c[0], err)
					continue
				}
				for k, v := range args {
					if tool == "list_tokens" && callArgs[k] != v {
						t.Errorf("call %s does not carry the prompt's %s %q", c[0], k, v)
					}
				}
				e.fillPlaceholders(t, callArgs, args)
				r := s.Call(ctx, t, tool, callArgs)
				if r.IsError {
					t.Errorf("call %s (as %s) failed: %s", c[0], toJSON(callArgs), r.Text)
					continue
				}
				if tool == "list_tokens" {
					var got listOut
					r.Decode(t, &got)
					if _, paged := callArgs["limit"]; !paged {
						callArgs["limit"] = 500 // the model's whole list
						got, _ = list(ctx, t, s, callArgs)
					}
					if callArgs["limit"] == 0 || callArgs["limit"] == float64(0) {
						if got.Total != len(e.expect(t, testserver.TokOperator, callArgs)) {
							t.Errorf("call %s: total %d, want %d", c[0], got.Total, len(e.expect(t, testserver.TokOperator, callArgs)))
						}
						continue
					}
					e.checkList(t, testserver.TokOperator, callArgs, got)
				}
			}
			if !tools["list_tokens"] || !tools["get_token"] {
				t.Errorf("the prompt names %v; want both tools", tools)
			}
		})
	}
}

// fillPlaceholders replaces the prompt's <...> values with real ones: times
// one year ago, and the ID of a token in the prompt's scope.
func (e *env) fillPlaceholders(t *testing.T, callArgs map[string]any, scope map[string]string) {
	t.Helper()
	for k, v := range callArgs {
		str, ok := v.(string)
		if !ok || !placeholder.MatchString(str) {
			continue
		}
		switch k {
		case "createdBefore", "createdAfter":
			callArgs[k] = time.Now().AddDate(-1, 0, 0).UTC().Format(time.RFC3339)
		case "authID":
			filter := map[string]any{}
			for sk, sv := range scope {
				filter[sk] = sv
			}
			in := e.expect(t, testserver.TokOperator, filter)
			if len(in) == 0 {
				t.Fatalf("no token in scope %v to fill %s", scope, k)
			}
			callArgs[k] = in[0]
		default:
			t.Fatalf("the prompt has a placeholder %s = %q this test does not know how to fill; teach it", k, str)
		}
	}
}
