package tools

// The fixtures the tools tests audit: worlds of orgs, users, buckets and
// tokens, served by the shared fake InfluxDB (internal/fakeinflux).

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tokenaudit/influx-token-mcp/internal/fakeinflux"
)

// world is what a fake InfluxDB serves.
type world struct{ fakeinflux.World }

// start serves w until the test ends.
func (w world) start(t *testing.T) *fakeinflux.Server {
	t.Helper()
	return fakeinflux.Start(t, w.World)
}

const (
	orgAcme    = "2ee51bdadf9c0ae1"
	orgGlobex  = "3ff51bdadf9c0ae2"
	orgInitech = "4aa51bdadf9c0ae3"

	userAdmin = "11b2f4c47da08000"
	userAlice = "11b2f4c47da08001"
	userBob   = "11b2f4c47da08002"
	userCarol = "11b2f4c47da08003"

	bucketTelegraf       = "1b8b4c1613714666"
	bucketMetrics        = "1b8b4c1613714667"
	bucketSales          = "1b8b4c1613714668"
	bucketLogs           = "1b8b4c1613714669"
	bucketDeleted        = "1b8b4c16137146ff" // named by a permission, no longer exists
	bucketGlobexTelegraf = "1b8b4c161371466a" // only in worlds with two telegraf buckets
)

// IDs of the tokens in baseWorld.
const (
	tokOperator  = "0a00000000000001" // admin: every type, every org, read+write
	tokAllAccess = "0a00000000000002" // alice: every type in acme, read+write
	tokTelegrafW = "0a00000000000003" // alice: write bucket telegraf
	tokTelegrafR = "0a00000000000004" // bob: read bucket telegraf
	tokInitechW  = "0a00000000000005" // carol: read+write every bucket in initech
	tokInactive  = "0a00000000000006" // bob: inactive, read bucket sales in globex
	tokNoDesc    = "0a00000000000007" // carol: no description, read dashboards in globex
	tokDeleted   = "0a00000000000008" // alice: read a deleted bucket in acme
	tokMinter    = "0a00000000000009" // bob: read+write authorizations in acme
)

// someTypes are the resource types of all-access and operator tokens here.
var someTypes = []string{"authorizations", "buckets", "dashboards", "orgs", "tasks", "telegrafs", "users", "variables", "secrets", "labels", "views", "documents", "notificationRules", "notificationEndpoints", "checks", "dbrp", "annotations"}

func readWriteAll(orgID string) []fakeinflux.Perm {
	var ps []fakeinflux.Perm
	for _, typ := range someTypes {
		ps = append(ps, fakeinflux.Perm{Action: "read", Type: typ, OrgID: orgID}, fakeinflux.Perm{Action: "write", Type: typ, OrgID: orgID})
	}
	return ps
}

func monthAfter(base time.Time, months int) time.Time { return base.AddDate(0, months, 0) }

// baseWorld is three orgs, four users, five buckets and nine tokens, one per
// audit situation.
func baseWorld() world {
	t0 := time.Date(2025, 1, 15, 9, 30, 0, 123456789, time.UTC)
	return world{fakeinflux.World{
		Orgs:  []fakeinflux.Org{{ID: orgAcme, Name: "acme"}, {ID: orgGlobex, Name: "globex"}, {ID: orgInitech, Name: "initech"}},
		Users: []fakeinflux.User{{ID: userAdmin, Name: "admin"}, {ID: userAlice, Name: "alice"}, {ID: userBob, Name: "bob"}, {ID: userCarol, Name: "carol"}},
		Buckets: []fakeinflux.Bucket{
			{ID: bucketTelegraf, Name: "telegraf", OrgID: orgAcme}, {ID: bucketMetrics, Name: "metrics", OrgID: orgAcme},
			{ID: bucketSales, Name: "sales", OrgID: orgGlobex}, {ID: bucketLogs, Name: "logs", OrgID: orgInitech},
		},
		Auths: []fakeinflux.Auth{
			{ID: tokOperator, Status: "active", Description: "admin's Token", OrgID: orgAcme, UserID: userAdmin, Perms: readWriteAll(""), Created: monthAfter(t0, 0)},
			{ID: tokAllAccess, Status: "active", Description: "alice all access", OrgID: orgAcme, UserID: userAlice, Perms: readWriteAll(orgAcme), Created: monthAfter(t0, 1)},
			{ID: tokTelegrafW, Status: "active", Description: "Telegraf agent on web-01", OrgID: orgAcme, UserID: userAlice, Perms: []fakeinflux.Perm{{Action: "write", Type: "buckets", ID: bucketTelegraf, OrgID: orgAcme}}, Created: monthAfter(t0, 2)},
			{ID: tokTelegrafR, Status: "active", Description: "grafana dashboards", OrgID: orgAcme, UserID: userBob, Perms: []fakeinflux.Perm{{Action: "read", Type: "buckets", ID: bucketTelegraf, OrgID: orgAcme}}, Created: monthAfter(t0, 3)},
			{ID: tokInitechW, Status: "active", Description: "initech ingest", OrgID: orgInitech, UserID: userCarol, Perms: []fakeinflux.Perm{{Action: "read", Type: "buckets", OrgID: orgInitech}, {Action: "write", Type: "buckets", OrgID: orgInitech}}, Created: monthAfter(t0, 4)},
			{ID: tokInactive, Status: "inactive", Description: "old globex reader", OrgID: orgGlobex, UserID: userBob, Perms: []fakeinflux.Perm{{Action: "read", Type: "buckets", ID: bucketSales, OrgID: orgGlobex}}, Created: monthAfter(t0, 5)},
			{ID: tokNoDesc, Status: "active", Description: "  ", OrgID: orgGlobex, UserID: userCarol, Perms: []fakeinflux.Perm{{Action: "read", Type: "dashboards", OrgID: orgGlobex}}, Created: monthAfter(t0, 6)},
			{ID: tokDeleted, Status: "active", Description: "reads a deleted bucket", OrgID: orgAcme, UserID: userAlice, Perms: []fakeinflux.Perm{{Action: "read", Type: "buckets", ID: bucketDeleted, OrgID: orgAcme}}, Created: monthAfter(t0, 7)},
			{ID: tokMinter, Status: "active", Description: "ci bootstrap", OrgID: orgAcme, UserID: userBob, Perms: []fakeinflux.Perm{{Action: "read", Type: "authorizations", OrgID: orgAcme}, {Action: "write", Type: "authorizations", OrgID: orgAcme}}, Created: monthAfter(t0, 8)},
		},
	}}
}

