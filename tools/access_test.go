package tools

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tokenaudit/influx-token-mcp/influx"
	"github.com/tokenaudit/influx-token-mcp/internal/fakeinflux"
)

func perm(action, typ, id, name, orgID string) influx.Permission {
	return influx.Permission{Action: action, Resource: influx.Resource{Type: typ, ID: id, Name: name, OrgID: orgID}}
}

// TestMatches holds matches to InfluxDB v2.8.0's Permission.Matches
// (authz.go matchesV1), case by case as that code reads.
func TestMatches(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    influx.Permission
		pr   probe
		want bool
	}{
		{"other action", perm("read", "buckets", "", "", ""), probe{"write", "buckets", bucketTelegraf, orgAcme}, false},
		{"instance matches any type", perm("write", "instance", "", "", ""), probe{"write", "users", userAlice, ""}, true},
		{"other type", perm("write", "dashboards", "", "", ""), probe{"write", "buckets", bucketTelegraf, orgAcme}, false},
		{"all orgs", perm("write", "buckets", "", "", ""), probe{"write", "buckets", bucketTelegraf, orgAcme}, true},
		{"all orgs, probe without org", perm("read", "users", "", "", ""), probe{"read", "users", userAlice, ""}, true},
		{"org-wide, same org", perm("write", "buckets", "", "", orgAcme), probe{"write", "buckets", bucketTelegraf, orgAcme}, true},
		{"org-wide, other org", perm("write", "buckets", "", "", orgAcme), probe{"write", "buckets", bucketSales, orgGlobex}, false},
		{"org-wide, probe without org", perm("read", "users", "", "", orgAcme), probe{"read", "users", userAlice, ""}, false},
		{"id, same org", perm("write", "buckets", bucketTelegraf, "", orgAcme), probe{"write", "buckets", bucketTelegraf, orgAcme}, true},
		{"id under another org: the id alone counts", perm("write", "buckets", bucketSales, "", orgAcme), probe{"write", "buckets", bucketSales, orgGlobex}, true},
		{"id, probe without org", perm("write", "users", userAlice, "", orgAcme), probe{"write", "users", userAlice, ""}, true},
		{"other id", perm("write", "buckets", bucketMetrics, "", orgAcme), probe{"write", "buckets", bucketTelegraf, orgAcme}, false},
		{"id, probe without id", perm("write", "authorizations", tokMinter, "", orgAcme), probe{"write", "authorizations", "", orgAcme}, false},
	} {
		if got := matches(tc.p, tc.pr); got != tc.want {
			t.Errorf("%s: matches(%+v, %+v) = %v, want %v", tc.name, tc.p, tc.pr, got, tc.want)
		}
	}
}

const (
	bucketGlobexSensors = "1b8b4c16137146a1"
	bucketAcmeMonitor   = "1b8b4c16137146a2" // acme's _monitoring
	tokBob              = "0a000000000000b0" // bob's token in acme
)

