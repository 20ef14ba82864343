package tools

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tokenaudit/influx-token-mcp/internal/fakeinflux"
)

func TestListTokensFilters(t *testing.T) {
	f := baseWorld().start(t)
	h := newHarness(t, f, Settings{})
	all := []string{tokOperator, tokAllAccess, tokTelegrafW, tokTelegrafR, tokInitechW, tokInactive, tokNoDesc, tokDeleted, tokMinter}
	for _, tc := range []struct {
		name      string
		args      map[string]any
		want      []string
		wantQuery map[string]string // what InfluxDB must be asked
	}{
		{"no filter", map[string]any{}, all, map[string]string{}},
		{"user", map[string]any{"user": "alice"}, []string{tokAllAccess, tokTelegrafW, tokDeleted}, map[string]string{"user": "alice"}},
		{"userID", map[string]any{"userID": userBob}, []string{tokTelegrafR, tokInactive, tokMinter}, map[string]string{"userID": userBob}},
		{"org", map[string]any{"org": "globex"}, []string{tokInactive, tokNoDesc}, map[string]string{"org": "globex"}},
		{"orgID", map[string]any{"orgID": orgInitech}, []string{tokInitechW}, map[string]string{"orgID": orgInitech}},
		{"user and org", map[string]any{"user": "bob", "org": "globex"}, []string{tokInactive}, map[string]string{"user": "bob", "org": "globex"}},
		{"userID, upper case", map[string]any{"userID": strings.ToUpper(userCarol)}, []string{}, map[string]string{"userID": strings.ToUpper(userCarol)}},
		{"unknown userID is an empty list", map[string]any{"userID": "ffffffffffffffff"}, []string{}, map[string]string{"userID": "ffffffffffffffff"}},
		{"status inactive", map[string]any{"status": "inactive"}, []string{tokInactive}, map[string]string{}},
		{"status active", map[string]any{"status": "active"}, without(all, tokInactive), map[string]string{}},
		{"description, any case", map[string]any{"description": "TELEGRAF"}, []string{tokTelegrafW}, map[string]string{}},
		{"description substring", map[string]any{"description": "a"}, []string{tokOperator, tokAllAccess, tokTelegrafW, tokTelegrafR, tokInactive, tokDeleted, tokMinter}, map[string]string{}},
		{"risk instance-wide", map[string]any{"risk": "instance-wide"}, []string{tokOperator}, map[string]string{}},
		// alice's all-access token writes acme's users but names none, and the minter writes no user: InfluxDB lets neither create a token.
		{"risk can-create-tokens", map[string]any{"risk": "can-create-tokens"}, []string{tokOperator}, map[string]string{}},
		{"risk inactive", map[string]any{"risk": "inactive"}, []string{tokInactive}, map[string]string{}},
		{"risk no-description (blank counts)", map[string]any{"risk": "no-description"}, []string{tokNoDesc}, map[string]string{}},
		{"filters combine", map[string]any{"org": "acme", "user": "alice", "description": "telegraf"}, []string{tokTelegrafW}, map[string]string{"org": "acme", "user": "alice"}},
		// Every request on a token needs the same action on a user too,
		// which neither alice's all-access token (acme's users, no id) nor
		// the minter has.
		{"resource type only", map[string]any{"resourceType": "authorizations", "action": "write"}, []string{tokOperator}, map[string]string{}},
		{"resource type, either action", map[string]any{"resourceType": "dashboards"}, []string{tokOperator, tokAllAccess, tokNoDesc}, map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := h.call(t, "list_tokens", tc.args)
			r := structured[ListTokensResult](t, res)
			if got := ids(r); !slices.Equal(got, tc.want) {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
			if r.Total != len(tc.want) || r.Count != len(tc.want) || r.Truncated || r.Offset != 0 {
				t.Errorf("total %d count %d truncated %v offset %d", r.Total, r.Count, r.Truncated, r.Offset)
			}
			assertListQuery(t, f, tc.wantQuery)
			msg := text(t, res)
			for _, id := range tc.want {
				if !strings.Contains(msg, id) {
					t.Errorf("text lacks %s", id)
				}
			}
			for _, id := range all {
				if !slices.Contains(tc.want, id) && strings.Contains(msg, id) {
					t.Errorf("text names %s, which does not match", id)
				}
			}
		})
	}
}

