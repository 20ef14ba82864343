package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tokenaudit/influx-token-mcp/integration/testserver"
)

// Issue 3: list_tokens and get_token against the real InfluxDB, compared
// with InfluxDB's own answer to the same query with the same token.

const visibilityText = "Only tokens the configured token may read are listed."

// TestListTokensMatchesInfluxDB runs list_tokens with each of InfluxDB's own
// filters (user, userID, org, orgID) and combinations, as three callers that
// see different parts of the fixtures, and compares the answer token by
// token with GET /api/v2/authorizations with the same filters and token.
func TestListTokensMatchesInfluxDB(t *testing.T) {
	t.Parallel()
	e := shared
	f := e.fx
	acme, globex := f.Orgs[testserver.OrgAcme], f.Orgs[testserver.OrgGlobex]
	filters := []map[string]any{
		{},
		{"user": testserver.UserAlice},
		{"user": testserver.UserBob},
		{"user": testserver.UserAdmin},
		{"userID": f.Users[testserver.UserCarol].ID},
		{"org": testserver.OrgAcme},
		{"org": testserver.OrgGlobex},
		{"orgID": globex.ID},
		{"orgID": acme.ID},
		{"user": testserver.UserAlice, "org": testserver.OrgGlobex},
		{"userID": f.Users[testserver.UserBob].ID, "orgID": acme.ID},
		{"user": testserver.UserBob, "orgID": globex.ID},
		{"userID": f.Users[testserver.UserAlice].ID, "org": testserver.OrgAcme},
		{"user": testserver.UserCarol, "org": testserver.OrgGlobex}, // empty on both sides
		{"userID": strings.ToUpper(f.Users[testserver.UserBob].ID), "orgID": strings.ToUpper(acme.ID)},
	}
	for _, caller := range []string{testserver.TokOperator, testserver.TokAuditor, testserver.TokAuditorRestricted} {
		t.Run(caller, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			s := e.session(t, caller, nil)
			for _, args := range filters {
				t.Run(toJSON(args), func(t *testing.T) {
					t.Parallel()
					query := cloneArgs(args)
					query["limit"] = 500
					got, r := list(ctx, t, s, query)
					want := e.directList(ctx, t, caller, args)
					compareList(t, got.Tokens, want)
					if got.Total != len(want) || got.Count != len(want) || got.Truncated || got.Offset != 0 {
						t.Errorf("total %d count %d truncated %v offset %d; InfluxDB lists %d", got.Total, got.Count, got.Truncated, got.Offset, len(want))
					}
					// The permission model agrees with InfluxDB, so the
					// comparison above is not vacuous by accident.
					if model := e.expect(t, caller, args); !sameSet(model, apiIDs(want)) {
						t.Errorf("fixture model predicts %v, InfluxDB lists %v", e.names(model), e.names(apiIDs(want)))
					}
					if caller == testserver.TokOperator && len(args) == 0 && len(want) != len(f.Tokens) {
						t.Errorf("the operator sees %d tokens, want all %d fixtures", len(want), len(f.Tokens))
					}
					wantContains(t, "text", r.Text, visibilityText)
					for _, tok := range got.Tokens {
						wantContains(t, "text", r.Text, tok.ID)
					}
				})
			}
		})
	}
}

