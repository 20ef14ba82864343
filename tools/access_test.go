package tools

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tokenaudit/influx-token-mcp/influx"
)

func perm(action, typ, id, name, orgID string) influx.Permission {
	return influx.Permission{Action: action, Resource: influx.Resource{Type: typ, ID: id, Name: name, OrgID: orgID}}
}

func TestAccessQueryGrants(t *testing.T) {
	telegrafByName := func(action string) *accessQuery {
		return &accessQuery{Action: action, Type: "buckets", Name: "telegraf", Targets: []resource{{bucketTelegraf, orgAcme}}}
	}
	telegrafByID := func(action string) *accessQuery {
		return &accessQuery{Action: action, Type: "buckets", ID: bucketTelegraf, Targets: []resource{{bucketTelegraf, orgAcme}}}
	}
	for _, tc := range []struct {
		name string
		q    *accessQuery
		p    influx.Permission
		want bool
	}{
		{"the resource by ID", telegrafByName("write"), perm("write", "buckets", bucketTelegraf, "telegraf", orgAcme), true},
		{"the resource by ID, query by ID", telegrafByID("write"), perm("write", "buckets", bucketTelegraf, "telegraf", orgAcme), true},
		{"the resource by name only", &accessQuery{Action: "write", Type: "buckets", Name: "telegraf"}, perm("write", "buckets", "1b8b4c16137146aa", "telegraf", orgGlobex), true},
		{"another bucket in the same org", telegrafByName("write"), perm("write", "buckets", bucketMetrics, "metrics", orgAcme), false},
		{"type-wide in the resource's org", telegrafByName("write"), perm("write", "buckets", "", "", orgAcme), true},
		{"type-wide in another org", telegrafByName("write"), perm("write", "buckets", "", "", orgInitech), false},
		{"instance-wide", telegrafByName("write"), perm("write", "buckets", "", "", ""), true},
		{"read does not grant write", telegrafByName("write"), perm("read", "buckets", bucketTelegraf, "telegraf", orgAcme), false},
		{"write does not grant read", telegrafByName("read"), perm("write", "buckets", "", "", ""), false},
		{"action omitted: read counts", telegrafByName(""), perm("read", "buckets", bucketTelegraf, "telegraf", orgAcme), true},
		{"action omitted: write counts", telegrafByName(""), perm("write", "buckets", "", "", orgAcme), true},
		{"another type in the org", telegrafByName(""), perm("write", "dashboards", "", "", orgAcme), false},
		{"another type instance-wide", telegrafByName(""), perm("write", "orgs", "", "", ""), false},
		{"deleted resource without name, query by name", telegrafByName("read"), perm("read", "buckets", bucketDeleted, "", orgAcme), false},
		{"deleted resource without name, query by ID", &accessQuery{Type: "buckets", ID: bucketDeleted}, perm("read", "buckets", bucketDeleted, "", orgAcme), true},
		{"deleted resource, its org learned", &accessQuery{Type: "buckets", ID: bucketDeleted, Targets: []resource{{bucketDeleted, orgAcme}}}, perm("read", "buckets", "", "", orgAcme), true},
		{"unresolved org: type-wide is not counted", &accessQuery{Type: "buckets", Name: "ghost", Targets: []resource{{bucketTelegraf, ""}}}, perm("read", "buckets", "", "", orgAcme), false},
		{"unresolved org: instance-wide still counts", &accessQuery{Type: "buckets", Name: "ghost"}, perm("read", "buckets", "", "", ""), true},
		{"same name in two orgs: either org's type-wide", &accessQuery{Type: "buckets", Name: "telegraf", Targets: []resource{{bucketTelegraf, orgAcme}, {bucketGlobexTelegraf, orgGlobex}}}, perm("write", "buckets", "", "", orgGlobex), true},
		{"type only: a specific grant counts", &accessQuery{Action: "write", Type: "buckets"}, perm("write", "buckets", bucketTelegraf, "telegraf", orgAcme), true},
		{"type only: type-wide in any org counts", &accessQuery{Action: "write", Type: "buckets"}, perm("write", "buckets", "", "", orgInitech), true},
		{"type only: other action", &accessQuery{Action: "write", Type: "buckets"}, perm("read", "buckets", "", "", ""), false},
		{"type only: other type", &accessQuery{Type: "buckets"}, perm("read", "dbrp", "", "", ""), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.q.grants(tc.p); got != tc.want {
				t.Errorf("grants(%+v) = %v, want %v", tc.p, got, tc.want)
			}
			a := &influx.Authorization{Permissions: []influx.Permission{perm("read", "variables", "", "", orgAcme), tc.p}}
			if got := tc.q.grantedBy(a); got != tc.want {
				t.Errorf("grantedBy = %v, want %v", got, tc.want)
			}
		})
	}
	if (&accessQuery{Type: "buckets"}).grantedBy(&influx.Authorization{}) {
		t.Error("a token without permissions grants something")
	}
}

func TestAccessQueryLearn(t *testing.T) {
	q := &accessQuery{Type: "buckets", Name: "telegraf"}
	if q.resolved() {
		t.Fatal("resolved before learning anything")
	}
	q.learn(perm("write", "dashboards", bucketTelegraf, "telegraf", orgAcme)) // another type
	q.learn(perm("write", "buckets", bucketMetrics, "metrics", orgAcme))      // another bucket
	q.learn(perm("write", "buckets", "", "", orgAcme))                        // type-wide: says nothing about telegraf
	if len(q.Targets) != 0 {
		t.Fatalf("learned %+v from unrelated permissions", q.Targets)
	}
	q.addTarget(resource{ID: bucketTelegraf}) // e.g. found without org
	if q.resolved() {
		t.Error("resolved without an org")
	}
	q.learn(perm("read", "buckets", bucketTelegraf, "telegraf", orgAcme))
	q.learn(perm("write", "buckets", bucketTelegraf, "telegraf", orgAcme))
	if len(q.Targets) != 1 || q.Targets[0] != (resource{bucketTelegraf, orgAcme}) || !q.resolved() {
		t.Errorf("targets %+v", q.Targets)
	}
	q.learn(perm("read", "buckets", bucketGlobexTelegraf, "telegraf", orgGlobex))
	if len(q.Targets) != 2 {
		t.Errorf("the second telegraf was not learned: %+v", q.Targets)
	}
}

func TestRisksOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    influx.Authorization
		want []string
	}{
		{"narrow", influx.Authorization{Status: "active", Description: "d", Permissions: []influx.Permission{perm("write", "buckets", bucketTelegraf, "", orgAcme)}}, []string{}},
		{"no permissions", influx.Authorization{Status: "active", Description: "d"}, []string{}},
		{"type-wide in an org is not instance-wide", influx.Authorization{Status: "active", Description: "d", Permissions: []influx.Permission{perm("read", "buckets", "", "", orgAcme)}}, []string{}},
		{"a resource outside any org is not instance-wide", influx.Authorization{Status: "active", Description: "d", Permissions: []influx.Permission{perm("read", "users", userAlice, "", "")}}, []string{}},
		{"instance-wide read", influx.Authorization{Status: "active", Description: "d", Permissions: []influx.Permission{perm("read", "buckets", "", "", "")}}, []string{riskInstanceWide}},
		{"write authorizations in an org", influx.Authorization{Status: "active", Description: "d", Permissions: []influx.Permission{perm("write", "authorizations", "", "", orgAcme)}}, []string{riskCanCreateTokens}},
		{"read authorizations only", influx.Authorization{Status: "active", Description: "d", Permissions: []influx.Permission{perm("read", "authorizations", "", "", orgAcme)}}, []string{}},
		{"write one authorization", influx.Authorization{Status: "active", Description: "d", Permissions: []influx.Permission{perm("write", "authorizations", tokMinter, "", orgAcme)}}, []string{}},
		{"operator", influx.Authorization{Status: "active", Description: "admin's Token", Permissions: []influx.Permission{perm("read", "authorizations", "", "", ""), perm("write", "authorizations", "", "", "")}}, []string{riskInstanceWide, riskCanCreateTokens}},
		{"inactive", influx.Authorization{Status: "inactive", Description: "d"}, []string{riskInactive}},
		{"blank description", influx.Authorization{Status: "active", Description: " \t\n"}, []string{riskNoDescription}},
		{"all four, in fixed order", influx.Authorization{Status: "inactive", Permissions: []influx.Permission{perm("write", "authorizations", "", "", "")}}, []string{riskInstanceWide, riskCanCreateTokens, riskInactive, riskNoDescription}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := risksOf(&tc.a)
			if got == nil || !slices.Equal(got, tc.want) {
				t.Errorf("risks %#v, want %#v", got, tc.want)
			}
			if b, _ := json.Marshal(newToken(&tc.a, got)); !strings.Contains(string(b), `"risks":[`) {
				t.Errorf("risks marshal as %s", b)
			}
		})
	}
}

// twoTelegrafs is baseWorld plus a second bucket named telegraf, in globex,
// and a token that writes every bucket in globex.
func twoTelegrafs() *fakeInflux {
	f := baseWorld()
	f.buckets = append(f.buckets, fakeBucket{bucketGlobexTelegraf, "telegraf", orgGlobex})
	f.auths = append(f.auths, fakeAuth{ID: "0a0000000000000a", Status: "active", Description: "globex ingest", OrgID: orgGlobex, UserID: userCarol,
		Perms: []fakePerm{{"write", "buckets", "", orgGlobex}}, Created: f.auths[len(f.auths)-1].Created.AddDate(0, 1, 0)})
	return f
}

func TestEffectiveAccess(t *testing.T) {
	base := baseWorld().start(t)
	two := twoTelegrafs().start(t)
	for _, tc := range []struct {
		name      string
		fake      *fakeInflux
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
		{"deleted bucket, org learned from a permission", base, nil, map[string]any{"action": "read", "resourceType": "buckets", "resourceID": bucketDeleted},
			[]string{tokOperator, tokAllAccess, tokDeleted}, nil},
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
		{"org by name", base, nil, map[string]any{"action": "read", "resourceType": "orgs", "resourceName": "acme"},
			[]string{tokOperator, tokAllAccess}, nil},
		{"org by ID", base, nil, map[string]any{"action": "write", "resourceType": "orgs", "resourceID": orgGlobex},
			[]string{tokOperator}, nil},
		{"unknown org: a note", base, nil, map[string]any{"resourceType": "orgs", "resourceName": "nosuch"},
			[]string{tokOperator}, []string{`orgs "nosuch"`, "could not be determined"}},
		{"dashboards of one ID: no lookup API, learned nowhere", base, nil, map[string]any{"resourceType": "dashboards", "resourceID": "0d00000000000001"},
			[]string{tokOperator}, []string{`dashboards "0d00000000000001"`, "could not be determined"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.fake, Settings{})
			tc.fake.setIntercept(tc.intercept)
			defer tc.fake.setIntercept(nil)
			res := h.call(t, "list_tokens", tc.args)
			r := structured[ListTokensResult](t, res)
			if got := ids(r); !slices.Equal(got, tc.want) {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
			if r.Notes[0] != visibilityNote {
				t.Errorf("first note %q", r.Notes[0])
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