func without(list []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return slices.Contains(drop, s) })
}

func TestListTokensResult(t *testing.T) {
	f := baseWorld().start(t)
	h := newHarness(t, f, Settings{})
	// The fake sends each token's secret, as InfluxDB OSS does, so the
	// harness's check that no result holds one is not vacuous.
	if raw := string(f.ListJSON()); !strings.Contains(raw, `"token":"`+fakeinflux.Canary(tokTelegrafW)+`"`) {
		t.Fatalf("the fake does not send secrets: %.300s", raw)
	}
	res := h.call(t, "list_tokens", map[string]any{"description": "telegraf agent"})
	if res.IsError {
		t.Fatal(text(t, res))
	}
	r := structured[ListTokensResult](t, res)
	want := ListTokensResult{
		Tokens: []Token{{
			ID: tokTelegrafW, Description: "Telegraf agent on web-01", Status: "active",
			User: "alice", UserID: userAlice, Org: "acme", OrgID: orgAcme,
			CreatedAt: "2025-03-15T09:30:00.123456789Z", UpdatedAt: "2025-03-15T09:30:00.123456789Z",
			Permissions: []string{"write:orgs/acme/buckets/telegraf"},
			Risks:       []string{},
			RiskReasons: []RiskReason{},
		}},
		Count: 1, Total: 1,
		Summary: Summary{
			Active: 1,
			Orgs:   []GroupCount{{Name: "acme", ID: orgAcme, Tokens: 1}},
			Users:  []GroupCount{{Name: "alice", ID: userAlice, Tokens: 1}},
		},
		Notes: []string{visibilityNote},
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("\n got %+v\nwant %+v", r, want)
	}
	// A narrow token's risks are an empty list, never null.
	raw, _ := json.Marshal(res.StructuredContent)
	if !strings.Contains(string(raw), `"risks":[]`) || strings.Contains(string(raw), "null") {
		t.Errorf("structured content has null where the schema says array: %s", raw)
	}
	msg := text(t, res)
	for _, w := range []string{"Tokens 1-1 of 1", tokTelegrafW, "alice@acme", "2025-03-15T09:30:00Z", `"Telegraf agent on web-01"`, "write:orgs/acme/buckets/telegraf", "Summary: 1 active, 0 inactive", "configured token may read"} {
		if !strings.Contains(msg, w) {
			t.Errorf("text lacks %q:\n%s", w, msg)
		}
	}
}

func TestListTokensDefaultOrg(t *testing.T) {
	f := baseWorld().start(t)
	for _, tc := range []struct {
		name      string
		settings  Settings
		args      map[string]any
		wantQuery map[string]string
		wantOrgs  []string
	}{
		{"default org name applies", Settings{DefaultOrg: "globex"}, map[string]any{}, map[string]string{"org": "globex"}, []string{"globex"}},
		{"default org ID applies", Settings{DefaultOrgID: orgInitech}, map[string]any{}, map[string]string{"orgID": orgInitech}, []string{"initech"}},
		{"default applies with other filters", Settings{DefaultOrg: "acme"}, map[string]any{"user": "bob"}, map[string]string{"org": "acme", "user": "bob"}, []string{"acme"}},
		{"call's org wins", Settings{DefaultOrg: "globex"}, map[string]any{"org": "acme"}, map[string]string{"org": "acme"}, []string{"acme"}},
		{"call's orgID replaces a default name", Settings{DefaultOrg: "globex"}, map[string]any{"orgID": orgAcme}, map[string]string{"orgID": orgAcme}, []string{"acme"}},
		{"call's org replaces a default ID", Settings{DefaultOrgID: orgInitech}, map[string]any{"org": "globex"}, map[string]string{"org": "globex"}, []string{"globex"}},
		{"no default", Settings{}, map[string]any{}, map[string]string{}, []string{"acme", "globex", "initech"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, f, tc.settings)
			r := structured[ListTokensResult](t, h.call(t, "list_tokens", tc.args))
			assertListQuery(t, f, tc.wantQuery)
			var orgs []string
			for _, g := range r.Summary.Orgs {
				orgs = append(orgs, g.Name)
			}
			slices.Sort(orgs)
			if !slices.Equal(orgs, tc.wantOrgs) {
				t.Errorf("orgs %v, want %v", orgs, tc.wantOrgs)
			}
		})
	}
}