// generatedWorld is n tokens spread over 12 orgs and 15 users with varied
// permissions, for paging and size measurements.
func generatedWorld(n int) world {
	var f world
	for i := range 12 {
		f.Orgs = append(f.Orgs, fakeinflux.Org{ID: fmt.Sprintf("%016x", 0x2000+i), Name: fmt.Sprintf("org-%02d", i)})
		f.Buckets = append(f.Buckets, fakeinflux.Bucket{ID: fmt.Sprintf("%016x", 0x3000+i), Name: fmt.Sprintf("telegraf-%02d", i), OrgID: fmt.Sprintf("%016x", 0x2000+i)})
	}
	for i := range 15 {
		f.Users = append(f.Users, fakeinflux.User{ID: fmt.Sprintf("%016x", 0x1000+i), Name: fmt.Sprintf("user-%02d", i)})
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		org := f.Orgs[i%len(f.Orgs)]
		bucket := f.Buckets[i%len(f.Buckets)]
		a := fakeinflux.Auth{
			ID:          fmt.Sprintf("%016x", 0xa000000+i),
			Status:      "active",
			Description: fmt.Sprintf("token %d for %s", i, bucket.Name),
			OrgID:       org.ID,
			UserID:      f.Users[i%len(f.Users)].ID,
			// Same creation time for some, so ordering must fall back to ID.
			Created: t0.Add(time.Duration(i/3) * time.Hour),
		}
		switch i % 10 {
		case 0:
			a.Perms = readWriteAll(org.ID)
		case 1, 2, 3:
			a.Perms = []fakeinflux.Perm{{Action: "write", Type: "buckets", ID: bucket.ID, OrgID: org.ID}}
		case 4, 5:
			a.Perms = []fakeinflux.Perm{{Action: "read", Type: "buckets", ID: bucket.ID, OrgID: org.ID}, {Action: "read", Type: "dashboards", OrgID: org.ID}}
		case 6:
			a.Perms = []fakeinflux.Perm{{Action: "read", Type: "buckets", OrgID: org.ID}, {Action: "write", Type: "buckets", OrgID: org.ID}, {Action: "read", Type: "orgs", ID: org.ID, OrgID: ""}}
		case 7:
			a.Status = "inactive"
			a.Perms = []fakeinflux.Perm{{Action: "read", Type: "buckets", ID: bucket.ID, OrgID: org.ID}, {Action: "write", Type: "buckets", ID: bucket.ID, OrgID: org.ID}}
		case 8:
			a.Description = ""
			a.Perms = []fakeinflux.Perm{{Action: "read", Type: "tasks", OrgID: org.ID}, {Action: "write", Type: "tasks", OrgID: org.ID}, {Action: "read", Type: "buckets", ID: bucket.ID, OrgID: org.ID}}
		case 9:
			a.Perms = []fakeinflux.Perm{{Action: "read", Type: "telegrafs", OrgID: org.ID}, {Action: "read", Type: "buckets", ID: bucket.ID, OrgID: org.ID}, {Action: "write", Type: "buckets", ID: bucket.ID, OrgID: org.ID}}
		}
		if i%250 == 0 {
			a.Perms = readWriteAll("")
		}
		f.Auths = append(f.Auths, a)
	}
	return f
}

// intercepting answers every request to path with status, content type and
// body.
func intercepting(path string, status int, contentType, body string, header ...string) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != path {
			return false
		}
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
		return true
	}
}

// lastQuery is the query of the last request to p.
func lastQuery(t *testing.T, f *fakeinflux.Server, p string) map[string][]string {
	t.Helper()
	rs := f.RequestsTo(p)
	if len(rs) == 0 {
		t.Fatalf("no request to %s", p)
	}
	return rs[len(rs)-1].URL.Query()
}

// assertListQuery checks that the last list request asked InfluxDB exactly
// for want.
func assertListQuery(t *testing.T, f *fakeinflux.Server, want map[string]string) {
	t.Helper()
	q := lastQuery(t, f, "/api/v2/authorizations")
	if len(q) != len(want) {
		t.Errorf("InfluxDB was asked %v, want %v", q, want)
	}
	for k, v := range want {
		if got := q[k]; len(got) != 1 || got[0] != v {
			t.Errorf("query %s = %v, want %q", k, got, v)
		}
	}
}
