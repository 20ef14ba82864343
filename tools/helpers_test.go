package tools

// Shared test fixtures: a fake InfluxDB over httptest that answers like the
// real v2 API (see /work/shared/guide/influxdb-api.md), and an mcptest
// harness that runs the production server options against it through a real
// influx.Client.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/mcptest"

	"github.com/tokenaudit/influx-token-mcp/influx"
)

// configuredToken is the token the server under test is configured with.
const configuredToken = "configured-token-2f9c1e7a5b3d8e6f0a4c=="

type fakeOrg struct{ ID, Name string }
type fakeUser struct{ ID, Name string }
type fakeBucket struct {
	ID, Name, OrgID string
	System          bool // _monitoring or _tasks
}

// fakePerm is a permission as stored; the fake fills in the resource's name
// and org name when it can resolve them, as InfluxDB does.
type fakePerm struct{ Action, Type, ID, OrgID string }

type fakeAuth struct {
	ID, Token, Status, Description, OrgID, UserID string
	Perms                                         []fakePerm
	Created                                       time.Time
}

// fakeInflux serves /api/v2/authorizations[/{id}], /api/v2/buckets and
// /api/v2/orgs from fixed data. intercept, when set, sees every request
// first and answers it when it returns true (failure injection).
type fakeInflux struct {
	orgs     []fakeOrg
	users    []fakeUser
	buckets  []fakeBucket
	auths    []fakeAuth
	srv      *httptest.Server
	requests atomic.Int64

	mu        sync.Mutex
	log       []*http.Request
	intercept func(w http.ResponseWriter, r *http.Request) bool
	bodies    map[string][]byte // list answers by filter
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

func readWriteAll(orgID string) []fakePerm {
	var ps []fakePerm
	for _, typ := range someTypes {
		ps = append(ps, fakePerm{"read", typ, "", orgID}, fakePerm{"write", typ, "", orgID})
	}
	return ps
}

// canary is the secret InfluxDB OSS returns in the token field of id.
func canary(id string) string { return "CANARY-" + id + "-s3cr3t_Q9xZ-_vB1uN7mK2==" }

func monthAfter(base time.Time, months int) time.Time { return base.AddDate(0, months, 0) }

// baseWorld is three orgs, four users, five buckets and nine tokens, one per
// audit situation.
func baseWorld() *fakeInflux {
	t0 := time.Date(2025, 1, 15, 9, 30, 0, 123456789, time.UTC)
	return &fakeInflux{
		orgs:  []fakeOrg{{orgAcme, "acme"}, {orgGlobex, "globex"}, {orgInitech, "initech"}},
		users: []fakeUser{{userAdmin, "admin"}, {userAlice, "alice"}, {userBob, "bob"}, {userCarol, "carol"}},
		buckets: []fakeBucket{
			{bucketTelegraf, "telegraf", orgAcme, false}, {bucketMetrics, "metrics", orgAcme, false},
			{bucketSales, "sales", orgGlobex, false}, {bucketLogs, "logs", orgInitech, false},
		},
		auths: []fakeAuth{
			{ID: tokOperator, Status: "active", Description: "admin's Token", OrgID: orgAcme, UserID: userAdmin, Perms: readWriteAll(""), Created: monthAfter(t0, 0)},
			{ID: tokAllAccess, Status: "active", Description: "alice all access", OrgID: orgAcme, UserID: userAlice, Perms: readWriteAll(orgAcme), Created: monthAfter(t0, 1)},
			{ID: tokTelegrafW, Status: "active", Description: "Telegraf agent on web-01", OrgID: orgAcme, UserID: userAlice, Perms: []fakePerm{{"write", "buckets", bucketTelegraf, orgAcme}}, Created: monthAfter(t0, 2)},
			{ID: tokTelegrafR, Status: "active", Description: "grafana dashboards", OrgID: orgAcme, UserID: userBob, Perms: []fakePerm{{"read", "buckets", bucketTelegraf, orgAcme}}, Created: monthAfter(t0, 3)},
			{ID: tokInitechW, Status: "active", Description: "initech ingest", OrgID: orgInitech, UserID: userCarol, Perms: []fakePerm{{"read", "buckets", "", orgInitech}, {"write", "buckets", "", orgInitech}}, Created: monthAfter(t0, 4)},
			{ID: tokInactive, Status: "inactive", Description: "old globex reader", OrgID: orgGlobex, UserID: userBob, Perms: []fakePerm{{"read", "buckets", bucketSales, orgGlobex}}, Created: monthAfter(t0, 5)},
			{ID: tokNoDesc, Status: "active", Description: "  ", OrgID: orgGlobex, UserID: userCarol, Perms: []fakePerm{{"read", "dashboards", "", orgGlobex}}, Created: monthAfter(t0, 6)},
			{ID: tokDeleted, Status: "active", Description: "reads a deleted bucket", OrgID: orgAcme, UserID: userAlice, Perms: []fakePerm{{"read", "buckets", bucketDeleted, orgAcme}}, Created: monthAfter(t0, 7)},
			{ID: tokMinter, Status: "active", Description: "ci bootstrap", OrgID: orgAcme, UserID: userBob, Perms: []fakePerm{{"read", "authorizations", "", orgAcme}, {"write", "authorizations", "", orgAcme}}, Created: monthAfter(t0, 8)},
		},
	}
}

// start serves f until the test ends and fills in every token's canary.
func (f *fakeInflux) start(t *testing.T) *fakeInflux {
	t.Helper()
	f.bodies = map[string][]byte{}
	for i := range f.auths {
		if f.auths[i].Token == "" {
			f.auths[i].Token = canary(f.auths[i].ID)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v2/authorizations", f.listAuthorizations)
	mux.HandleFunc("GET /api/v2/authorizations/{id}", f.getAuthorization)
	mux.HandleFunc("GET /api/v2/buckets", f.listBuckets)
	mux.HandleFunc("GET /api/v2/buckets/{id}", f.getBucket)
	mux.HandleFunc("GET /api/v2/orgs", f.listOrgs)
	mux.HandleFunc("GET /api/v2/orgs/{id}", f.getOrg)
	mux.HandleFunc("GET /api/v2/users", f.listUsers)
	mux.HandleFunc("GET /api/v2/users/{id}", f.getUser)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("fake InfluxDB: unexpected request %s %s", r.Method, r.URL.RequestURI())
		f.error(w, http.StatusNotFound, "not found", "path not found", false)
	})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		f.mu.Lock()
		f.log = append(f.log, r.Clone(context.Background()))
		intercept := f.intercept
		f.mu.Unlock()
		if r.Header.Get("Authorization") != "Token "+configuredToken {
			f.error(w, http.StatusUnauthorized, "unauthorized", "unauthorized access", false)
			return
		}
		if intercept != nil && intercept(w, r) {
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// secrets are the strings no tool output may contain.
func (f *fakeInflux) secrets() []string {
	out := []string{configuredToken}
	for _, a := range f.auths {
		out = append(out, a.Token)
	}
	return out
}

func (f *fakeInflux) setIntercept(fn func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.intercept = fn
}

// requestsTo returns the logged requests whose path is p.
func (f *fakeInflux) requestsTo(p string) []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*http.Request
	for _, r := range f.log {
		if r.URL.Path == p {
			out = append(out, r)
		}
	}
	return out
}

// lastQuery is the query of the last request to p.
func (f *fakeInflux) lastQuery(t *testing.T, p string) map[string][]string {
	t.Helper()
	rs := f.requestsTo(p)
	if len(rs) == 0 {
		t.Fatalf("no request to %s", p)
	}
	return rs[len(rs)-1].URL.Query()
}

// assertListQuery checks that the last list request asked InfluxDB exactly
// for want.
func (f *fakeInflux) assertListQuery(t *testing.T, want map[string]string) {
	t.Helper()
	q := f.lastQuery(t, "/api/v2/authorizations")
	if len(q) != len(want) {
		t.Errorf("InfluxDB was asked %v, want %v", q, want)
	}
	for k, v := range want {
		if got := q[k]; len(got) != 1 || got[0] != v {
			t.Errorf("query %s = %v, want %q", k, got, v)
		}
	}
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

// error answers like InfluxDB: tab-indented JSON from handlers, compact from
// middleware, and the X-Platform-Error-Code header.
func (f *fakeInflux) error(w http.ResponseWriter, status int, code, msg string, indent bool) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Platform-Error-Code", code)
	w.WriteHeader(status)
	var body []byte
	if indent {
		body, _ = json.MarshalIndent(map[string]string{"code": code, "message": msg}, "", "\t")
	} else {
		body, _ = json.Marshal(map[string]string{"code": code, "message": msg})
	}
	_, _ = w.Write(body)
}

func (f *fakeInflux) orgName(id string) string {
	for _, o := range f.orgs {
		if o.ID == id {
			return o.Name
		}
	}
	return ""
}

func (f *fakeInflux) userName(id string) string {
	for _, u := range f.users {
		if u.ID == id {
			return u.Name
		}
	}
	return ""
}

func (f *fakeInflux) bucketName(id string) string {
	for _, b := range f.buckets {
		if b.ID == id {
			return b.Name
		}
	}
	return ""
}

// authJSON is one authorization in InfluxDB's JSON shape, secret included.
func (f *fakeInflux) authJSON(a fakeAuth) map[string]any {
	perms := make([]map[string]any, 0, len(a.Perms))
	for _, p := range a.Perms {
		res := map[string]any{"type": p.Type}
		if p.OrgID != "" {
			res["orgID"] = p.OrgID
		}
		if p.ID != "" {
			res["id"] = p.ID
			// InfluxDB names buckets, orgs and users; for one that no longer
			// exists it leaves out the name and the org's name.
			name := map[string]func(string) string{"buckets": f.bucketName, "orgs": f.orgName, "users": f.userName}[p.Type]
			if name != nil && name(p.ID) == "" {
				perms = append(perms, map[string]any{"action": p.Action, "resource": res})
				continue
			}
			if name != nil {
				res["name"] = name(p.ID)
			}
		}
		if p.OrgID != "" {
			res["orgID"] = p.OrgID
			res["org"] = f.orgName(p.OrgID)
		}
		perms = append(perms, map[string]any{"action": p.Action, "resource": res})
	}
	ts := a.Created.Format(time.RFC3339Nano)
	return map[string]any{
		"id": a.ID, "token": a.Token, "status": a.Status, "description": a.Description,
		"orgID": a.OrgID, "org": f.orgName(a.OrgID), "userID": a.UserID, "user": f.userName(a.UserID),
		"permissions": perms,
		"links":       map[string]string{"self": "/api/v2/authorizations/" + a.ID, "user": "/api/v2/users/" + a.UserID},
		"createdAt":   ts, "updatedAt": ts,
	}
}

func (f *fakeInflux) listAuthorizations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for _, k := range []string{"userID", "orgID"} {
		if v := q.Get(k); v != "" && influx.ValidateID(v) != nil {
			f.error(w, http.StatusBadRequest, "invalid", "id must have a length of 16 bytes", true)
			return
		}
	}
	userID, orgID := q.Get("userID"), q.Get("orgID")
	if name := q.Get("user"); name != "" {
		id := ""
		for _, u := range f.users {
			if u.Name == name {
				id = u.ID
			}
		}
		if id == "" {
			f.error(w, http.StatusNotFound, "not found", "user not found", true)
			return
		}
		if userID != "" && userID != id {
			userID = "no match"
		} else {
			userID = id
		}
	}
	if name := q.Get("org"); name != "" {
		id := ""
		for _, o := range f.orgs {
			if o.Name == name {
				id = o.ID
			}
		}
		if id == "" {
			f.error(w, http.StatusNotFound, "not found", fmt.Sprintf("organization name %q not found", name), true)
			return
		}
		if orgID != "" && orgID != id {
			orgID = "no match"
		} else {
			orgID = id
		}
	}
	key := userID + "/" + orgID
	f.mu.Lock()
	body, ok := f.bodies[key]
	f.mu.Unlock()
	if !ok { // the fixture does not change once started, so answers are kept
		list := []map[string]any{}
		for _, a := range f.auths {
			if (userID == "" || a.UserID == userID) && (orgID == "" || a.OrgID == orgID) {
				list = append(list, f.authJSON(a))
			}
		}
		body, _ = json.Marshal(map[string]any{"links": map[string]string{"self": "/api/v2/authorizations"}, "authorizations": list})
		f.mu.Lock()
		f.bodies[key] = body
		f.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(body)
}

func (f *fakeInflux) getAuthorization(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if influx.ValidateID(id) != nil {
		f.error(w, http.StatusBadRequest, "invalid", "id must have a length of 16 bytes", true)
		return
	}
	for _, a := range f.auths {
		if strings.EqualFold(a.ID, id) {
			writeJSONBody(w, f.authJSON(a))
			return
		}
	}
	f.error(w, http.StatusNotFound, "not found", "authorization not found", true)
}

func (f *fakeInflux) listBuckets(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	list := []map[string]any{}
	for _, b := range f.buckets {
		if name == "" || b.Name == name {
			list = append(list, b.json())
		}
	}
	writeJSONBody(w, map[string]any{"links": map[string]string{"self": "/api/v2/buckets"}, "buckets": fakePage(r, list)})
}

func (f *fakeInflux) getBucket(w http.ResponseWriter, r *http.Request) {
	for _, b := range f.buckets {
		if b.ID == r.PathValue("id") {
			writeJSONBody(w, b.json())
			return
		}
	}
	f.error(w, http.StatusNotFound, "not found", "bucket not found", true)
}

func (b fakeBucket) json() map[string]any {
	typ := "user"
	if b.System {
		typ = "system"
	}
	return map[string]any{"id": b.ID, "name": b.Name, "orgID": b.OrgID, "type": typ, "retentionRules": []any{}}
}

func (f *fakeInflux) getOrg(w http.ResponseWriter, r *http.Request) {
	if name := f.orgName(r.PathValue("id")); name != "" {
		writeJSONBody(w, map[string]any{"id": r.PathValue("id"), "name": name})
		return
	}
	f.error(w, http.StatusNotFound, "not found", "organization not found", true)
}

func (f *fakeInflux) listUsers(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	list := []map[string]any{}
	for _, u := range f.users {
		if name == "" || u.Name == name {
			list = append(list, map[string]any{"id": u.ID, "name": u.Name, "status": "active"})
		}
	}
	if name != "" && len(list) == 0 {
		f.error(w, http.StatusNotFound, "not found", "user not found", true)
		return
	}
	writeJSONBody(w, map[string]any{"links": map[string]string{"self": "/api/v2/users"}, "users": fakePage(r, list)})
}

func (f *fakeInflux) getUser(w http.ResponseWriter, r *http.Request) {
	if name := f.userName(r.PathValue("id")); name != "" {
		writeJSONBody(w, map[string]any{"id": r.PathValue("id"), "name": name, "status": "active"})
		return
	}
	f.error(w, http.StatusNotFound, "not found", "user not found", true)
}

func (f *fakeInflux) listOrgs(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("org")
	list := []map[string]any{}
	for _, o := range f.orgs {
		if name == "" || o.Name == name {
			list = append(list, map[string]any{"id": o.ID, "name": o.Name, "description": ""})
		}
	}
	if name != "" && len(list) == 0 {
		f.error(w, http.StatusNotFound, "not found", fmt.Sprintf("organization name %q not found", name), true)
		return
	}
	writeJSONBody(w, map[string]any{"links": map[string]string{"self": "/api/v2/orgs"}, "orgs": fakePage(r, list)})
}

// fakePage cuts list as InfluxDB pages buckets, orgs and users: offset, then
// limit (default 20).
func fakePage(r *http.Request, list []map[string]any) []map[string]any {
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil {
		limit = 20
	}
	list = list[min(offset, len(list)):]
	return list[:min(limit, len(list))]
}

func writeJSONBody(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

// syncBuffer collects the server's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness is the production MCP server, in process, over a real
// influx.Client pointed at host.
type harness struct {
	srv     *mcptest.Server
	fake    *fakeInflux // nil when host is not a fake
	logs    *syncBuffer
	secrets []string
	ids     atomic.Int64
}

// newHarness serves the tools against fake with settings (Host is filled in).
func newHarness(t *testing.T, fake *fakeInflux, settings Settings) *harness {
	t.Helper()
	return newHarnessAt(t, fake.srv.URL, fake, settings)
}

func newHarnessAt(t *testing.T, host string, fake *fakeInflux, settings Settings) *harness {
	t.Helper()
	return newHarnessWith(t, host, fake, settings, nil)
}

// newCachedHarness is newHarness with the token list shared through lists,
// as main.go runs the tools. Its requests may take a minute: its tests read
// 10,000 tokens, which takes seconds under the race detector on a busy
// machine.
func newCachedHarness(t *testing.T, fake *fakeInflux, settings Settings, lists *influx.ListCache) *harness {
	t.Helper()
	settings.Timeout = cmp.Or(settings.Timeout, time.Minute)
	return newHarnessWith(t, fake.srv.URL, fake, settings, func(c *influx.Client) Client { return lists.Client(c) })
}

// newHarnessWith serves the tools against host through wrap(client), or the
// bare client when wrap is nil.
func newHarnessWith(t *testing.T, host string, fake *fakeInflux, settings Settings, wrap func(*influx.Client) Client) *harness {
	t.Helper()
	client, err := influx.New(influx.Options{
		Host: host, Token: configuredToken, Timeout: cmp.Or(settings.Timeout, 5*time.Second),
		UserAgent: "influx-token-mcp/test",
		Retry:     influx.RetryPolicy{MaxAttempts: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if settings.Host == "" {
		settings.Host = host
	}
	if settings.Timeout == 0 {
		settings.Timeout = 5 * time.Second
	}
	h := &harness{fake: fake, logs: &syncBuffer{}, secrets: []string{configuredToken}}
	if fake != nil {
		h.secrets = fake.secrets()
	}
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var c Client = client
	if wrap != nil {
		c = wrap(client)
	}
	toolsList := All(c, settings)
	h.srv = mcptest.NewUnstartedServer(t)
	h.srv.AddServerOptions(ServerOptions(logger, toolsList)...)
	h.srv.AddServerOptions(CompletionOptions(client, logger)...)
	h.srv.AddTools(toolsList...)
	h.srv.AddPrompts(Prompts()...)
	if err := h.srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.srv.Close()
		h.assertNoSecret(t, "server log", h.logs.String())
	})
	return h
}

func (h *harness) assertNoSecret(t *testing.T, where, s string) {
	t.Helper()
	for _, secret := range h.secrets {
		if strings.Contains(s, secret) {
			t.Errorf("%s holds the secret %q", where, secret)
		}
	}
}

// raw sends one JSON-RPC request and returns its raw result, failing the
// test on a protocol error.
func (h *harness) raw(t *testing.T, method string, params any) json.RawMessage {
	t.Helper()
	res, err := h.rawResponse(t, method, params)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return res
}

// rawResponse is raw that returns a JSON-RPC error as an error.
func (h *harness) rawResponse(t *testing.T, method string, params any) (json.RawMessage, error) {
	t.Helper()
	// Only a hang should end here: a loaded 2-core machine running -race
	// takes tens of seconds over the largest lists.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	resp, err := h.srv.Client().GetTransport().SendRequest(ctx, transport.JSONRPCRequest{
		JSONRPC: mcp.JSONRPC_VERSION,
		ID:      mcp.NewRequestId(fmt.Sprintf("test-%d", h.ids.Add(1))),
		Method:  method,
		Params:  params,
	})
	if err != nil {
		t.Fatalf("%s: transport: %v", method, err)
	}
	h.assertNoSecret(t, method+" result", string(resp.Result))
	if resp.Error != nil {
		h.assertNoSecret(t, method+" error", resp.Error.Message)
		return nil, fmt.Errorf("JSON-RPC error %d: %s", resp.Error.Code, resp.Error.Message)
	}
	return resp.Result, nil
}

// call calls a tool with args (any JSON value) and checks that no secret is
// anywhere in the raw result.
func (h *harness) call(t *testing.T, tool string, args any) *mcp.CallToolResult {
	t.Helper()
	raw := h.raw(t, "tools/call", map[string]any{"name": tool, "arguments": args})
	res, err := mcp.ParseCallToolResult(&raw)
	if err != nil {
		t.Fatalf("%s: %v in %s", tool, err, raw)
	}
	return res
}

// text is the one text block of res.
func text(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if len(res.Content) != 1 {
		t.Fatalf("%d content blocks, want 1", len(res.Content))
	}
	tc, ok := res.Content[0].(mcp.TextContent)
	if !ok {
		t.Fatalf("content is %T, want text", res.Content[0])
	}
	return tc.Text
}

// structured decodes res's structured content into a T, rejecting fields T
// does not have.
func structured[T any](t *testing.T, res *mcp.CallToolResult) T {
	t.Helper()
	var out T
	if res.IsError {
		t.Fatalf("tool error: %s", text(t, res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
	return out
}

// listTools is a real tools/list.
func (h *harness) listTools(t *testing.T) []mcp.Tool {
	t.Helper()
	res, err := h.srv.Client().ListTools(t.Context(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Tools
}

// wantToolError checks that res is a tool error whose text holds every one
// of want, and returns the text.
func wantToolError(t *testing.T, res *mcp.CallToolResult, want ...string) string {
	t.Helper()
	msg := text(t, res)
	if !res.IsError {
		t.Fatalf("not a tool error: %s", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error text %q lacks %q", msg, w)
		}
	}
	return msg
}

// ids returns the token IDs of a list result, in order.
func ids(r ListTokensResult) []string {
	out := make([]string, len(r.Tokens))
	for i, tok := range r.Tokens {
		out[i] = tok.ID
	}
	return out
}

// closedPortURL is a loopback URL where nothing listens.
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// generatedWorld is n tokens spread over 12 orgs and 15 users with varied
// permissions, for paging and size measurements.
func generatedWorld(n int) *fakeInflux {
	f := &fakeInflux{}
	for i := range 12 {
		f.orgs = append(f.orgs, fakeOrg{fmt.Sprintf("%016x", 0x2000+i), fmt.Sprintf("org-%02d", i)})
		f.buckets = append(f.buckets, fakeBucket{fmt.Sprintf("%016x", 0x3000+i), fmt.Sprintf("telegraf-%02d", i), fmt.Sprintf("%016x", 0x2000+i), false})
	}
	for i := range 15 {
		f.users = append(f.users, fakeUser{fmt.Sprintf("%016x", 0x1000+i), fmt.Sprintf("user-%02d", i)})
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		org := f.orgs[i%len(f.orgs)]
		bucket := f.buckets[i%len(f.buckets)]
		a := fakeAuth{
			ID:          fmt.Sprintf("%016x", 0xa000000+i),
			Status:      "active",
			Description: fmt.Sprintf("token %d for %s", i, bucket.Name),
			OrgID:       org.ID,
			UserID:      f.users[i%len(f.users)].ID,
			// Same creation time for some, so ordering must fall back to ID.
			Created: t0.Add(time.Duration(i/3) * time.Hour),
		}
		switch i % 10 {
		case 0:
			a.Perms = readWriteAll(org.ID)
		case 1, 2, 3:
			a.Perms = []fakePerm{{"write", "buckets", bucket.ID, org.ID}}
		case 4, 5:
			a.Perms = []fakePerm{{"read", "buckets", bucket.ID, org.ID}, {"read", "dashboards", "", org.ID}}
		case 6:
			a.Perms = []fakePerm{{"read", "buckets", "", org.ID}, {"write", "buckets", "", org.ID}, {"read", "orgs", org.ID, ""}}
		case 7:
			a.Status = "inactive"
			a.Perms = []fakePerm{{"read", "buckets", bucket.ID, org.ID}, {"write", "buckets", bucket.ID, org.ID}}
		case 8:
			a.Description = ""
			a.Perms = []fakePerm{{"read", "tasks", "", org.ID}, {"write", "tasks", "", org.ID}, {"read", "buckets", bucket.ID, org.ID}}
		case 9:
			a.Perms = []fakePerm{{"read", "telegrafs", "", org.ID}, {"read", "buckets", bucket.ID, org.ID}, {"write", "buckets", bucket.ID, org.ID}}
		}
		if i%250 == 0 {
			a.Perms = readWriteAll("")
		}
		f.auths = append(f.auths, a)
	}
	return f
}

// rawListJSON is the body InfluxDB sends for f's whole list.
func (f *fakeInflux) rawListJSON(t *testing.T) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	f.listAuthorizations(rec, httptest.NewRequest(http.MethodGet, "/api/v2/authorizations", nil))
	b, err := io.ReadAll(rec.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