// TestDefaultOrgScope: an answer narrowed by the server's default org says
// so, in the text and in notes, naming the org and where it was set;
// allOrgs ignores the default; with org or orgID it is an argument error.
func TestDefaultOrgScope(t *testing.T) {
	f := baseWorld().start(t)
	for _, tc := range []struct {
		name      string
		settings  Settings
		args      map[string]any
		wantQuery map[string]string
		wantScope []string // words of the scope note; nil for none
	}{
		{"INFLUX_ORG", Settings{DefaultOrg: "acme", DefaultOrgSource: "INFLUX_ORG"}, map[string]any{"limit": 0}, map[string]string{"org": "acme"}, []string{`org "acme"`, "INFLUX_ORG", "allOrgs: true"}},
		{"INFLUX_ORG_ID", Settings{DefaultOrgID: orgGlobex, DefaultOrgSource: "INFLUX_ORG_ID"}, map[string]any{}, map[string]string{"orgID": orgGlobex}, []string{`org "` + orgGlobex + `"`, "INFLUX_ORG_ID"}},
		{"profile", Settings{DefaultOrg: "acme", DefaultOrgSource: `the influx CLI profile "local"`}, map[string]any{"risk": "inactive"}, map[string]string{"org": "acme"}, []string{`org "acme"`, `the influx CLI profile "local"`}},
		{"allOrgs ignores the default", Settings{DefaultOrg: "acme", DefaultOrgSource: "INFLUX_ORG"}, map[string]any{"allOrgs": true}, map[string]string{}, nil},
		{"the call's org is no default", Settings{DefaultOrg: "acme", DefaultOrgSource: "INFLUX_ORG"}, map[string]any{"org": "globex"}, map[string]string{"org": "globex"}, nil},
		{"no default", Settings{}, map[string]any{}, map[string]string{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, f, tc.settings)
			res := h.call(t, "list_tokens", tc.args)
			r := structured[ListTokensResult](t, res)
			assertListQuery(t, f, tc.wantQuery)
			msg := text(t, res)
			header, _, _ := strings.Cut(msg, "\n")
			if tc.wantScope == nil {
				if len(r.Notes) != 1 || strings.Contains(msg, "allOrgs") {
					t.Errorf("notes %q, text:\n%s", r.Notes, msg)
				}
				return
			}
			if len(r.Notes) != 2 {
				t.Fatalf("notes %q, want a scope note", r.Notes)
			}
			for _, w := range tc.wantScope {
				if !strings.Contains(r.Notes[1], w) || !strings.Contains(header, w) {
					t.Errorf("note %q or header %q lacks %q", r.Notes[1], header, w)
				}
			}
		})
	}
	h := newHarness(t, f, Settings{DefaultOrg: "acme"})
	for _, args := range []map[string]any{{"allOrgs": true, "org": "acme"}, {"allOrgs": true, "orgID": orgAcme}} {
		wantToolError(t, h.call(t, "list_tokens", args), "allOrgs", "without org and orgID")
	}
}