// TestPermissionStrings pins the rendering of permissions on fixtures whose
// grants are known: names in place of IDs, "/" for no org.
func TestPermissionStrings(t *testing.T) {
	t.Parallel()
	e := shared
	f := e.fx
	ctx := testContext(t)
	s := e.session(t, testserver.TokOperator, nil)
	got, _ := list(ctx, t, s, map[string]any{"limit": 500})
	byID := map[string]tokenOut{}
	for _, tok := range got.Tokens {
		byID[tok.ID] = tok
	}
	scratch := f.Buckets[testserver.BucketAcmeScratch]
	acme := f.Orgs[testserver.OrgAcme]
	for _, c := range []struct {
		token   string
		exactly []string // the whole list
		has     []string // some of them
	}{
		{token: testserver.TokAliceTelegrafWriter, exactly: []string{"write:orgs/acme/buckets/telegraf"}},
		{token: testserver.TokGlobexTelegrafWriter, exactly: []string{"write:orgs/globex/buckets/telegraf"}},
		{token: testserver.TokBobBucketsReader, exactly: []string{"read:orgs/acme/buckets"}},
		{token: testserver.TokGlobexBucketsWriter, exactly: []string{"write:orgs/globex/buckets"}},
		{token: testserver.TokCarolTokenAdmin, exactly: []string{"write:orgs/acme/authorizations"}},
		{token: testserver.TokAuditor, exactly: []string{"read:orgs/acme/authorizations", "read:/users"}},
		{token: testserver.TokAuditorRestricted, exactly: []string{"read:orgs/acme/authorizations", "read:/users/carol"}},
		// The bucket is gone: InfluxDB gives neither its name nor its org's.
		{token: testserver.TokCarolDeletedBucket, exactly: []string{"read:orgs/" + acme.ID + "/buckets/" + scratch.ID}},
		{token: testserver.TokOperator, has: []string{"read:/authorizations", "write:/authorizations", "write:/buckets", "read:/users"}},
		{token: testserver.TokAcmeAllAccess, has: []string{"read:orgs/acme/buckets", "write:orgs/acme/authorizations", "read:/orgs/acme", "write:/users/admin"}},
	} {
		tok, ok := byID[f.Token(c.token).ID]
		if !ok {
			t.Errorf("%s is not listed", c.token)
			continue
		}
		if c.exactly != nil && !slices.Equal(tok.Permissions, c.exactly) {
			t.Errorf("%s: permissions %q, want %q", c.token, tok.Permissions, c.exactly)
		}
		for _, p := range c.has {
			if !slices.Contains(tok.Permissions, p) {
				t.Errorf("%s: permissions %q lack %q", c.token, tok.Permissions, p)
			}
		}
		if len(tok.Permissions) != len(f.Token(c.token).Permissions) {
			t.Errorf("%s: %d permissions, the fixture was granted %d", c.token, len(tok.Permissions), len(f.Token(c.token).Permissions))
		}
	}
}

// TestGetTokenMatchesInfluxDB gets every fixture with get_token as the
// operator (every one readable) and as auditor-restricted (some refused
// with 401 by InfluxDB), and compares with GET /api/v2/authorizations/{id}.
func TestGetTokenMatchesInfluxDB(t *testing.T) {
	t.Parallel()
	e := shared
	for _, caller := range []string{testserver.TokOperator, testserver.TokAuditorRestricted} {
		t.Run(caller, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			s := e.session(t, caller, nil)
			refused := 0
			for _, name := range e.fx.TokenNames() {
				tok := e.fx.Tokens[name]
				want, status := e.directGet(ctx, t, caller, tok.ID)
				if canRead := testserver.CanRead(e.fx.Token(caller), tok); canRead != (status == http.StatusOK) {
					t.Fatalf("%s: InfluxDB answers %d, CanRead says %v", name, status, canRead)
				}
				if status != http.StatusOK {
					refused++
					text := toolError(ctx, t, s, "get_token", map[string]any{"authID": tok.ID})
					wantContains(t, name, text, fmt.Sprint(status), "INFLUX_TOKEN", "read:authorizations")
					continue
				}
				got := get(ctx, t, s, tok.ID)
				compareToken(t, got.tokenOut, want)
				compareDetails(t, name, got, want, tok)
			}
			// IDs are hexadecimal: upper case names the same token.
			op := e.fx.Token(testserver.TokAuditorRestricted)
			if got := get(ctx, t, s, strings.ToUpper(op.ID)); got.ID != op.ID {
				t.Errorf("get_token of the upper-case ID returned %s, want %s", got.ID, op.ID)
			}
			if caller == testserver.TokAuditorRestricted && refused == 0 {
				t.Errorf("auditor-restricted was refused nothing; the fixtures should hide other users' tokens from it")
			}
		})
	}
}