// TestAccessQueryTargets holds each rule of effective access to one
// resource to what InfluxDB v2.8.0's authorizers check (authorizer/*.go).
func TestAccessQueryTargets(t *testing.T) {
	sensors := []target{{ID: bucketGlobexSensors, OrgID: orgGlobex}}
	monitoring := []target{{ID: bucketAcmeMonitor, OrgID: orgAcme, System: true}}
	alice := []target{{ID: userAlice}}
	acme := []target{{ID: orgAcme}}
	bobsToken := []target{{ID: tokBob, OrgID: orgAcme, UserID: userBob}}
	unknownToken := []target{{ID: tokBob, OrgID: unknown, UserID: unknown}}
	maybeSystem := []target{{ID: bucketSales, MaybeSystem: true}}
	for _, tc := range []struct {
		name    string
		action  string
		typ     string
		targets []target
		perms   []influx.Permission
		want    bool
	}{
		// A permission's orgID is the token's org; its id may name another
		// org's bucket, and only the id is compared.
		{"cross-org id grants", "write", "buckets", sensors, []influx.Permission{perm("write", "buckets", bucketGlobexSensors, "sensors", orgAcme)}, true},
		{"org-wide in the token's org does not reach another org's bucket", "write", "buckets", sensors, []influx.Permission{perm("write", "buckets", "", "", orgAcme)}, false},
		{"org-wide in the bucket's org grants", "write", "buckets", sensors, []influx.Permission{perm("write", "buckets", "", "", orgGlobex)}, true},
		// Users: AuthorizeReadResource, the id and no org.
		{"org-wide users grants no user", "read", "users", alice, []influx.Permission{perm("read", "users", "", "", orgAcme)}, false},
		{"all users", "read", "users", alice, []influx.Permission{perm("read", "users", "", "", "")}, true},
		{"the user's id, under an org", "read", "users", alice, []influx.Permission{perm("read", "users", userAlice, "alice", orgAcme)}, true},
		// Orgs: AuthorizeReadOrg, the id and no org.
		{"org-wide orgs does not grant the org", "read", "orgs", acme, []influx.Permission{perm("read", "orgs", "", "", orgAcme)}, false},
		{"all orgs", "read", "orgs", acme, []influx.Permission{perm("read", "orgs", "", "", "")}, true},
		{"the org's id", "write", "orgs", acme, []influx.Permission{perm("write", "orgs", orgAcme, "acme", orgGlobex)}, true},
		{"instance", "write", "orgs", acme, []influx.Permission{perm("write", "instance", "", "", "")}, true},
		// System buckets: reading is reading the org (AuthorizeReadBucket);
		// writing is writing the bucket.
		{"reading a system bucket: org-wide buckets do not count", "read", "buckets", monitoring, []influx.Permission{perm("read", "buckets", "", "", orgAcme)}, false},
		{"reading a system bucket: its own id does not count", "read", "buckets", monitoring, []influx.Permission{perm("read", "buckets", bucketAcmeMonitor, "_monitoring", orgAcme)}, false},
		{"reading a system bucket: read on the org", "read", "buckets", monitoring, []influx.Permission{perm("read", "orgs", orgAcme, "acme", orgAcme)}, true},
		{"reading a system bucket: read on all orgs", "read", "buckets", monitoring, []influx.Permission{perm("read", "orgs", "", "", "")}, true},
		{"writing a system bucket: org-wide buckets", "write", "buckets", monitoring, []influx.Permission{perm("write", "buckets", "", "", orgAcme)}, true},
		{"writing a system bucket: write on the org does not count", "write", "buckets", monitoring, []influx.Permission{perm("write", "orgs", orgAcme, "acme", orgAcme)}, false},
		// A token: its id and org, and its owner by id alone
		// (FindAuthorizationByID, UpdateAuthorization).
		{"a token without its owner", "read", "authorizations", bobsToken, []influx.Permission{perm("read", "authorizations", "", "", orgAcme)}, false},
		{"a token with all users", "read", "authorizations", bobsToken, []influx.Permission{perm("read", "authorizations", "", "", orgAcme), perm("read", "users", "", "", "")}, true},
		{"a token with its owner's id", "write", "authorizations", bobsToken, []influx.Permission{perm("write", "authorizations", "", "", orgAcme), perm("write", "users", userBob, "bob", orgAcme)}, true},
		{"a token with org-wide users", "write", "authorizations", bobsToken, []influx.Permission{perm("write", "authorizations", "", "", orgAcme), perm("write", "users", "", "", orgAcme)}, false},
		// A token the configured token may not read: org and owner unknown.
		{"unknown owner: a grant naming some user may not be the owner's", "write", "authorizations", unknownToken, []influx.Permission{perm("write", "authorizations", "", "", ""), perm("write", "users", userBob, "bob", orgAcme)}, false},
		{"unknown owner: every user", "write", "authorizations", unknownToken, []influx.Permission{perm("write", "authorizations", "", "", ""), perm("write", "users", "", "", "")}, true},
		{"unknown org: org-wide", "write", "authorizations", unknownToken, []influx.Permission{perm("write", "authorizations", "", "", orgAcme), perm("write", "users", "", "", "")}, false},
		// A bucket the configured token may not read: it may be a system
		// bucket, unless a permission naming it gives its name.
		{"unknown type: read on every bucket may not reach a system bucket", "read", "buckets", maybeSystem, []influx.Permission{perm("read", "buckets", "", "", "")}, false},
		{"unknown type: read on every bucket and every org", "read", "buckets", maybeSystem, []influx.Permission{perm("read", "buckets", "", "", ""), perm("read", "orgs", "", "", "")}, true},
		{"unknown type: named as a user bucket", "read", "buckets", maybeSystem, []influx.Permission{perm("read", "buckets", bucketSales, "sales", orgAcme)}, true},
		{"unknown type: named as a system bucket", "read", "buckets", maybeSystem, []influx.Permission{perm("read", "buckets", bucketSales, "_tasks", orgAcme)}, false},
		{"unknown type: writing is writing the bucket", "write", "buckets", maybeSystem, []influx.Permission{perm("write", "buckets", "", "", "")}, true},
	} {
		q := &accessQuery{Action: tc.action, Type: tc.typ, ID: tc.targets[0].ID, Targets: tc.targets}
		a := &influx.Authorization{Permissions: append([]influx.Permission{perm("read", "variables", "", "", orgAcme)}, tc.perms...)}
		if got := q.grantedBy(a); got != tc.want {
			t.Errorf("%s: grantedBy = %v, want %v", tc.name, got, tc.want)
		}
		if got := q.grantingPermissions(a); tc.want && len(got) != len(tc.perms) {
			t.Errorf("%s: granting permissions %v, want %v", tc.name, got, tc.perms)
		}
	}
}