func TestListTokensUpstreamErrors(t *testing.T) {
	f := baseWorld().start(t)
	h := newHarness(t, f, Settings{})
	const json = "application/json; charset=utf-8"
	for _, tc := range []struct {
		name      string
		intercept func(http.ResponseWriter, *http.Request) bool
		args      map[string]any
		want      []string
	}{
		{"400", intercepting("/api/v2/authorizations", 400, json, "{\n\t\"code\": \"invalid\",\n\t\"message\": \"id must have a length of 16 bytes\"\n}"), map[string]any{},
			[]string{"400 Bad Request (invalid)", "id must have a length of 16 bytes", "rejected"}},
		{"401", intercepting("/api/v2/authorizations", 401, json, `{"code":"unauthorized","message":"unauthorized access"}`), map[string]any{},
			[]string{"401 Unauthorized (unauthorized): unauthorized access", "INFLUX_TOKEN", "read:authorizations"}},
		{"401 echoing the configured token", intercepting("/api/v2/authorizations", 401, json, `{"code":"unauthorized","message":"token `+fakeinflux.Token+` is invalid"}`), map[string]any{},
			[]string{"token [REDACTED] is invalid", "INFLUX_TOKEN"}},
		{"403", intercepting("/api/v2/authorizations", 403, json, "{\n\t\"code\": \"forbidden\",\n\t\"message\": \"User is inactive\"\n}"), map[string]any{},
			[]string{"403 Forbidden (forbidden): User is inactive", "inactive"}},
		{"404 user", nil, map[string]any{"user": "nosuch"},
			[]string{"404 Not Found (not found): user not found", `user "nosuch"`, "case-sensitive"}},
		{"404 org", nil, map[string]any{"org": "nosuch", "user": "alice"},
			[]string{`organization name "nosuch" not found`, `user "alice" and org "nosuch"`}},
		{"404 default org", nil, map[string]any{}, nil}, // run with its own settings below
		{"429", intercepting("/api/v2/authorizations", 429, json, `{"code":"too many requests","message":"rate limit exceeded"}`, "Retry-After", "30"), map[string]any{},
			[]string{"429 Too Many Requests", "rate limit exceeded", "wait 30s", "try again after"}},
		{"503 without Retry-After", intercepting("/api/v2/authorizations", 503, json, `{"code":"unavailable","message":"service unavailable"}`), map[string]any{},
			[]string{"503 Service Unavailable", "Try again in a minute"}},
		{"500 with an HTML body", intercepting("/api/v2/authorizations", 500, "text/html", "<html><body><h1>500 Internal Server Error</h1></body></html>"), map[string]any{},
			[]string{"500 Internal Server Error", "non-JSON body (text/html)", "proxy", "try again later"}},
		{"404 from something that is not InfluxDB", intercepting("/api/v2/authorizations", 404, "text/plain; charset=utf-8", "404 page not found\n"), map[string]any{},
			[]string{"404 Not Found with a non-JSON body (text/plain; charset=utf-8)", "API path was not found", "INFLUX_HOST (" + f.URL + ")", "path prefix"}},
		{"404 for a route InfluxDB does not have (wrong path prefix)", intercepting("/api/v2/authorizations", 404, json, "{\n\t\"code\": \"not found\",\n\t\"message\": \"path not found\"\n}"), map[string]any{},
			[]string{"path not found", "API path was not found", "INFLUX_HOST (" + f.URL + ")"}},
		{"error code and content type echoing the configured token", intercepting("/api/v2/authorizations", 502, "text/html; x="+fakeinflux.Token, "<html>bad gateway</html>", "X-Platform-Error-Code", "bad "+fakeinflux.Token),
			map[string]any{}, []string{"(bad [REDACTED])", "(text/html; x=[REDACTED])"}},
		{"200 that is not InfluxDB", intercepting("/api/v2/authorizations", 200, json, `{"data":[]}`), map[string]any{},
			[]string{"unusable answer", "INFLUX_HOST", "InfluxDB v2 API"}},
	} {
		if tc.want == nil {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			f.Intercept(tc.intercept)
			defer f.Intercept(nil)
			msg := wantToolError(t, h.call(t, "list_tokens", tc.args), tc.want...)
			if strings.Contains(msg, "<") {
				t.Errorf("the error echoes markup: %s", msg)
			}
		})
	}

	t.Run("404 default org", func(t *testing.T) {
		h := newHarness(t, f, Settings{DefaultOrg: "gone"})
		wantToolError(t, h.call(t, "list_tokens", map[string]any{}), `organization name "gone" not found`, `org "gone"`, "INFLUX_ORG", "pass org or orgID")
	})

	t.Run("unreachable host", func(t *testing.T) {
		host := fakeinflux.ClosedPortURL(t)
		h := newHarnessAt(t, host, nil, Settings{})
		wantToolError(t, h.call(t, "list_tokens", map[string]any{}), "refused", strings.TrimPrefix(host, "http://"), "INFLUX_HOST")
	})
}

