package tools

import (
	"slices"
	"strings"
	"testing"
)

func TestFoldReadWrite(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{}, []string{}},
		{[]string{"read:orgs/acme/buckets"}, []string{"read:orgs/acme/buckets"}},
		{[]string{"read:orgs/acme/buckets", "write:orgs/acme/buckets"}, []string{"read+write:orgs/acme/buckets"}},
		{[]string{"write:orgs/acme/buckets", "read:orgs/acme/buckets"}, []string{"read+write:orgs/acme/buckets"}},
		{[]string{"read:/users", "write:orgs/acme/buckets/telegraf", "write:/users", "read:orgs/acme/buckets"},
			[]string{"read+write:/users", "write:orgs/acme/buckets/telegraf", "read:orgs/acme/buckets"}},
		{[]string{"read:/users", "read:/users"}, []string{"read:/users"}},
		{[]string{"read:orgs/a/buckets", "read:orgs/b/buckets"}, []string{"read:orgs/a/buckets", "read:orgs/b/buckets"}},
	} {
		if got := foldReadWrite(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("foldReadWrite(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestShortTime(t *testing.T) {
	for in, want := range map[string]string{
		"2026-11-27T07:08:39.456506298Z": "2026-11-27T07:08:39Z",
		"2026-11-27T07:08:39Z":           "2026-11-27T07:08:39Z",
		"2026-11-27T07:08:39.5+02:00":    "2026-11-27T07:08:39.5+02:00",
		"":                               "",
	} {
		if got := shortTime(in); got != want {
			t.Errorf("shortTime(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteToken(t *testing.T) {
	for _, tc := range []struct {
		name string
		tok  Token
		want string
	}{
		{"full", Token{ID: tokTelegrafW, Status: "active", User: "alice", UserID: userAlice, Org: "acme", OrgID: orgAcme, CreatedAt: "2025-03-15T09:30:00.123Z",
			Description: `agent "web-01"`, Permissions: []string{"write:orgs/acme/buckets/telegraf", "read:orgs/acme/buckets/telegraf"}, Risks: []string{}},
			"- 0a00000000000003 active alice@acme 2025-03-15T09:30:00Z \"agent \\\"web-01\\\"\"\n  read+write:orgs/acme/buckets/telegraf\n"},
		{"IDs when names are missing, risks", Token{ID: tokNoDesc, Status: "inactive", UserID: userCarol, OrgID: orgGlobex, Permissions: []string{}, Risks: []string{riskInactive, riskNoDescription}},
			"- 0a00000000000007 inactive " + userCarol + "@" + orgGlobex + "  \"\" [inactive, no-description]\n  (no permissions)\n"},
		{"nothing known", Token{ID: tokNoDesc, Status: "active"}, "- 0a00000000000007 active ?@?  \"\"\n  (no permissions)\n"},
		{"an access query shows what grants it", Token{ID: tokNoDesc, Status: "active", User: "admin", Org: "acme",
			Permissions: []string{"read:orgs/acme/buckets", "write:orgs/acme/buckets", "read:/users/admin", "write:orgs/acme/dashboards"}, grants: []string{"write:orgs/acme/buckets"}},
			"- 0a00000000000007 active admin@acme  \"\"\n  grants it: write:orgs/acme/buckets (+3 other permissions)\n"},
		{"an access query granted by every permission", Token{ID: tokNoDesc, Status: "active", User: "admin", Org: "acme",
			Permissions: []string{"read:/buckets", "write:/buckets"}, grants: []string{"read:/buckets", "write:/buckets"}},
			"- 0a00000000000007 active admin@acme  \"\"\n  grants it: read+write:/buckets\n"},
		{"a newline in the description stays on one line", Token{ID: tokNoDesc, Status: "active", Description: "line1\nline2", Permissions: []string{"read:/users"}},
			"- 0a00000000000007 active ?@?  \"line1\\nline2\"\n  read:/users\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			writeToken(&b, &tc.tok)
			if b.String() != tc.want {
				t.Errorf("\n got %q\nwant %q", b.String(), tc.want)
			}
		})
	}
}

func TestRenderList(t *testing.T) {
	tok := Token{ID: tokTelegrafW, Status: "active", User: "alice", Org: "acme", CreatedAt: "2025-03-15T09:30:00Z", Description: "d", Permissions: []string{"read:/users"}, Risks: []string{}}
	summary := Summary{Active: 9, Inactive: 1, Risks: RiskCounts{InstanceWide: 1, CanCreateTokens: 2, NoDescription: 3},
		Orgs:  []GroupCount{{"acme", orgAcme, 6}, {"", orgGlobex, 4}},
		Users: []GroupCount{{"alice", userAlice, 5}}, OtherUsers: Rest{Groups: 2, Tokens: 5}}
	for _, tc := range []struct {
		name     string
		r        ListTokensResult
		limit    int
		want     []string
		wantNone []string
	}{
		{"nothing", ListTokensResult{Tokens: []Token{}, Notes: []string{visibilityNote}}, 50,
			[]string{"No token matches. Only tokens the configured token may read are listed."}, []string{"Summary", "More", "Note:"}},
		{"counts only", ListTokensResult{Tokens: []Token{}, Total: 10, Truncated: true, Summary: summary, Notes: []string{visibilityNote}}, 0,
			[]string{"10 tokens match (limit 0: counts only).", "Summary: 9 active, 1 inactive; risks: instance-wide 1, can-create-tokens 2, dangling 0, no-description 3; orgs: acme 6, " + orgGlobex + " 4; users: alice 5, 2 more with 5."},
			[]string{"More", "\n- "}},
		{"past the end", ListTokensResult{Tokens: []Token{}, Total: 10, Offset: 12, Summary: summary, Notes: []string{visibilityNote}}, 50,
			[]string{"10 tokens match; offset 12 is past the end (use offset 0 to 9)."}, []string{"More"}},
		{"a middle page", ListTokensResult{Tokens: []Token{tok, tok}, Count: 2, Total: 10, Offset: 2, Truncated: true, Summary: summary, Notes: []string{visibilityNote, "an extra caveat"}}, 2,
			[]string{"Tokens 3-4 of 10 matching, oldest first.", "- " + tokTelegrafW + " active alice@acme", "More: call again with offset=4.", "Note: an extra caveat"},
			[]string{visibilityNote}},
		{"the last page", ListTokensResult{Tokens: []Token{tok}, Count: 1, Total: 10, Offset: 9, Summary: summary, Notes: []string{visibilityNote}}, 5,
			[]string{"Tokens 10-10 of 10 matching"}, []string{"More", "Note:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := renderList(&tc.r, &listQuery{limit: tc.limit, offset: tc.r.Offset})
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tc.wantNone {
				if strings.Contains(got, w) {
					t.Errorf("has %q:\n%s", w, got)
				}
			}
			if strings.HasSuffix(got, "\n") {
				t.Error("trailing newline")
			}
		})
	}
}