// TestAccessQueryByName: a permission whose id InfluxDB resolves to the
// name asked for stands for a resource of that name, and is noted when the
// APIs did not show it.
func TestAccessQueryByName(t *testing.T) {
	q := &accessQuery{Action: "write", Type: "buckets", Name: "telegraf", Targets: []target{{ID: bucketTelegraf, OrgID: orgAcme}}}
	a := &influx.Authorization{Permissions: []influx.Permission{perm("write", "buckets", bucketGlobexTelegraf, "telegraf", orgGlobex)}}
	if !q.grantedBy(a) || !slices.Equal(q.unseen, []string{bucketGlobexTelegraf}) {
		t.Errorf("granted %v, unseen %v", q.grantedBy(a), q.unseen)
	}
	if q.grantedBy(&influx.Authorization{Permissions: []influx.Permission{perm("write", "buckets", "", "", orgGlobex)}}) {
		t.Error("org-wide grant counted for a bucket whose org is unknown")
	}
	if (&accessQuery{Type: "buckets"}).grantedBy(&influx.Authorization{}) {
		t.Error("a token without permissions grants something")
	}
}

// stubClient answers the directory's questions from maps.
type stubClient struct {
	Client
	exists  map[string]bool // kind/id → exists
	denied  map[string]bool // kinds the configured token may not read
	listed  []influx.Bucket // what the buckets list shows
	lookups map[string]int  // kind → Exists calls
}

func (c *stubClient) FindBuckets(context.Context, string, string) ([]influx.Bucket, error) {
	return c.listed, nil
}
func (c *stubClient) FindOrgs(context.Context, string) ([]influx.Organization, error) {
	return nil, &influx.APIError{StatusCode: http.StatusUnauthorized}
}
func (c *stubClient) FindUsers(context.Context, string) ([]influx.User, error) {
	return nil, &influx.APIError{StatusCode: http.StatusUnauthorized}
}
func (c *stubClient) Exists(_ context.Context, kind, id string) (bool, error) {
	if c.lookups == nil {
		c.lookups = map[string]int{}
	}
	c.lookups[kind]++
	if c.denied[kind] {
		return false, &influx.APIError{StatusCode: http.StatusUnauthorized}
	}
	return c.exists[kind+"/"+id], nil
}

