package testserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	influxdb "github.com/influxdata/influxdb/v2"
	"github.com/influxdata/influxdb/v2/kit/platform"
	"github.com/tokenaudit/influx-token-mcp/integration/testserver"
)

// Wire shapes of GET /api/v2/authorizations, decoded independently of the
// testserver package.
type authList struct {
	Links          map[string]string `json:"links"`
	Authorizations []auth            `json:"authorizations"`
}

type auth struct {
	ID          string       `json:"id"`
	Token       *string      `json:"token"`
	Status      string       `json:"status"`
	Description string       `json:"description"`
	OrgID       string       `json:"orgID"`
	Org         string       `json:"org"`
	UserID      string       `json:"userID"`
	User        string       `json:"user"`
	Permissions []permission `json:"permissions"`
	Links       struct {
		Self string `json:"self"`
		User string `json:"user"`
	} `json:"links"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

type permission struct {
	Action   string `json:"action"`
	Resource struct {
		Type  string `json:"type"`
		ID    string `json:"id"`
		OrgID string `json:"orgID"`
		Name  string `json:"name"`
		Org   string `json:"org"`
	} `json:"resource"`
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type env struct {
	t   *testing.T
	ctx context.Context
	srv *testserver.Server
	f   *testserver.Fixtures
}

func start(t *testing.T, hashed bool) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	srv, err := testserver.Start(ctx, testserver.Options{HashedTokens: hashed})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") || srv.OperatorToken == "" || srv.OrgID == "" || srv.Org != "acme" {
		t.Fatalf("unexpected server: URL=%q org=%q orgID=%q token set=%v", srv.URL, srv.Org, srv.OrgID, srv.OperatorToken != "")
	}
	f, err := testserver.Seed(ctx, srv)
	if err != nil {
		t.Fatalf("Seed: %v", err)
	}
	return &env{t: t, ctx: ctx, srv: srv, f: f}
}

// get sends GET path with "Authorization: Token <token>" (none when token
// is empty) and returns the status and body.
func (e *env) get(token, path string) (int, []byte) {
	e.t.Helper()
	code, body, err := testserver.NewClient(e.srv.URL, token).Raw(e.ctx, http.MethodGet, path)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	return code, body
}

// list lists authorizations and fails the test unless the answer is 200.
func (e *env) list(token, query string) []auth {
	e.t.Helper()
	path := "/api/v2/authorizations"
	if query != "" {
		path += "?" + query
	}
	code, body := e.get(token, path)
	if code != http.StatusOK {
		e.t.Fatalf("GET %s: status %d: %s", path, code, body)
	}
	var l authList
	if err := json.Unmarshal(body, &l); err != nil {
		e.t.Fatalf("GET %s: %v: %s", path, err, body)
	}
	if l.Authorizations == nil {
		e.t.Fatalf("GET %s: no authorizations array: %s", path, body)
	}
	return l.Authorizations
}

// names maps listed authorizations to fixture names, sorted; unknown IDs
// fail the test.
func (e *env) names(as []auth) []string {
	e.t.Helper()
	var names []string
	for _, a := range as {
		tok, ok := e.f.TokenByID(a.ID)
		if !ok {
			e.t.Fatalf("listed authorization %s (%q) is not a fixture", a.ID, a.Description)
		}
		names = append(names, tok.Name)
	}
	slices.Sort(names)
	return names
}

func (e *env) wantError(token, path string, status int, code, message string) {
	e.t.Helper()
	got, body := e.get(token, path)
	var ae apiError
	_ = json.Unmarshal(body, &ae)
	if got != status || ae.Code != code || ae.Message != message {
		e.t.Errorf("GET %s: got %d %q %q, want %d %q %q (body %s)", path, got, ae.Code, ae.Message, status, code, message, body)
	}
}

func TestOperatorListsEveryFixture(t *testing.T) {
	e := start(t, false)
	f := e.f

	if n := len(f.Tokens); n != 14 {
		t.Errorf("Seed made %d token fixtures, want 14: %v", n, f.TokenNames())
	}
	listed := e.list(e.srv.OperatorToken, "")
	if got, want := e.names(listed), f.TokenNames(); !slices.Equal(got, want) {
		t.Fatalf("operator lists %v, want every fixture %v", got, want)
	}

	for _, a := range listed {
		tok, _ := f.TokenByID(a.ID)
		t.Run(tok.Name, func(t *testing.T) {
			if a.Token == nil || *a.Token != tok.Token {
				t.Errorf("token value not returned in clear text by OSS")
			}
			if a.Description != tok.Description || a.Status != tok.Status ||
				a.User != tok.User || a.UserID != tok.UserID || a.Org != tok.Org || a.OrgID != tok.OrgID {
				t.Errorf("got %q %s %s/%s %s/%s, want %q %s %s/%s %s/%s",
					a.Description, a.Status, a.User, a.UserID, a.Org, a.OrgID,
					tok.Description, tok.Status, tok.User, tok.UserID, tok.Org, tok.OrgID)
			}
			if a.Links.Self != "/api/v2/authorizations/"+a.ID || a.Links.User != "/api/v2/users/"+a.UserID {
				t.Errorf("links = %+v", a.Links)
			}
			if a.CreatedAt.IsZero() || a.UpdatedAt.Before(a.CreatedAt) {
				t.Errorf("createdAt %v updatedAt %v", a.CreatedAt, a.UpdatedAt)
			}
			if len(a.Permissions) != len(tok.Permissions) {
				t.Fatalf("%d permissions, want %d", len(a.Permissions), len(tok.Permissions))
			}
			for i, p := range a.Permissions {
				want := tok.Permissions[i]
				if p.Action != want.Action || p.Resource.Type != want.Type || p.Resource.ID != want.ID || p.Resource.OrgID != want.OrgID {
					t.Errorf("permission %d = %s:%s id=%s org=%s, want %s", i, p.Action, p.Resource.Type, p.Resource.ID, p.Resource.OrgID, want)
				}
			}
		})
	}

	byName := map[string]auth{}
	for _, a := range listed {
		tok, _ := f.TokenByID(a.ID)
		byName[tok.Name] = a
	}
	onlyPerm := func(name string) permission {
		t.Helper()
		ps := byName[name].Permissions
		if len(ps) != 1 {
			t.Fatalf("%s has %d permissions, want 1", name, len(ps))
		}
		return ps[0]
	}

	// The server resolves names: same bucket name in two orgs.
	acmeTelegraf, globexTelegraf := onlyPerm(testserver.TokAliceTelegrafWriter), onlyPerm(testserver.TokGlobexTelegrafWriter)
	if r := acmeTelegraf.Resource; r.Name != "telegraf" || r.Org != "acme" || r.ID != f.Buckets[testserver.BucketAcmeTelegraf].ID {
		t.Errorf("acme telegraf permission resource = %+v", r)
	}
	if r := globexTelegraf.Resource; r.Name != "telegraf" || r.Org != "globex" || r.ID != f.Buckets[testserver.BucketGlobexTelegraf].ID || r.ID == acmeTelegraf.Resource.ID {
		t.Errorf("globex telegraf permission resource = %+v", r)
	}
	// A deleted bucket: ID kept, name and org left empty.
	if r := onlyPerm(testserver.TokCarolDeletedBucket).Resource; r.ID != f.Buckets[testserver.BucketAcmeScratch].ID || r.Name != "" || r.Org != "" || r.OrgID != f.Orgs["acme"].ID {
		t.Errorf("deleted bucket permission resource = %+v, want id %s and no name or org", r, f.Buckets[testserver.BucketAcmeScratch].ID)
	}
	// A type-wide permission names the org only.
	if r := onlyPerm(testserver.TokBobBucketsReader).Resource; r.ID != "" || r.Name != "" || r.Org != "acme" {
		t.Errorf("type-wide permission resource = %+v", r)
	}
	// Operator permissions have neither id nor orgID.
	for _, p := range byName[testserver.TokOperator].Permissions {
		if p.Resource.ID != "" || p.Resource.OrgID != "" {
			t.Errorf("operator permission %+v is not instance-wide", p)
		}
	}
	if s := byName[testserver.TokAliceNoDescription].Description; s != "" {
		t.Errorf("no-description token has description %q", s)
	}
	for _, name := range []string{testserver.TokBobInactive, testserver.TokAuditorInactive} {
		if s := byName[name].Status; s != "inactive" {
			t.Errorf("%s status = %q, want inactive", name, s)
		}
	}

	// Every fixture value is distinct and none is the wrong token.
	secrets := f.Secrets()
	seen := map[string]bool{}
	for _, s := range secrets {
		if s == "" || seen[s] {
			t.Errorf("secret %q empty or repeated", s)
		}
		seen[s] = true
	}
}

func TestWhoSeesWhat(t *testing.T) {
	e := start(t, false)
	f := e.f
	acme := func(tok testserver.Token) bool { return tok.Org == "acme" }

	cases := []struct {
		caller string
		want   []string
	}{
		{testserver.TokOperator, f.TokenNames()},
		{testserver.TokAuditor, f.Filter(acme)},
		// Without read:users on the owners, tokens are silently left out.
		{testserver.TokAuditorRestricted, f.Filter(func(tok testserver.Token) bool { return acme(tok) && tok.User == "carol" })},
		{testserver.TokAcmeAllAccess, f.Filter(func(tok testserver.Token) bool { return acme(tok) && tok.User == "admin" })},
		{testserver.TokAuditorBlind, nil},
		{testserver.TokAuditorInactive, nil},
		// Not an auditor at all.
		{testserver.TokAliceTelegrafWriter, nil},
	}
	for _, c := range cases {
		got := e.names(e.list(f.Token(c.caller).Token, ""))
		if !slices.Equal(got, c.want) {
			t.Errorf("%s sees %v, want %v", c.caller, got, c.want)
		}
	}
	if n := len(f.Filter(acme)); n < 10 || len(cases[2].want) >= n || len(cases[2].want) == 0 {
		t.Errorf("fixtures do not make the restricted auditor's view partial: %d acme, %d visible", n, len(cases[2].want))
	}

	// The permission model in Fixtures.VisibleTo predicts every caller's view.
	for _, caller := range f.TokenNames() {
		got := e.names(e.list(f.Token(caller).Token, ""))
		if want := f.VisibleTo(caller); !slices.Equal(got, want) {
			t.Errorf("%s sees %v, VisibleTo predicts %v", caller, got, want)
		}
	}

	// And whether getting one token succeeds (200) or is refused (401).
	for _, caller := range f.TokenNames() {
		c := f.Token(caller)
		for _, name := range f.TokenNames() {
			tok := f.Token(name)
			want := http.StatusUnauthorized
			if testserver.CanRead(c, tok) {
				want = http.StatusOK
			}
			if got, body := e.get(c.Token, "/api/v2/authorizations/"+tok.ID); got != want {
				t.Errorf("%s GET %s: %d, want %d: %s", caller, name, got, want, body)
			}
		}
	}

	const path = "/api/v2/authorizations"
	e.wantError(f.WrongToken, path, http.StatusUnauthorized, "unauthorized", "unauthorized access")
	e.wantError("", path, http.StatusUnauthorized, "unauthorized", "unauthorized access")

	// Getting one token the caller may not read is an error, not a silence.
	alice := f.Token(testserver.TokAliceTelegrafWriter)
	e.wantError(f.Token(testserver.TokAuditorRestricted).Token, path+"/"+alice.ID,
		http.StatusUnauthorized, "unauthorized", "read:users/"+alice.UserID+" is unauthorized")
	code, body := e.get(f.Token(testserver.TokAuditor).Token, path+"/"+alice.ID)
	var a auth
	if err := json.Unmarshal(body, &a); code != http.StatusOK || err != nil || a.ID != alice.ID || a.Token == nil || *a.Token != alice.Token {
		t.Errorf("auditor GET %s: %d %v %s", alice.ID, code, err, body)
	}
}

func TestFiltersAndErrors(t *testing.T) {
	e := start(t, false)
	f := e.f
	op := e.srv.OperatorToken

	cases := []struct {
		query string
		keep  func(testserver.Token) bool
	}{
		{"org=globex", func(tok testserver.Token) bool { return tok.Org == "globex" }},
		{"orgID=" + f.Orgs["globex"].ID, func(tok testserver.Token) bool { return tok.Org == "globex" }},
		{"user=alice", func(tok testserver.Token) bool { return tok.User == "alice" }},
		{"userID=" + f.Users["bob"].ID + "&org=acme", func(tok testserver.Token) bool { return tok.User == "bob" && tok.Org == "acme" }},
		// OSS ignores paging parameters and the Cloud-only token filter.
		{"limit=1&offset=3", func(testserver.Token) bool { return true }},
		{"token=" + url.QueryEscape(f.Token(testserver.TokBobInactive).Token), func(testserver.Token) bool { return true }},
		// Well-formed but unknown IDs: empty list.
		{"userID=0000000000000001", func(testserver.Token) bool { return false }},
	}
	for _, c := range cases {
		if got, want := e.names(e.list(op, c.query)), f.Filter(c.keep); !slices.Equal(got, want) {
			t.Errorf("?%s lists %v, want %v", c.query, got, want)
		}
	}

	const path = "/api/v2/authorizations"
	e.wantError(op, path+"?user=nosuch", http.StatusNotFound, "not found", "user not found")
	e.wantError(op, path+"?org=nosuch", http.StatusNotFound, "not found", `organization name "nosuch" not found`)
	e.wantError(op, path+"?userID=xyz", http.StatusBadRequest, "invalid", "id must have a length of 16 bytes")
	e.wantError(op, path+"/xyz", http.StatusBadRequest, "invalid", "id must have a length of 16 bytes")
	e.wantError(op, path+"/0000000000000000", http.StatusBadRequest, "invalid", "invalid ID")
	e.wantError(op, path+"/00000000000000ff", http.StatusNotFound, "not found", "authorization not found")
}

func TestTenantEndpoints(t *testing.T) {
	e := start(t, false)
	f := e.f
	c := e.srv.Client(e.srv.OperatorToken)

	var buckets struct {
		Buckets []struct{ ID, Name, OrgID string }
	}
	if err := c.Get(e.ctx, "/api/v2/buckets?name=telegraf", &buckets); err != nil {
		t.Fatal(err)
	}
	var orgIDs []string
	for _, b := range buckets.Buckets {
		orgIDs = append(orgIDs, b.OrgID)
	}
	slices.Sort(orgIDs)
	want := []string{f.Orgs["acme"].ID, f.Orgs["globex"].ID}
	slices.Sort(want)
	if !slices.Equal(orgIDs, want) {
		t.Errorf("buckets named telegraf are in orgs %v, want %v", orgIDs, want)
	}

	scratch := f.Buckets[testserver.BucketAcmeScratch]
	if err := c.Get(e.ctx, "/api/v2/buckets/"+scratch.ID, nil); !scratch.Deleted || !hasStatus(err, http.StatusNotFound) {
		t.Errorf("deleted bucket: %v", err)
	}

	var orgs struct{ Orgs []struct{ ID, Name string } }
	if err := c.Get(e.ctx, "/api/v2/orgs?org=globex", &orgs); err != nil || len(orgs.Orgs) != 1 || orgs.Orgs[0].ID != f.Orgs["globex"].ID {
		t.Errorf("orgs?org=globex: %v %+v", err, orgs)
	}

	var me struct{ ID, Name string }
	if err := e.srv.Client(f.Token(testserver.TokAuditor).Token).Get(e.ctx, "/api/v2/me", &me); err != nil || me.ID != f.Users["carol"].ID {
		t.Errorf("me as auditor: %v %+v", err, me)
	}

	var users struct{ Users []struct{ ID, Name string } }
	if err := c.Get(e.ctx, "/api/v2/users", &users); err != nil || len(users.Users) != 4 {
		t.Errorf("users: %v %+v", err, users)
	}
}

func TestHashedTokens(t *testing.T) {
	e := start(t, true)
	f := e.f
	if !e.srv.HashedTokens {
		t.Fatal("server does not report hashed tokens")
	}

	listed := e.list(e.srv.OperatorToken, "")
	if got, want := e.names(listed), f.TokenNames(); !slices.Equal(got, want) {
		t.Fatalf("operator lists %v, want %v", got, want)
	}
	for _, a := range listed {
		if a.Token == nil || *a.Token != "" {
			t.Errorf("%s: token = %v, want empty string with hashed tokens", a.ID, a.Token)
		}
	}
	code, body := e.get(e.srv.OperatorToken, "/api/v2/authorizations/"+f.Token(testserver.TokAliceTelegrafWriter).ID)
	if code != http.StatusOK || !strings.Contains(string(body), `"token": ""`) {
		t.Errorf("GET one with hashed tokens: %d %s", code, body)
	}
	// The values Seed got at creation still authenticate.
	if got, want := e.names(e.list(f.Token(testserver.TokAuditorRestricted).Token, "")),
		f.Filter(func(tok testserver.Token) bool { return tok.Org == "acme" && tok.User == "carol" }); !slices.Equal(got, want) {
		t.Errorf("restricted auditor sees %v, want %v", got, want)
	}
	e.wantError(f.WrongToken, "/api/v2/authorizations", http.StatusUnauthorized, "unauthorized", "unauthorized access")
}

// Seed backdates the tokens over two years; InfluxDB then reports those
// times, lists the tokens with them and still authenticates every token
// (the records were rewritten in the store, also with hashed tokens).
func TestSeedSpreadsCreationTimes(t *testing.T) {
	for _, hashed := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "hashed"}[hashed], func(t *testing.T) {
			e := start(t, hashed)
			now := time.Now()
			var oldest, newest time.Time
			for _, a := range e.list(e.srv.OperatorToken, "") {
				tok, _ := e.f.TokenByID(a.ID)
				if !a.CreatedAt.Equal(tok.CreatedAt) || !a.UpdatedAt.Equal(tok.UpdatedAt) {
					t.Errorf("%s: InfluxDB reports created %v updated %v, fixture says %v %v",
						tok.Name, a.CreatedAt, a.UpdatedAt, tok.CreatedAt, tok.UpdatedAt)
				}
				if !a.CreatedAt.Before(now) || a.UpdatedAt.Before(a.CreatedAt) || a.UpdatedAt.After(now) {
					t.Errorf("%s: created %v updated %v, want both in the past, in that order", tok.Name, a.CreatedAt, a.UpdatedAt)
				}
				if tok.Status == "inactive" && !a.UpdatedAt.After(a.CreatedAt) {
					t.Errorf("%s: inactive, but updatedAt %v is its creation time", tok.Name, a.UpdatedAt)
				}
				if oldest.IsZero() || a.CreatedAt.Before(oldest) {
					oldest = a.CreatedAt
				}
				if a.CreatedAt.After(newest) {
					newest = a.CreatedAt
				}
				// A token InfluxDB cannot find answers "unauthorized access"
				// (a known token without the permission or inactive gets
				// another message).
				if _, body := e.get(tok.Token, "/api/v2/authorizations/"+a.ID); strings.Contains(string(body), `"unauthorized access"`) {
					t.Errorf("%s no longer authenticates after backdating: %s", tok.Name, body)
				}
			}
			if age := now.Sub(oldest); age < 700*24*time.Hour || age > 731*24*time.Hour {
				t.Errorf("oldest token created %v ago, want about two years", age)
			}
			if age := now.Sub(newest); age > 31*24*time.Hour {
				t.Errorf("newest token created %v ago, want within the past month", age)
			}
			// createdAt is what InfluxDB sorts and what clients filter on: a
			// year-old cut-off splits the fixtures.
			yearAgo := now.AddDate(-1, 0, 0)
			older := e.f.Filter(func(tok testserver.Token) bool { return tok.CreatedAt.Before(yearAgo) })
			if len(older) < 3 || len(older) > len(e.f.Tokens)-3 {
				t.Errorf("tokens older than a year: %v, want a few but not most", older)
			}
		})
	}
}

func TestPermissionString(t *testing.T) {
	e := start(t, false)
	// Our rendering matches InfluxDB's for every fixture permission.
	for _, name := range e.f.TokenNames() {
		for _, p := range e.f.Token(name).Permissions {
			ip := influxdb.Permission{Action: influxdb.Action(p.Action), Resource: influxdb.Resource{Type: influxdb.ResourceType(p.Type)}}
			if p.ID != "" {
				id, err := platform.IDFromString(p.ID)
				if err != nil {
					t.Fatal(err)
				}
				ip.Resource.ID = id
			}
			if p.OrgID != "" {
				id, err := platform.IDFromString(p.OrgID)
				if err != nil {
					t.Fatal(err)
				}
				ip.Resource.OrgID = id
			}
			if p.String() != ip.String() {
				t.Errorf("%s: %q, InfluxDB renders %q", name, p.String(), ip.String())
			}
		}
	}
}

func hasStatus(err error, status int) bool {
	var ae *testserver.APIError
	return errors.As(err, &ae) && ae.StatusCode == status
}

// TestInfluxDBVersion checks that the server reports the InfluxDB version
// one of the module files requires (go.mod: v2.8.0, go.v2.10.mod: v2.10.0),
// and logs it, so that each run's output says which version it tested.
func TestInfluxDBVersion(t *testing.T) {
	required := map[string]string{}
	for _, file := range []string{"../go.mod", "../go.v2.10.mod"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?github\.com/influxdata/influxdb/v2 v(\S+)`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("%s requires no github.com/influxdata/influxdb/v2", file)
		}
		required[string(m[1])] = file
	}
	file, ok := required[testserver.InfluxDBVersion]
	if !ok {
		t.Fatalf("InfluxDBVersion = %q, want one the module files require: %v", testserver.InfluxDBVersion, required)
	}
	t.Logf("InfluxDB %s (%s), hashed tokens by default: %v", testserver.InfluxDBVersion, file, testserver.HashedTokensByDefault())
	// influxd hashes tokens by default from 2.9.0 on (InfluxDB's
	// authorization/storage.go, v2.10.0).
	if want := map[string]bool{"2.8.0": false, "2.10.0": true}[testserver.InfluxDBVersion]; testserver.HashedTokensByDefault() != want {
		t.Errorf("HashedTokensByDefault() = %v for %s, want %v", !want, testserver.InfluxDBVersion, want)
	}
	// Test binaries built by Go 1.27 (as for go.v2.10.mod) list their
	// dependencies: the version actually compiled in.
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/influxdata/influxdb/v2" && d.Version != "v"+testserver.InfluxDBVersion {
				t.Errorf("InfluxDBVersion = %q, but the build info has %s %s", testserver.InfluxDBVersion, d.Path, d.Version)
			}
		}
	}

	e := start(t, false)
	resp, err := http.Get(e.srv.URL + "/api/v2/setup")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Influxdb-Version"); got != testserver.InfluxDBVersion {
		t.Errorf("X-Influxdb-Version = %q, want %q", got, testserver.InfluxDBVersion)
	}
}