func TestListTokensArgumentErrorsMakeNoRequest(t *testing.T) {
	f := baseWorld().start(t)
	h := newHarness(t, f, Settings{})
	for _, tc := range []struct {
		name string
		args any
		want []string
	}{
		{"unknown argument", map[string]any{"usr": "alice"}, []string{`unknown argument "usr"`, "user"}},
		{"unknown and known", map[string]any{"user": "alice", "limt": 5}, []string{`unknown argument "limt"`, "limit"}},
		{"mistyped user", map[string]any{"user": 42}, []string{"user must be a string, not integer"}},
		{"mistyped limit", map[string]any{"limit": "10"}, []string{"limit must be an integer, not string"}},
		{"fractional offset", map[string]any{"offset": 1.5}, []string{"offset must be a whole number"}},
		{"array", map[string]any{"org": []any{"acme"}}, []string{"org must be a string, not array"}},
		{"status expired", map[string]any{"status": "expired"}, []string{`status "expired"`, "active, inactive"}},
		{"action delete", map[string]any{"action": "delete", "resourceType": "buckets"}, []string{`action "delete"`, "read, write"}},
		{"unknown risk", map[string]any{"risk": "stale"}, []string{`risk "stale"`, "instance-wide, can-create-tokens, dangling, inactive, no-description"}},
		{"unknown resource type", map[string]any{"resourceType": "bucket"}, []string{`resourceType "bucket"`, "buckets"}},
		{"limit above 500", map[string]any{"limit": 501}, []string{"limit 501", "0 to 500"}},
		{"limit -1", map[string]any{"limit": -1}, []string{"limit -1", "0 to 500"}},
		{"negative offset", map[string]any{"offset": -3}, []string{"offset -3", "0 or more"}},
		{"createdAfter yesterday", map[string]any{"createdAfter": "yesterday"}, []string{`createdAfter "yesterday"`, "RFC 3339"}},
		{"createdAfter without zone", map[string]any{"createdAfter": "2026-03-01T00:00:00"}, []string{"createdAfter", "RFC 3339"}},
		{"createdBefore a date", map[string]any{"createdBefore": "2026-03-01"}, []string{"createdBefore", "RFC 3339"}},
		{"createdBefore month 13", map[string]any{"createdBefore": "2026-13-01T00:00:00Z"}, []string{"createdBefore", "RFC 3339"}},
		{"bad userID", map[string]any{"userID": "alice"}, []string{`userID "alice"`, "16 hexadecimal digits"}},
		{"bad orgID", map[string]any{"orgID": "12345"}, []string{`orgID "12345"`, "16 hexadecimal digits"}},
		{"bad resourceID", map[string]any{"resourceType": "buckets", "resourceID": "../orgs"}, []string{`resourceID "../orgs"`, "16 hexadecimal digits"}},
		{"action without type", map[string]any{"action": "write"}, []string{"need resourceType"}},
		{"name without type", map[string]any{"resourceName": "telegraf"}, []string{"need resourceType"}},
		{"a token by name", map[string]any{"resourceType": "authorizations", "resourceName": "telegraf writer"}, []string{"tokens have no names", "resourceID"}},
		{"id and name", map[string]any{"resourceType": "buckets", "resourceID": bucketTelegraf, "resourceName": "telegraf"}, []string{"resourceID or resourceName, not both"}},
		{"not an object", []any{"alice"}, []string{"list_tokens takes a JSON object"}},
		{"long junk is clipped", map[string]any{"status": strings.Repeat("z", 10000)}, []string{"status", "…"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.Requests.Load()
			msg := wantToolError(t, h.call(t, "list_tokens", tc.args), tc.want...)
			if n := f.Requests.Load() - before; n != 0 {
				t.Errorf("%d requests reached InfluxDB", n)
			}
			if len(msg) > 600 {
				t.Errorf("error text is %d bytes long: %.200s…", len(msg), msg)
			}
		})
	}
}