func TestRisksOf(t *testing.T) {
	ps := func(p ...influx.Permission) []influx.Permission { return p }
	for _, tc := range []struct {
		name    string
		a       influx.Authorization
		want    []string
		reasons [][]string // permissions raising each flag, in order
	}{
		{"narrow", influx.Authorization{Status: "active", Description: "d", Permissions: ps(perm("write", "buckets", bucketTelegraf, "", orgAcme))}, []string{}, nil},
		{"no permissions", influx.Authorization{Status: "active", Description: "d"}, []string{}, nil},
		{"type-wide in an org is not instance-wide", influx.Authorization{Status: "active", Description: "d", Permissions: ps(perm("read", "buckets", "", "", orgAcme))}, []string{}, nil},
		{"a resource outside any org is not instance-wide", influx.Authorization{Status: "active", Description: "d", Permissions: ps(perm("read", "users", userAlice, "", ""))}, []string{}, nil},
		{"instance-wide read", influx.Authorization{Status: "active", Description: "d", Permissions: ps(perm("read", "buckets", "", "", ""))}, []string{riskInstanceWide}, [][]string{{"read:/buckets"}}},
		{"the least-privilege auditor is not instance-wide", influx.Authorization{Status: "active", Description: "d", Permissions: ps(perm("read", "authorizations", "", "", orgAcme), perm("read", "users", "", "", ""), perm("read", "orgs", "", "", ""))}, []string{}, nil},
		{"write on every user is instance-wide", influx.Authorization{Status: "active", Description: "d", Permissions: ps(perm("read", "users", "", "", ""), perm("write", "users", "", "", ""))}, []string{riskInstanceWide}, [][]string{{"write:/users"}}},
		{"write on every org is instance-wide", influx.Authorization{Status: "active", Description: "d", Permissions: ps(perm("write", "orgs", "", "", ""))}, []string{riskInstanceWide}, [][]string{{"write:/orgs"}}},
		{"type instance", influx.Authorization{Status: "active", Description: "d", Permissions: ps(perm("read", "instance", "", "", ""))}, []string{riskInstanceWide}, [][]string{{"read:/instance"}}},
		{"write authorizations alone cannot create tokens", influx.Authorization{Status: "active", Description: "d", Permissions: ps(perm("write", "authorizations", "", "", orgAcme))}, []string{}, nil},
		{"write authorizations and org-wide users (bob's all-access) cannot", influx.Authorization{Status: "active", Description: "d", Permissions: ps(perm("write", "authorizations", "", "", orgAcme), perm("write", "users", "", "", orgAcme))}, []string{}, nil},
		{"write authorizations and one user can", influx.Authorization{Status: "active", Description: "d", Permissions: ps(perm("write", "authorizations", "", "", orgAcme), perm("write", "users", userBob, "bob", orgAcme))}, []string{riskCanCreateTokens}, [][]string{{"write:orgs/" + orgAcme + "/authorizations", "write:orgs/" + orgAcme + "/users/bob"}}},
		{"write one authorization and a user cannot", influx.Authorization{Status: "active", Description: "d", Permissions: ps(perm("write", "authorizations", tokMinter, "", orgAcme), perm("write", "users", userBob, "bob", orgAcme))}, []string{}, nil},
		{"read authorizations only", influx.Authorization{Status: "active", Description: "d", Permissions: ps(perm("read", "authorizations", "", "", orgAcme), perm("read", "users", "", "", ""))}, []string{}, nil},
		{"operator", influx.Authorization{Status: "active", Description: "admin's Token", Permissions: ps(perm("write", "authorizations", "", "", ""), perm("write", "users", "", "", ""))},
			[]string{riskInstanceWide, riskCanCreateTokens}, [][]string{{"write:/authorizations", "write:/users"}, {"write:/authorizations", "write:/users"}}},
		{"write instance", influx.Authorization{Status: "active", Description: "d", Permissions: ps(perm("write", "instance", "", "", ""))}, []string{riskInstanceWide, riskCanCreateTokens}, [][]string{{"write:/instance"}, {"write:/instance"}}},
		{"inactive", influx.Authorization{Status: "inactive", Description: "d"}, []string{riskInactive}, [][]string{{}}},
		{"blank description", influx.Authorization{Status: "active", Description: " \t\n"}, []string{riskNoDescription}, [][]string{{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, reasons := risksOf(context.Background(), &tc.a, nil)
			if got == nil || !slices.Equal(got, tc.want) {
				t.Errorf("risks %#v, want %#v", got, tc.want)
			}
			if len(reasons) != len(got) {
				t.Fatalf("reasons %+v for risks %v", reasons, got)
			}
			for i, r := range reasons {
				if r.Risk != got[i] || !slices.Equal(r.Permissions, tc.reasons[i]) {
					t.Errorf("reason %d: %+v, want %s raised by %v", i, r, got[i], tc.reasons[i])
				}
			}
			if b, _ := json.Marshal(newToken(&tc.a, got, reasons)); !strings.Contains(string(b), `"risks":[`) || !strings.Contains(string(b), `"riskReasons":[`) {
				t.Errorf("risks marshal as %s", b)
			}
		})
	}
}

// TestDangling: a permission whose id names a resource that no longer
// exists is flagged, decided from InfluxDB's APIs with one list per kind
// and one lookup per id the list did not show; where the configured token
// may not read them, no flag and a note.
func TestDangling(t *testing.T) {
	c := &stubClient{
		listed: []influx.Bucket{{ID: bucketTelegraf, OrgID: orgAcme}},
		exists: map[string]bool{"buckets/" + bucketMetrics: true, "authorizations/" + tokMinter: true},
		denied: map[string]bool{"users": true},
	}
	dir := newDirectory(c)
	a := influx.Authorization{Status: "active", Description: "d", Permissions: []influx.Permission{
		perm("read", "buckets", bucketTelegraf, "telegraf", orgAcme), // listed
		perm("read", "buckets", bucketMetrics, "metrics", orgAcme),   // looked up: exists
		perm("read", "buckets", bucketDeleted, "", orgAcme),          // looked up: gone
		perm("write", "authorizations", tokOperator, "", orgAcme),    // looked up: gone
		perm("read", "authorizations", tokMinter, "", orgAcme),       // looked up: exists
		perm("read", "users", userAlice, "", orgAcme),                // may not be read
		perm("read", "users", userBob, "", orgAcme),                  // may not be read either: InfluxDB decides per id
		perm("read", "dashboards", bucketDeleted, "", orgAcme),       // not a kind InfluxDB can tell
	}}
	risks, reasons := risksOf(context.Background(), &a, dir)
	if !slices.Equal(risks, []string{riskDangling}) || !slices.Equal(reasons[0].Permissions, []string{"read:orgs/" + orgAcme + "/buckets/" + bucketDeleted, "write:orgs/" + orgAcme + "/authorizations/" + tokOperator}) {
		t.Errorf("risks %v, reasons %+v", risks, reasons)
	}
	if c.lookups["buckets"] != 2 || c.lookups["authorizations"] != 2 || c.lookups["users"] != 2 {
		t.Errorf("lookups %v", c.lookups)
	}
	risksOf(context.Background(), &a, dir) // a second token: nothing asked again
	if c.lookups["buckets"] != 2 || c.lookups["users"] != 2 {
		t.Errorf("lookups repeated: %v", c.lookups)
	}
	// A bucket InfluxDB refuses to show exists: it finds buckets first.
	refused := newDirectory(&stubClient{denied: map[string]bool{"buckets": true}})
	if refused.dangling(context.Background(), "buckets", bucketDeleted) || len(refused.notes(Settings{})) != 0 {
		t.Errorf("a refused bucket lookup: dangling or noted %q", refused.notes(Settings{}))
	}
	notes := dir.notes(Settings{})
	if len(notes) != 1 || !strings.Contains(notes[0], "2 users") || !strings.Contains(notes[0], "401") || !strings.Contains(notes[0], "read:/users") {
		t.Errorf("notes %q", notes)
	}
}

// twoTelegrafs is baseWorld plus a second bucket named telegraf, in globex,
// and a token that writes every bucket in globex.
func twoTelegrafs() world {
	f := baseWorld()
	f.Buckets = append(f.Buckets, fakeinflux.Bucket{ID: bucketGlobexTelegraf, Name: "telegraf", OrgID: orgGlobex})
	f.Auths = append(f.Auths, fakeinflux.Auth{ID: "0a0000000000000a", Status: "active", Description: "globex ingest", OrgID: orgGlobex, UserID: userCarol,
		Perms: []fakeinflux.Perm{{Action: "write", Type: "buckets", OrgID: orgGlobex}}, Created: f.Auths[len(f.Auths)-1].Created.AddDate(0, 1, 0)})
	return f
}

func TestEffectiveAccess(t *testing.T) {
	base := baseWorld().start(t)
	two := twoTelegrafs().start(t)
	for _, tc := range []struct {
		name      string
		fake      *fakeinflux.Server
		intercept func(http.ResponseWriter, *http.Request) bool
		args      map[string]any
		want      []string
		note      []string // words of the one extra note; nil for none
	}{
		{"who can write bucket telegraf", base, nil, map[string]any{"action": "write", "resourceType": "buckets", "resourceName": "telegraf"},
			[]string{tokOperator, tokAllAccess, tokTelegrafW}, nil},
		{"who can read bucket telegraf", base, nil, map[string]any{"action": "read", "resourceType": "buckets", "resourceName": "telegraf"},
			[]string{tokOperator, tokAllAccess, tokTelegrafR}, nil},
		{"who can touch bucket telegraf, by ID", base, nil, map[string]any{"resourceType": "buckets", "resourceID": bucketTelegraf},
			[]string{tokOperator, tokAllAccess, tokTelegrafW, tokTelegrafR}, nil},
		{"upper-case resource ID", base, nil, map[string]any{"action": "write", "resourceType": "buckets", "resourceID": strings.ToUpper(bucketTelegraf)},
			[]string{tokOperator, tokAllAccess, tokTelegrafW}, nil},
		{"who can write bucket logs in initech", base, nil, map[string]any{"action": "write", "resourceType": "buckets", "resourceName": "logs"},
			[]string{tokOperator, tokInitechW}, nil},
		// InfluxDB answers 404 for it to anyone: it is in no org.
		{"deleted bucket: all-org grants and grants naming it", base, nil, map[string]any{"action": "read", "resourceType": "buckets", "resourceID": bucketDeleted},
			[]string{tokOperator, tokDeleted}, []string{`buckets "` + bucketDeleted + `"`, "does not exist", "404"}},
		{"access filter combines with the org filter", base, nil, map[string]any{"org": "acme", "user": "alice", "action": "write", "resourceType": "buckets", "resourceName": "telegraf"},
			[]string{tokAllAccess, tokTelegrafW}, nil},
		{"same name in two orgs: both orgs' writers", two, nil, map[string]any{"action": "write", "resourceType": "buckets", "resourceName": "telegraf"},
			[]string{tokOperator, tokAllAccess, tokTelegrafW, "0a0000000000000a"}, nil},
		{"same name in two orgs: by ID, one org", two, nil, map[string]any{"action": "write", "resourceType": "buckets", "resourceID": bucketGlobexTelegraf},
			[]string{tokOperator, "0a0000000000000a"}, nil},
		{"unknown bucket: a note, instance-wide only", base, nil, map[string]any{"action": "write", "resourceType": "buckets", "resourceName": "ghost"},
			[]string{tokOperator}, []string{`buckets "ghost"`, "could not be determined", "not counted"}},
		{"buckets API refused: a note naming why", base, intercepting("/api/v2/buckets", 401, "application/json", `{"code":"unauthorized","message":"unauthorized access"}`),
			map[string]any{"action": "read", "resourceType": "buckets", "resourceName": "metrics"},
			[]string{tokOperator}, []string{`buckets "metrics"`, "may not read buckets", "401", "read:buckets"}},
		// read:orgs/acme/orgs does not reach org acme: InfluxDB checks orgs
		// by id alone.
		{"org by name", base, nil, map[string]any{"action": "read", "resourceType": "orgs", "resourceName": "acme"},
			[]string{tokOperator}, nil},
		{"org by ID", base, nil, map[string]any{"action": "write", "resourceType": "orgs", "resourceID": orgGlobex},
			[]string{tokOperator}, nil},
		{"unknown org: a note", base, nil, map[string]any{"resourceType": "orgs", "resourceName": "nosuch"},
			[]string{tokOperator}, []string{`orgs "nosuch"`, "does not show"}},
		{"dashboards of one ID: no lookup API, learned nowhere", base, nil, map[string]any{"resourceType": "dashboards", "resourceID": "0d00000000000001"},
			[]string{tokOperator}, []string{`dashboards "0d00000000000001"`, "is not looked up", "org-wide grants on dashboards are not counted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.fake, Settings{})
			tc.fake.Intercept(tc.intercept)
			defer tc.fake.Intercept(nil)
			res := h.call(t, "list_tokens", tc.args)
			r := structured[ListTokensResult](t, res)
			if got := ids(r); !slices.Equal(got, tc.want) {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
			if r.Notes[0] != visibilityNote {
				t.Errorf("first note %q", r.Notes[0])
			}
			// A bucket asked for by name that InfluxDB shows comes with the
			// caveat that it shows only what the configured token may read.
			_, byName := tc.args["resourceName"]
			wantCaveat := tc.args["resourceType"] == "buckets" && byName && tc.note == nil
			caveat := len(r.Notes) > 1 && strings.HasPrefix(r.Notes[1], "InfluxDB's buckets API shows only")
			if caveat != wantCaveat {
				t.Errorf("notes %q: caveat %v, want %v", r.Notes, caveat, wantCaveat)
			}
			if caveat {
				if !strings.Contains(text(t, res), "Note: InfluxDB's buckets API shows only the buckets the configured token may read: a bucket called") {
					t.Errorf("no caveat about unreadable buckets in the text:\n%s", text(t, res))
				}
				r.Notes = slices.Delete(r.Notes, 1, 2)
			}
			switch {
			case tc.note == nil && len(r.Notes) != 1:
				t.Errorf("unexpected notes %q", r.Notes[1:])
			case tc.note != nil && len(r.Notes) != 2:
				t.Errorf("notes %q, want one about %q", r.Notes, tc.note)
			case tc.note != nil:
				for _, w := range tc.note {
					if !strings.Contains(r.Notes[1], w) {
						t.Errorf("note %q lacks %q", r.Notes[1], w)
					}
				}
				if !strings.Contains(text(t, res), "Note: "+r.Notes[1]) {
					t.Error("the note is not in the text")
				}
			}
		})
	}
}

// crossOrgWorld is baseWorld plus globex's bucket sensors, acme's system
// bucket _monitoring, and tokens on them the way InfluxDB lets them be made.
func crossOrgWorld() world {
	f := baseWorld()
	f.Buckets = append(f.Buckets, fakeinflux.Bucket{ID: bucketGlobexSensors, Name: "sensors", OrgID: orgGlobex}, fakeinflux.Bucket{ID: bucketAcmeMonitor, Name: "_monitoring", OrgID: orgAcme, System: true})
	t := f.Auths[len(f.Auths)-1].Created
	add := func(id, desc, orgID, userID string, perms ...fakeinflux.Perm) {
		t = t.AddDate(0, 1, 0)
		f.Auths = append(f.Auths, fakeinflux.Auth{ID: id, Status: "active", Description: desc, OrgID: orgID, UserID: userID, Perms: perms, Created: t})
	}
	add("0a000000000000c1", "acme token naming globex's sensors", orgAcme, userAlice, fakeinflux.Perm{Action: "write", Type: "buckets", ID: bucketGlobexSensors, OrgID: orgAcme})
	add("0a000000000000c2", "globex bucket writer", orgGlobex, userCarol, fakeinflux.Perm{Action: "write", Type: "buckets", OrgID: orgGlobex})
	add("0a000000000000c3", "acme bucket writer", orgAcme, userBob, fakeinflux.Perm{Action: "write", Type: "buckets", OrgID: orgAcme}, fakeinflux.Perm{Action: "read", Type: "buckets", OrgID: orgAcme})
	add("0a000000000000c4", "reads org acme", orgAcme, userBob, fakeinflux.Perm{Action: "read", Type: "orgs", ID: orgAcme, OrgID: orgAcme})
	add("0a000000000000c5", "reads _monitoring by id", orgAcme, userBob, fakeinflux.Perm{Action: "read", Type: "buckets", ID: bucketAcmeMonitor, OrgID: orgAcme})
	add("0a000000000000c6", "mints tokens for bob", orgAcme, userBob, fakeinflux.Perm{Action: "write", Type: "authorizations", OrgID: orgAcme}, fakeinflux.Perm{Action: "write", Type: "users", ID: userBob, OrgID: orgAcme})
	return f
}

// TestAccessThroughTheTool: the rules above, end to end: the resource and
// its org come from InfluxDB's buckets API before the token list is read.
func TestAccessThroughTheTool(t *testing.T) {
	f := crossOrgWorld().start(t)
	h := newHarness(t, f, Settings{})
	for _, tc := range []struct {
		name string
		args map[string]any
		want []string
	}{
		{"who can write globex's sensors: the cross-org id and globex's writers, not acme's", map[string]any{"action": "write", "resourceType": "buckets", "resourceName": "sensors"},
			[]string{tokOperator, "0a000000000000c1", "0a000000000000c2"}},
		// Neither alice's read:orgs/acme/buckets nor her read:orgs/acme/orgs
		// nor a permission naming _monitoring's id reads it.
		{"who can read acme's _monitoring: readers of org acme", map[string]any{"action": "read", "resourceType": "buckets", "resourceName": "_monitoring"},
			[]string{tokOperator, "0a000000000000c4"}},
		{"who can write acme's _monitoring: bucket writers", map[string]any{"action": "write", "resourceType": "buckets", "resourceID": bucketAcmeMonitor},
			[]string{tokOperator, tokAllAccess, "0a000000000000c3"}},
		{"who can read org acme: by id only", map[string]any{"action": "read", "resourceType": "orgs", "resourceID": orgAcme},
			[]string{tokOperator, "0a000000000000c4"}},
		{"who can read user bob: by id only", map[string]any{"action": "read", "resourceType": "users", "resourceName": "bob"},
			[]string{tokOperator}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.RequestsTo("/api/v2/authorizations"))
			r := structured[ListTokensResult](t, h.call(t, "list_tokens", tc.args))
			if got := ids(r); !slices.Equal(got, tc.want) {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
			if n := len(f.RequestsTo("/api/v2/authorizations")) - before; n != 1 {
				t.Errorf("%d token lists read, want 1", n)
			}
		})
	}

	// The resource is looked up before the token list is read, so that each
	// token is decided as it streams past.
	before := len(f.Logged())
	h.call(t, "list_tokens", map[string]any{"action": "write", "resourceType": "buckets", "resourceName": "sensors"})
	var paths []string
	for _, r := range f.Logged()[before:] {
		paths = append(paths, r.URL.Path)
	}
	if len(paths) < 2 || paths[0] != "/api/v2/buckets" || paths[1] != "/api/v2/authorizations" {
		t.Errorf("requests %v: want the bucket lookup first", paths)
	}
}

// TestRiskAnswersSayWhy: a risk answer shows, per token, the permissions
// raising the flag, and the structured result carries them for every flag.
func TestRiskAnswersSayWhy(t *testing.T) {
	f := crossOrgWorld().start(t)
	h := newHarness(t, f, Settings{})
	res := h.call(t, "list_tokens", map[string]any{"risk": "can-create-tokens"})
	r := structured[ListTokensResult](t, res)
	if got := ids(r); !slices.Equal(got, []string{tokOperator, "0a000000000000c6"}) {
		t.Fatalf("ids %v", got)
	}
	msg := text(t, res)
	for _, w := range []string{
		"raises can-create-tokens: write:/authorizations, write:/users (+32 other permissions)",
		"raises can-create-tokens: write:orgs/acme/authorizations, write:orgs/acme/users/bob",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("text lacks %q:\n%s", w, msg)
		}
	}
	if strings.Contains(msg, "read:/dashboards") {
		t.Errorf("the text dumps permissions that raise nothing:\n%s", msg)
	}
	op := r.Tokens[0]
	if len(op.RiskReasons) != 2 || op.RiskReasons[0].Risk != riskInstanceWide || len(op.RiskReasons[0].Permissions) != 2*len(someTypes)-2 {
		t.Errorf("operator's reasons %+v", op.RiskReasons)
	}

	res = h.call(t, "list_tokens", map[string]any{"risk": "dangling"})
	if got := ids(structured[ListTokensResult](t, res)); !slices.Equal(got, []string{tokDeleted}) {
		t.Errorf("dangling: %v", got)
	}
	if msg := text(t, res); !strings.Contains(msg, "raises dangling: read:orgs/"+orgAcme+"/buckets/"+bucketDeleted) {
		t.Errorf("text:\n%s", msg)
	}
}