// compareDetails checks permissionDetails against InfluxDB's permissions
// and against what the fixture was granted.
func compareDetails(t *testing.T, name string, got detailOut, want apiAuth, granted testserver.Token) {
	t.Helper()
	if len(got.PermissionDetails) != len(want.Permissions) {
		t.Fatalf("%s: %d permissionDetails, InfluxDB has %d permissions", name, len(got.PermissionDetails), len(want.Permissions))
	}
	if len(want.Permissions) != len(granted.Permissions) {
		t.Fatalf("%s: InfluxDB has %d permissions, the fixture was granted %d", name, len(want.Permissions), len(granted.Permissions))
	}
	for i, d := range got.PermissionDetails {
		p := want.Permissions[i]
		if d.Action != p.Action || d.Resource != p.Resource {
			t.Errorf("%s: permissionDetails[%d] = %s %+v, InfluxDB says %s %+v", name, i, d.Action, d.Resource, p.Action, p.Resource)
		}
		if d.Permission != got.Permissions[i] {
			t.Errorf("%s: permissionDetails[%d].permission %q, permissions[%d] %q", name, i, d.Permission, i, got.Permissions[i])
		}
		g := granted.Permissions[i]
		if d.Action != g.Action || d.Resource.Type != g.Type || d.Resource.ID != g.ID || d.Resource.OrgID != g.OrgID {
			t.Errorf("%s: permissionDetails[%d] = %s %+v, the fixture was granted %s", name, i, d.Action, d.Resource, g)
		}
	}
}

// TestUnknownNamesAndIDs: InfluxDB answers 404 for an unknown user or org
// name, 404 for a well-formed unknown authorization ID, and an empty list
// for well-formed unknown user and org IDs.
func TestUnknownNamesAndIDs(t *testing.T) {
	t.Parallel()
	e := shared
	ctx := testContext(t)
	s := e.session(t, testserver.TokOperator, nil)
	op := e.fx.Token(testserver.TokOperator).Token

	for _, c := range []struct{ arg, value, says string }{
		{"user", "nosuch-user", "user not found"},
		{"org", "nosuch-org", `organization name "nosuch-org" not found`},
	} {
		if code := e.directStatus(ctx, t, op, "/api/v2/authorizations?"+c.arg+"="+c.value); code != http.StatusNotFound {
			t.Fatalf("InfluxDB answers %d to %s=%s, want 404", code, c.arg, c.value)
		}
		text := toolError(ctx, t, s, "list_tokens", map[string]any{c.arg: c.value})
		wantContains(t, c.arg, text, "404", c.says, fmt.Sprintf("%s %q", c.arg, c.value))
	}

	unknown := unknownID(e)
	if code := e.directStatus(ctx, t, op, "/api/v2/authorizations/"+unknown); code != http.StatusNotFound {
		t.Fatalf("InfluxDB answers %d for authorization %s, want 404", code, unknown)
	}
	text := toolError(ctx, t, s, "get_token", map[string]any{"authID": unknown})
	wantContains(t, "get_token unknown ID", text, "404", "not found", "No token has authID "+unknown)

	for _, arg := range []string{"userID", "orgID"} {
		if got := e.directList(ctx, t, testserver.TokOperator, map[string]any{arg: unknown}); len(got) != 0 {
			t.Fatalf("InfluxDB lists %d tokens for unknown %s", len(got), arg)
		}
		got, r := list(ctx, t, s, map[string]any{arg: unknown})
		if got.Total != 0 || got.Count != 0 || len(got.Tokens) != 0 || got.Truncated {
			t.Errorf("list_tokens %s=<unknown>: total %d count %d tokens %d truncated %v; want an empty answer", arg, got.Total, got.Count, len(got.Tokens), got.Truncated)
		}
		wantContains(t, arg, r.Text, "No token matches.", visibilityText)
	}
}

// TestDefaultOrgUnknown: an unknown INFLUX_ORG is reported as such.
func TestDefaultOrgUnknown(t *testing.T) {
	t.Parallel()
	e := shared
	ctx := testContext(t)
	s := e.session(t, testserver.TokOperator, map[string]string{"INFLUX_ORG": "nosuch-org"})
	text := toolError(ctx, t, s, "list_tokens", map[string]any{})
	wantContains(t, "default org", text, "404", `org "nosuch-org"`, "INFLUX_ORG")
	// Naming an org in the call overrides the default.
	got, _ := list(ctx, t, s, map[string]any{"org": testserver.OrgGlobex})
	e.checkList(t, testserver.TokOperator, map[string]any{"org": testserver.OrgGlobex}, got)
}

