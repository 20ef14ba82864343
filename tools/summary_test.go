package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/tokenaudit/influx-token-mcp/influx"
)

// matchOf is a match for a token of org and user (IDs derived from names).
func matchOf(org, user, status, description string, perms ...influx.Permission) match {
	a := &influx.Authorization{
		ID: "0a00000000000001", Status: status, Description: description,
		Org: org, OrgID: "id-" + org, User: user, UserID: "id-" + user, Permissions: perms,
	}
	risks, reasons := risksOf(context.Background(), a, nil)
	return match{auth: a, risks: risks, reasons: reasons}
}

func TestSummarizeCounts(t *testing.T) {
	ms := []match{
		matchOf("acme", "alice", "active", "a", perm("write", "authorizations", "", "", ""), perm("write", "users", "", "", "")),
		matchOf("acme", "alice", "inactive", ""),
		matchOf("acme", "bob", "inactive", "c", perm("write", "authorizations", "", "", "o"), perm("write", "users", "1b2f4c47da080002", "", "o")),
		matchOf("globex", "bob", "active", "d", perm("read", "buckets", "", "", "")),
	}
	s := summarize(ms)
	want := Summary{
		Active: 2, Inactive: 2,
		Risks:      RiskCounts{InstanceWide: 2, CanCreateTokens: 2, Inactive: 2, NoDescription: 1},
		Orgs:       []GroupCount{{"acme", "id-acme", 3}, {"globex", "id-globex", 1}},
		Users:      []GroupCount{{"alice", "id-alice", 2}, {"bob", "id-bob", 2}},
		OtherOrgs:  Rest{},
		OtherUsers: Rest{},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("\n got %+v\nwant %+v", s, want)
	}
}

func TestSummarizeTiesAreDeterministic(t *testing.T) {
	var ms []match
	add := func(orgName, orgID string, n int) {
		for range n {
			m := matchOf(orgName, "u", "active", "d")
			m.auth.OrgID = orgID
			ms = append(ms, m)
		}
	}
	add("beta", "0000000000000003", 2)
	add("alpha", "0000000000000009", 2)
	add("alpha", "0000000000000002", 2) // same name, another org: by ID
	add("gamma", "0000000000000001", 3)
	add("", "0000000000000005", 2) // a name InfluxDB did not give
	want := []GroupCount{
		{"gamma", "0000000000000001", 3},
		{"", "0000000000000005", 2},
		{"alpha", "0000000000000002", 2},
		{"alpha", "0000000000000009", 2},
		{"beta", "0000000000000003", 2},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		rng.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
		if got := summarize(ms).Orgs; !reflect.DeepEqual(got, want) {
			t.Fatalf("shuffle %d: %+v, want %+v", i, got, want)
		}
	}
}

func TestSummarizeTopTen(t *testing.T) {
	for _, tc := range []struct {
		groups   int
		wantRest Rest
	}{
		{1, Rest{}},
		{10, Rest{}},
		{11, Rest{Groups: 1, Tokens: 1}},
		{13, Rest{Groups: 3, Tokens: 1 + 2 + 3}},
	} {
		t.Run(fmt.Sprint(tc.groups, " groups"), func(t *testing.T) {
			// Group i has i+1 tokens, so the smallest fall into the rest.
			var ms []match
			total := 0
			for i := range tc.groups {
				for range i + 1 {
					ms = append(ms, matchOf(fmt.Sprintf("org-%02d", i), fmt.Sprintf("user-%02d", i), "active", "d"))
					total++
				}
			}
			s := summarize(ms)
			for _, pair := range []struct {
				top  []GroupCount
				rest Rest
			}{{s.Orgs, s.OtherOrgs}, {s.Users, s.OtherUsers}} {
				if len(pair.top) != min(tc.groups, 10) || pair.rest != tc.wantRest {
					t.Fatalf("top %d, rest %+v; want %d, %+v", len(pair.top), pair.rest, min(tc.groups, 10), tc.wantRest)
				}
				sum := pair.rest.Tokens
				for i, g := range pair.top {
					sum += g.Tokens
					if want := tc.groups - i; g.Tokens != want {
						t.Errorf("top[%d] has %d tokens, want %d", i, g.Tokens, want)
					}
				}
				if sum != total {
					t.Errorf("top and rest count %d tokens, want %d", sum, total)
				}
			}
		})
	}
}