// TestInactiveTokensInAccessAnswers: an access answer keeps an inactive
// token, which can be reactivated, and says InfluxDB refuses it until then.
func TestInactiveTokensInAccessAnswers(t *testing.T) {
	h := newHarness(t, baseWorld().start(t), Settings{})
	res := h.call(t, "list_tokens", map[string]any{"action": "read", "resourceType": "buckets", "resourceName": "sales"})
	if got := ids(structured[ListTokensResult](t, res)); !slices.Contains(got, tokInactive) {
		t.Fatalf("ids %v lack the inactive reader", got)
	}
	if msg := text(t, res); !strings.Contains(msg, "grants it: read:orgs/globex/buckets/sales; once reactivated: InfluxDB refuses an inactive token until then") {
		t.Errorf("text:\n%s", msg)
	}
}

// TestTypeGrants: a question about a whole type asks whether InfluxDB would
// allow the action on some resource of it.
func TestTypeGrants(t *testing.T) {
	ps := func(p ...influx.Permission) []influx.Permission { return p }
	for _, tc := range []struct {
		name   string
		action string
		typ    string
		perms  []influx.Permission
		want   bool
	}{
		{"org-wide users reach no user", "read", "users", ps(perm("read", "users", "", "", orgAcme)), false},
		{"one user", "read", "users", ps(perm("read", "users", userBob, "bob", orgAcme)), true},
		{"every user", "write", "users", ps(perm("write", "users", "", "", "")), true},
		{"org-wide orgs reach no org", "write", "orgs", ps(perm("write", "orgs", "", "", orgAcme)), false},
		{"org-wide buckets", "write", "buckets", ps(perm("write", "buckets", "", "", orgAcme)), true},
		{"reading an existing org reads its system buckets", "read", "buckets", ps(perm("read", "orgs", orgAcme, "acme", orgAcme)), true},
		{"reading an org that no longer exists does not", "read", "buckets", ps(perm("read", "orgs", orgAcme, "", orgAcme)), false},
		{"writing an org writes no bucket", "write", "buckets", ps(perm("write", "orgs", orgAcme, "acme", orgAcme)), false},
		{"tokens without a user", "write", "authorizations", ps(perm("write", "authorizations", "", "", orgAcme)), false},
		{"tokens with org-wide users", "write", "authorizations", ps(perm("write", "authorizations", "", "", orgAcme), perm("write", "users", "", "", orgAcme)), false},
		{"tokens with one user", "read", "authorizations", ps(perm("read", "authorizations", tokMinter, "", orgAcme), perm("read", "users", userBob, "bob", orgAcme)), true},
		{"instance", "write", "authorizations", ps(perm("write", "instance", "", "", "")), true},
		{"other action", "write", "dashboards", ps(perm("read", "dashboards", "", "", "")), false},
	} {
		q := &accessQuery{Action: tc.action, Type: tc.typ}
		if got := q.grantedBy(&influx.Authorization{Permissions: tc.perms}); got != tc.want {
			t.Errorf("%s: granted %v, want %v", tc.name, got, tc.want)
		}
	}
}