// TestDefaultOrg: INFLUX_ORG and INFLUX_ORG_ID narrow a call that names no
// org, exactly as InfluxDB's org and orgID filters do.
func TestDefaultOrg(t *testing.T) {
	t.Parallel()
	e := shared
	ctx := testContext(t)
	globex := e.fx.Orgs[testserver.OrgGlobex]
	for _, c := range []struct {
		env  map[string]string
		args map[string]any
	}{
		{map[string]string{"INFLUX_ORG": globex.Name}, map[string]any{"org": globex.Name}},
		{map[string]string{"INFLUX_ORG_ID": globex.ID}, map[string]any{"orgID": globex.ID}},
	} {
		s := e.session(t, testserver.TokOperator, c.env)
		got, _ := list(ctx, t, s, map[string]any{})
		compareList(t, got.Tokens, e.directList(ctx, t, testserver.TokOperator, c.args))
		e.checkList(t, testserver.TokOperator, c.args, got)
	}
}

// TestWrongConfiguredToken: a token InfluxDB does not know gives 401, and
// the tool error says so and names INFLUX_TOKEN.
func TestWrongConfiguredToken(t *testing.T) {
	t.Parallel()
	e := shared
	ctx := testContext(t)
	if code := e.directStatus(ctx, t, e.fx.WrongToken, "/api/v2/authorizations"); code != http.StatusUnauthorized {
		t.Fatalf("InfluxDB answers %d to a wrong token, want 401", code)
	}
	s := e.session(t, e.fx.WrongToken, nil)
	for _, c := range []struct {
		tool string
		args map[string]any
	}{
		{"list_tokens", map[string]any{}},
		{"list_tokens", map[string]any{"limit": 0}},
		{"list_tokens", map[string]any{"action": "write", "resourceType": "buckets", "resourceName": "telegraf"}},
		{"get_token", map[string]any{"authID": e.fx.Token(testserver.TokOperator).ID}},
	} {
		text := toolError(ctx, t, s, c.tool, c.args)
		wantContains(t, c.tool+" "+toJSON(c.args), text, "401", "unauthorized", "INFLUX_TOKEN")
	}
}

// TestInactiveConfiguredToken: InfluxDB answers an inactive token's list
// with 200 and nothing in it. The answer must say that the list holds what
// the configured token may see, not that no token exists.
func TestInactiveConfiguredToken(t *testing.T) {
	t.Parallel()
	e := shared
	ctx := testContext(t)
	caller := testserver.TokAuditorInactive
	if got := e.directList(ctx, t, caller, nil); len(got) != 0 {
		t.Fatalf("InfluxDB lists %d tokens for an inactive token, want none", len(got))
	}
	s := e.session(t, caller, nil)
	for _, args := range []map[string]any{{}, {"limit": 0}, {"org": testserver.OrgAcme}} {
		got, r := list(ctx, t, s, args)
		if got.Total != 0 || len(got.Tokens) != 0 {
			t.Errorf("list_tokens %s: total %d, %d tokens; InfluxDB lists none", toJSON(args), got.Total, len(got.Tokens))
		}
		checkVisibilityNote(t, got, r.Text)
	}
	// get_token of its own ID: InfluxDB refuses with 401.
	text := toolError(ctx, t, s, "get_token", map[string]any{"authID": e.fx.Token(caller).ID})
	wantContains(t, "get_token as inactive", text, "401", "inactive")
}