func TestListTokensTimeFilters(t *testing.T) {
	f := baseWorld().start(t)
	h := newHarness(t, f, Settings{})
	// Tokens are created on the 15th of each month from January 2025, 09:30:00.123456789Z.
	for _, tc := range []struct {
		name string
		args map[string]any
		want []string
	}{
		{"after, inclusive to the nanosecond", map[string]any{"createdAfter": "2025-08-15T09:30:00.123456789Z"}, []string{tokDeleted, tokMinter}},
		{"after, one nanosecond later", map[string]any{"createdAfter": "2025-08-15T09:30:00.12345679Z"}, []string{tokMinter}},
		{"before, exclusive", map[string]any{"createdBefore": "2025-02-15T09:30:00.123456789Z"}, []string{tokOperator}},
		{"window", map[string]any{"createdAfter": "2025-03-01T00:00:00Z", "createdBefore": "2025-05-01T00:00:00Z"}, []string{tokTelegrafW, tokTelegrafR}},
		{"time zone offset", map[string]any{"createdAfter": "2025-09-15T11:30:00+02:00"}, []string{tokMinter}},
		{"empty window", map[string]any{"createdAfter": "2026-01-01T00:00:00Z", "createdBefore": "2025-01-01T00:00:00Z"}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := structured[ListTokensResult](t, h.call(t, "list_tokens", tc.args))
			if got := ids(r); !slices.Equal(got, tc.want) {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
		})
	}
}

func TestListTokensPaging(t *testing.T) {
	f := generatedWorld(1000).start(t)
	h := newHarness(t, f, Settings{})

	t.Run("default limit is 50", func(t *testing.T) {
		r := structured[ListTokensResult](t, h.call(t, "list_tokens", map[string]any{}))
		if r.Count != 50 || len(r.Tokens) != 50 || r.Total != 1000 || !r.Truncated || r.Offset != 0 {
			t.Errorf("count %d total %d truncated %v offset %d", r.Count, r.Total, r.Truncated, r.Offset)
		}
	})

	t.Run("pages of 50 return each token once, in order", func(t *testing.T) {
		seen := map[string]int{}
		var order []string
		for offset := 0; ; {
			res := h.call(t, "list_tokens", map[string]any{"limit": 50, "offset": offset})
			r := structured[ListTokensResult](t, res)
			if r.Total != 1000 || r.Offset != offset {
				t.Fatalf("offset %d: total %d offset %d", offset, r.Total, r.Offset)
			}
			if r.Summary.Active+r.Summary.Inactive != 1000 {
				t.Errorf("offset %d: the summary counts %d tokens, want all 1000", offset, r.Summary.Active+r.Summary.Inactive)
			}
			for _, id := range ids(r) {
				seen[id]++
				order = append(order, id)
			}
			if r.Truncated {
				if !strings.Contains(text(t, res), fmt.Sprintf("offset=%d", offset+r.Count)) {
					t.Errorf("offset %d: the text does not say where to go on", offset)
				}
			}
			if !r.Truncated {
				if offset+r.Count != 1000 {
					t.Errorf("stopped at %d", offset+r.Count)
				}
				break
			}
			if r.Count != 50 {
				t.Fatalf("offset %d: count %d", offset, r.Count)
			}
			offset += r.Count
		}
		if len(seen) != 1000 {
			t.Errorf("%d distinct tokens, want 1000", len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("%s returned %d times", id, n)
			}
		}
		// Oldest first, ties by ID: the generated IDs rise with creation time.
		if !slices.IsSorted(order) {
			t.Error("pages are not in creation order")
		}
	})

	t.Run("limit 0 gives counts only", func(t *testing.T) {
		res := h.call(t, "list_tokens", map[string]any{"limit": 0})
		r := structured[ListTokensResult](t, res)
		if r.Count != 0 || len(r.Tokens) != 0 || r.Total != 1000 || r.Truncated {
			t.Errorf("count %d total %d truncated %v", r.Count, r.Total, r.Truncated)
		}
		if r.Summary.Active != 900 || r.Summary.Inactive != 100 {
			t.Errorf("summary %+v", r.Summary)
		}
		msg := text(t, res)
		if !strings.Contains(msg, "1000 tokens match (limit 0: counts only)") || strings.Contains(msg, "\n- ") || strings.Contains(msg, "More:") {
			t.Errorf("text:\n%s", msg)
		}
		if raw, _ := json.Marshal(res.StructuredContent); !strings.Contains(string(raw), `"tokens":[]`) {
			t.Errorf("tokens should be [] with limit 0: %.300s", raw)
		}
	})

	t.Run("limit 500 is allowed", func(t *testing.T) {
		r := structured[ListTokensResult](t, h.call(t, "list_tokens", map[string]any{"limit": 500, "offset": 700}))
		if r.Count != 300 || r.Truncated {
			t.Errorf("count %d truncated %v", r.Count, r.Truncated)
		}
	})

	for _, offset := range []int{1000, 5000} {
		t.Run(fmt.Sprint("offset past the end ", offset), func(t *testing.T) {
			res := h.call(t, "list_tokens", map[string]any{"offset": offset})
			r := structured[ListTokensResult](t, res)
			if r.Count != 0 || r.Total != 1000 || r.Truncated || r.Offset != offset {
				t.Errorf("count %d total %d truncated %v offset %d", r.Count, r.Total, r.Truncated, r.Offset)
			}
			if msg := text(t, res); !strings.Contains(msg, fmt.Sprintf("offset %d is past the end (use offset 0 to 999)", offset)) {
				t.Errorf("text:\n%s", msg)
			}
		})
	}
}