func TestSummarizeEmpty(t *testing.T) {
	s := summarize(nil)
	if s.Orgs == nil || s.Users == nil || len(s.Orgs) != 0 || len(s.Users) != 0 {
		t.Errorf("%+v", s)
	}
	b, _ := json.Marshal(s)
	if strings.Contains(string(b), "null") {
		t.Errorf("empty summary has null: %s", b)
	}
}

func TestSummaryThroughTheTool(t *testing.T) {
	t.Run("many orgs and users", func(t *testing.T) {
		f := generatedWorld(1000).start(t)
		h := newHarness(t, f, Settings{})
		r := structured[ListTokensResult](t, h.call(t, "list_tokens", map[string]any{"limit": 0}))
		s := r.Summary
		// 1000 tokens over 12 orgs and 15 users, round robin.
		if len(s.Orgs) != 10 || s.OtherOrgs.Groups != 2 || len(s.Users) != 10 || s.OtherUsers.Groups != 5 {
			t.Fatalf("orgs %d + %+v, users %d + %+v", len(s.Orgs), s.OtherOrgs, len(s.Users), s.OtherUsers)
		}
		for _, pair := range []struct {
			top  []GroupCount
			rest Rest
		}{{s.Orgs, s.OtherOrgs}, {s.Users, s.OtherUsers}} {
			sum := pair.rest.Tokens
			for i, g := range pair.top {
				sum += g.Tokens
				if i > 0 && g.Tokens > pair.top[i-1].Tokens {
					t.Errorf("not ordered by count: %+v", pair.top)
				}
			}
			if sum != 1000 {
				t.Errorf("groups count %d tokens, want 1000", sum)
			}
		}
		// 1000 = 12*83 + 4: org-00..org-03 have 84 tokens and come first, by name.
		if s.Orgs[0] != (GroupCount{"org-00", fmt.Sprintf("%016x", 0x2000), 84}) || s.Orgs[4].Tokens != 83 {
			t.Errorf("orgs %+v", s.Orgs)
		}
		if s.Active != 900 || s.Inactive != 100 || s.Risks.Inactive != 100 || s.Risks.NoDescription != 100 || s.Risks.InstanceWide != 4 {
			t.Errorf("summary %+v", s)
		}
		// All-access tokens write their org's users but name none, so only
		// the operator tokens can create tokens.
		if s.Risks.CanCreateTokens != 4 {
			t.Errorf("can-create-tokens %d, want 4 (the operator tokens)", s.Risks.CanCreateTokens)
		}
		msg := text(t, h.call(t, "list_tokens", map[string]any{"limit": 0}))
		if !strings.Contains(msg, "orgs: org-00 84, org-01 84, org-02 84, org-03 84, org-04 83") || !strings.Contains(msg, ", 2 more with 166; users: ") {
			t.Errorf("text:\n%s", msg)
		}
	})

	t.Run("no match", func(t *testing.T) {
		f := baseWorld().start(t)
		h := newHarness(t, f, Settings{})
		res := h.call(t, "list_tokens", map[string]any{"org": "acme", "status": "inactive"})
		r := structured[ListTokensResult](t, res)
		if r.Total != 0 || r.Count != 0 || r.Truncated || !reflect.DeepEqual(r.Summary, Summary{Orgs: []GroupCount{}, Users: []GroupCount{}}) {
			t.Errorf("%+v", r)
		}
		if b, _ := json.Marshal(res.StructuredContent); strings.Contains(string(b), "null") {
			t.Errorf("null in %s", b)
		}
		if msg := text(t, res); !strings.HasPrefix(msg, "No token matches.") || strings.Contains(msg, "Summary") {
			t.Errorf("text:\n%s", msg)
		}
	})
}

// summarize counts matches the way list_tokens does, all at once.
func summarize(matches []match) Summary {
	var t tally
	for _, m := range matches {
		t.add(m)
	}
	return t.summary()
}