// TestAuditorsWithoutReadUsers: tokens with read:authorizations but without
// read:users on every user see only some tokens, and InfluxDB leaves out
// the rest silently; list_tokens must list exactly what InfluxDB lists and
// say that the list is what the token may see.
func TestAuditorsWithoutReadUsers(t *testing.T) {
	t.Parallel()
	e := shared
	for _, caller := range []string{testserver.TokAuditorRestricted, testserver.TokAuditorBlind} {
		t.Run(caller, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			s := e.session(t, caller, nil)
			for _, args := range []map[string]any{{}, {"org": testserver.OrgAcme}, {"user": testserver.UserAlice}} {
				got, r := list(ctx, t, s, withLimit(args, 500))
				want := e.directList(ctx, t, caller, args)
				compareList(t, got.Tokens, want)
				e.checkList(t, caller, withLimit(args, 500), got)
				checkVisibilityNote(t, got, r.Text)
			}
			// Tokens that exist in acme are missing from its acme list.
			got, _ := list(ctx, t, s, map[string]any{"org": testserver.OrgAcme, "limit": 500})
			all := e.directList(ctx, t, testserver.TokOperator, map[string]any{"org": testserver.OrgAcme})
			if len(got.Tokens) >= len(all) {
				t.Errorf("%s sees %d of acme's %d tokens; the fixture should hide some", caller, len(got.Tokens), len(all))
			}
			if slices.Contains(ids(got.Tokens), e.fx.Token(testserver.TokAliceTelegrafWriter).ID) {
				t.Errorf("%s sees alice's token without read:users on alice", caller)
			}
		})
	}
}

func checkVisibilityNote(t *testing.T, got listOut, text string) {
	t.Helper()
	if len(got.Notes) == 0 || !strings.Contains(got.Notes[0], "only the tokens the configured token may read") {
		t.Errorf("notes %q do not say that the list is what the configured token may read", got.Notes)
	}
	wantContains(t, "text", text, visibilityText)
}

// TestHashedTokens runs against an InfluxDB that stores hashed tokens only
// (influxd --use-hashed-tokens): InfluxDB returns "token": "" on reads; the
// answers are otherwise the same.
func TestHashedTokens(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	e := hashed

	all := e.directList(ctx, t, testserver.TokOperator, nil)
	if len(all) != len(e.fx.Tokens) {
		t.Fatalf("InfluxDB lists %d tokens, want %d", len(all), len(e.fx.Tokens))
	}
	for _, a := range all {
		if a.Token == nil || *a.Token != "" {
			t.Fatalf("hashed InfluxDB returned a token value for %s; want \"\"", a.ID)
		}
	}
	s := e.session(t, testserver.TokOperator, nil)
	for _, args := range []map[string]any{{}, {"user": testserver.UserBob}, {"org": testserver.OrgGlobex}} {
		got, _ := list(ctx, t, s, withLimit(args, 500))
		compareList(t, got.Tokens, e.directList(ctx, t, testserver.TokOperator, args))
		e.checkList(t, testserver.TokOperator, withLimit(args, 500), got)
	}
	for _, name := range e.fx.TokenNames() {
		tok := e.fx.Tokens[name]
		want, status := e.directGet(ctx, t, testserver.TokOperator, tok.ID)
		if status != http.StatusOK {
			t.Fatalf("InfluxDB answers %d for %s", status, name)
		}
		got := get(ctx, t, s, tok.ID)
		compareToken(t, got.tokenOut, want)
		compareDetails(t, name, got, want, tok)
	}
	// A restricted auditor on the hashed server sees what it saw before.
	s2 := e.session(t, testserver.TokAuditorRestricted, nil)
	got, _ := list(ctx, t, s2, map[string]any{"limit": 500})
	compareList(t, got.Tokens, e.directList(ctx, t, testserver.TokAuditorRestricted, nil))
}

// unknownID returns a well-formed ID that is no fixture's, user's, org's or
// bucket's.
func unknownID(e *env) string {
	used := map[string]bool{}
	for _, tok := range e.fx.Tokens {
		used[tok.ID] = true
	}
	for _, u := range e.fx.Users {
		used[u.ID] = true
	}
	for _, o := range e.fx.Orgs {
		used[o.ID] = true
	}
	for _, b := range e.fx.Buckets {
		used[b.ID] = true
	}
	for _, id := range []string{"0123456789abcdef", "0fedcba987654321", "0aaaaaaaaaaaaaaa"} {
		if !used[id] {
			return id
		}
	}
	panic("no unused ID")
}

func apiIDs(as []apiAuth) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func cloneArgs(args map[string]any) map[string]any {
	out := make(map[string]any, len(args)+1)
	for k, v := range args {
		out[k] = v
	}
	return out
}

func withLimit(args map[string]any, limit int) map[string]any {
	out := cloneArgs(args)
	out["limit"] = limit
	return out
}