// TestListTokensOutputSize checks that the text of a small answer stays
// small, and reports what a page of 50 costs against InfluxDB's own JSON.
func TestListTokensOutputSize(t *testing.T) {
	f := generatedWorld(50).start(t)
	h := newHarness(t, f, Settings{})

	// The first five hold an operator token with 34 permissions.
	res := h.call(t, "list_tokens", map[string]any{"limit": 5})
	if n := len(text(t, res)); n > 2048 {
		t.Errorf("the text of 5 tokens is %d bytes, want at most 2 KiB:\n%s", n, text(t, res))
	}
	t.Logf("text of 5 matches: %d bytes", len(text(t, res)))
	// Five narrow tokens.
	res = h.call(t, "list_tokens", map[string]any{"limit": 5, "offset": 1})
	if n := len(text(t, res)); n > 1536 {
		t.Errorf("the text of 5 narrow tokens is %d bytes:\n%s", n, text(t, res))
	}
	t.Logf("text of 5 narrow matches: %d bytes", len(text(t, res)))

	res = h.call(t, "list_tokens", map[string]any{"limit": 50})
	r := structured[ListTokensResult](t, res)
	if r.Count != 50 {
		t.Fatalf("count %d", r.Count)
	}
	structuredJSON, _ := json.Marshal(res.StructuredContent)
	tokensJSON, _ := json.Marshal(r.Tokens)
	rawInflux := f.ListJSON()
	txt := text(t, res)
	t.Logf("page of 50 tokens: text %d chars (%d/token); structured %d bytes (%d/token, tokens alone %d/token); InfluxDB's JSON %d bytes (%d/token)",
		len([]rune(txt)), len([]rune(txt))/50, len(structuredJSON), len(structuredJSON)/50, len(tokensJSON)/50, len(rawInflux), len(rawInflux)/50)
	if len(structuredJSON) >= len(rawInflux) {
		t.Errorf("structured content (%d bytes) is not smaller than InfluxDB's answer (%d bytes)", len(structuredJSON), len(rawInflux))
	}
	if len(txt) >= len(structuredJSON) {
		t.Errorf("the text (%d) is not smaller than the structured content (%d)", len(txt), len(structuredJSON))
	}
}
