// Package fakeinflux is the fake InfluxDB v2 API that the root module's tests
// run against: an httptest server that serves /api/v2/authorizations[/{id}],
// /api/v2/buckets[/{id}], /api/v2/orgs[/{id}] and /api/v2/users[/{id}] from a fixed World,
// answering like the real server (see /work/shared/guide/influxdb-api.md).
//
// Every token value it returns is a canary (Canary), and it only accepts
// Token, so tests can search any output for secrets. Intercept injects
// faults; every request is counted and logged. The API can be mounted under
// a path prefix, as behind a reverse proxy.
//
// It lives under internal/ rather than beside influx/ (as httptest does for
// net/http) because it is a test fixture, not an API this module publishes,
// and it imports nothing of the module so that any package's tests,
// influx's own included, can use it.
package fakeinflux

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Token is the configured token the fake accepts; every other Authorization
// header gets InfluxDB's 401.
const Token = "CANARY-configured-0f1e2d3c4b5a69788796a5b4c3d2e1f0=="

// CanaryPrefix starts every token value the fake returns.
const CanaryPrefix = "CANARY-returned-"

// Canary is the token value InfluxDB OSS returns for the authorization id.
func Canary(id string) string { return CanaryPrefix + id + "-s3cr3t_Q9xZ-_vB1uN7mK2==" }

type Org struct{ ID, Name string }
type User struct{ ID, Name string }
type Bucket struct {
	ID, Name, OrgID string
	System          bool // _monitoring or _tasks
}

// Perm is a permission as stored; the fake fills in the resource's name and
// org name when it can resolve them, as InfluxDB does.
type Perm struct{ Action, Type, ID, OrgID string }

// Auth is an authorization; an empty Token becomes Canary(ID).
type Auth struct {
	ID, Token, Status, Description, OrgID, UserID string
	Perms                                         []Perm
	Created                                       time.Time
}

// World is what the fake InfluxDB holds.
type World struct {
	Orgs    []Org
	Users   []User
	Buckets []Bucket
	Auths   []Auth
}

// Server is a running fake InfluxDB.
type Server struct {
	World
	// URL is the base URL to configure a client with, prefix included.
	URL string
	// HTTP is the underlying test server.
	HTTP     *httptest.Server
	Requests atomic.Int64
	// Token is the only token the fake accepts (Token by default); empty
	// accepts any. Set it before the first request.
	Token string

	prefix    string
	mux       *http.ServeMux
	overrides *http.ServeMux
	mu        sync.Mutex
	log       []*http.Request
	intercept func(w http.ResponseWriter, r *http.Request) bool
	bodies    map[string][]byte // list answers by filter
}

// Start serves w until the test ends, at the root of its URL.
func Start(t testing.TB, w World) *Server { return StartAt(t, w, "") }

// StartAt serves w under the path prefix (e.g. "/influx"); a request outside
// it fails the test.
func StartAt(t testing.TB, w World, prefix string) *Server {
	t.Helper()
	s := newServer(t, w, prefix)
	s.HTTP = httptest.NewServer(s)
	s.URL = s.HTTP.URL + prefix
	t.Cleanup(s.HTTP.Close)
	return s
}

// StartTLS is StartAt over HTTPS, with httptest's self-signed certificate
// (HTTP.Certificate); failed handshakes, which such tests provoke, are not
// logged.
func StartTLS(t testing.TB, w World, prefix string) *Server {
	t.Helper()
	s := newServer(t, w, prefix)
	s.HTTP = httptest.NewUnstartedServer(s)
	s.HTTP.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.HTTP.StartTLS()
	s.URL = s.HTTP.URL + prefix
	t.Cleanup(s.HTTP.Close)
	return s
}

// newServer is a fake that is not yet listening.
func newServer(t testing.TB, w World, prefix string) *Server {
	s := &Server{World: w, Token: Token, prefix: prefix, bodies: map[string][]byte{}, overrides: http.NewServeMux()}
	// The World is the caller's: fill in tokens on a copy.
	s.Auths = append([]Auth(nil), w.Auths...)
	for i := range s.Auths {
		if s.Auths[i].Token == "" {
			s.Auths[i].Token = Canary(s.Auths[i].ID)
		}
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET "+prefix+"/api/v2/authorizations", s.listAuthorizations)
	s.mux.HandleFunc("GET "+prefix+"/api/v2/authorizations/{id}", s.getAuthorization)
	s.mux.HandleFunc("GET "+prefix+"/api/v2/buckets", s.listBuckets)
	s.mux.HandleFunc("GET "+prefix+"/api/v2/buckets/{id}", s.getBucket)
	s.mux.HandleFunc("GET "+prefix+"/api/v2/orgs", s.listOrgs)
	s.mux.HandleFunc("GET "+prefix+"/api/v2/orgs/{id}", s.getOrg)
	s.mux.HandleFunc("GET "+prefix+"/api/v2/users", s.listUsers)
	s.mux.HandleFunc("GET "+prefix+"/api/v2/users/{id}", s.getUser)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("fake InfluxDB: unexpected request %s %s", r.Method, r.URL.RequestURI())
		WriteError(w, http.StatusNotFound, "not found", "path not found", false)
	})
	return s
}

// ServeHTTP counts and logs r, checks its token, then lets the intercept
// answer it, then a handler given to Handle, or else answers from the World.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.Requests.Add(1)
	s.mu.Lock()
	s.log = append(s.log, r.Clone(context.Background()))
	intercept := s.intercept
	s.mu.Unlock()
	if s.Token != "" && r.Header.Get("Authorization") != "Token "+s.Token {
		WriteError(w, http.StatusUnauthorized, "unauthorized", "unauthorized access", false)
		return
	}
	if intercept != nil && intercept(w, r) {
		return
	}
	s.ServeWorld(w, r)
}

// ServeWorld answers r as the fake does without an intercept: from a
// handler given to Handle, or from the World. It neither counts nor logs r.
func (s *Server) ServeWorld(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.overrides.Handler(r); pattern != "" {
		s.overrides.ServeHTTP(w, r) // which sets r's path values
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Handle answers GET requests to the API path pattern (without the prefix,
// e.g. "/api/v2/authorizations/{id}") with h instead of the World.
func (s *Server) Handle(pattern string, h http.HandlerFunc) {
	s.overrides.HandleFunc("GET "+s.prefix+pattern, h)
}

// Intercept makes fn see every request with a valid token first; fn answers
// it by returning true. Paths fn sees keep the prefix; APIPath strips it.
func (s *Server) Intercept(fn func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.intercept = fn
}

// APIPath is r's path without the mount prefix, e.g. "/api/v2/orgs".
func (s *Server) APIPath(r *http.Request) string { return strings.TrimPrefix(r.URL.Path, s.prefix) }

// Secrets are the strings no output may contain: Token and every token value.
func (s *Server) Secrets() []string {
	out := []string{Token}
	for _, a := range s.Auths {
		out = append(out, a.Token)
	}
	return out
}

// RequestsTo returns the logged requests to the API path p (without prefix).
func (s *Server) RequestsTo(p string) []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*http.Request
	for _, r := range s.log {
		if s.APIPath(r) == p {
			out = append(out, r)
		}
	}
	return out
}

// Logged returns every request so far.
func (s *Server) Logged() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.log...)
}

// ListJSON is the body InfluxDB sends for the whole token list.
func (s *Server) ListJSON() []byte {
	rec := httptest.NewRecorder()
	s.listAuthorizations(rec, httptest.NewRequest(http.MethodGet, "/api/v2/authorizations", nil))
	return rec.Body.Bytes()
}

// WriteError answers like InfluxDB: tab-indented JSON from handlers, compact
// from middleware, and the X-Platform-Error-Code header.
func WriteError(w http.ResponseWriter, status int, code, msg string, indent bool) {
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

// WriteJSON answers 200 with v as JSON.
func WriteJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

// validID is InfluxDB's rule: 16 lowercase or uppercase hex digits.
func validID(id string) bool {
	if len(id) != 16 {
		return false
	}
	for _, c := range id {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

func (s *Server) orgName(id string) string {
	for _, o := range s.Orgs {
		if o.ID == id {
			return o.Name
		}
	}
	return ""
}

func (s *Server) userName(id string) string {
	for _, u := range s.Users {
		if u.ID == id {
			return u.Name
		}
	}
	return ""
}

func (s *Server) bucketName(id string) string {
	for _, b := range s.Buckets {
		if b.ID == id {
			return b.Name
		}
	}
	return ""
}

// AuthJSON is a in InfluxDB's JSON shape, secret included.
func (s *Server) AuthJSON(a Auth) map[string]any {
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
			name := map[string]func(string) string{"buckets": s.bucketName, "orgs": s.orgName, "users": s.userName}[p.Type]
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
			res["org"] = s.orgName(p.OrgID)
		}
		perms = append(perms, map[string]any{"action": p.Action, "resource": res})
	}
	ts := a.Created.Format(time.RFC3339Nano)
	return map[string]any{
		"id": a.ID, "token": a.Token, "status": a.Status, "description": a.Description,
		"orgID": a.OrgID, "org": s.orgName(a.OrgID), "userID": a.UserID, "user": s.userName(a.UserID),
		"permissions": perms,
		"links":       map[string]string{"self": "/api/v2/authorizations/" + a.ID, "user": "/api/v2/users/" + a.UserID},
		"createdAt":   ts, "updatedAt": ts,
	}
}

// idByName resolves a user or org name filter to an ID the way InfluxDB's
// handler does: a name that does not exist is a 404, and a name that
// contradicts the ID filter matches nothing.
func idByName(name, idFilter string, find func(string) string) (id string, found bool) {
	id = find(name)
	if id == "" {
		return "", false
	}
	if idFilter != "" && idFilter != id {
		return "no match", true
	}
	return id, true
}

func (s *Server) listAuthorizations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for _, k := range []string{"userID", "orgID"} {
		if v := q.Get(k); v != "" && !validID(v) {
			WriteError(w, http.StatusBadRequest, "invalid", "id must have a length of 16 bytes", true)
			return
		}
	}
	userID, orgID := q.Get("userID"), q.Get("orgID")
	if name := q.Get("user"); name != "" {
		id, ok := idByName(name, userID, func(n string) string {
			for _, u := range s.Users {
				if u.Name == n {
					return u.ID
				}
			}
			return ""
		})
		if !ok {
			WriteError(w, http.StatusNotFound, "not found", "user not found", true)
			return
		}
		userID = id
	}
	if name := q.Get("org"); name != "" {
		id, ok := idByName(name, orgID, func(n string) string {
			for _, o := range s.Orgs {
				if o.Name == n {
					return o.ID
				}
			}
			return ""
		})
		if !ok {
			WriteError(w, http.StatusNotFound, "not found", fmt.Sprintf("organization name %q not found", name), true)
			return
		}
		orgID = id
	}
	key := userID + "/" + orgID
	s.mu.Lock()
	body, ok := s.bodies[key]
	s.mu.Unlock()
	if !ok { // the World does not change once served, so answers are kept
		list := []map[string]any{}
		for _, a := range s.Auths {
			if (userID == "" || a.UserID == userID) && (orgID == "" || a.OrgID == orgID) {
				list = append(list, s.AuthJSON(a))
			}
		}
		body, _ = json.Marshal(map[string]any{"links": map[string]string{"self": "/api/v2/authorizations"}, "authorizations": list})
		s.mu.Lock()
		s.bodies[key] = body
		s.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(body)
}

func (s *Server) getAuthorization(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validID(id) {
		WriteError(w, http.StatusBadRequest, "invalid", "id must have a length of 16 bytes", true)
		return
	}
	for _, a := range s.Auths {
		if strings.EqualFold(a.ID, id) {
			WriteJSON(w, s.AuthJSON(a))
			return
		}
	}
	WriteError(w, http.StatusNotFound, "not found", "authorization not found", true)
}

func bucketJSON(b Bucket) map[string]any {
	typ := "user"
	if b.System {
		typ = "system"
	}
	return map[string]any{"id": b.ID, "name": b.Name, "orgID": b.OrgID, "type": typ, "retentionRules": []any{}}
}

func (s *Server) getOrg(w http.ResponseWriter, r *http.Request) {
	if name := s.orgName(r.PathValue("id")); name != "" {
		WriteJSON(w, map[string]any{"id": r.PathValue("id"), "name": name})
		return
	}
	WriteError(w, http.StatusNotFound, "not found", "organization not found", true)
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	if name := s.userName(r.PathValue("id")); name != "" {
		WriteJSON(w, map[string]any{"id": r.PathValue("id"), "name": name, "status": "active"})
		return
	}
	WriteError(w, http.StatusNotFound, "not found", "user not found", true)
}

func (s *Server) listBuckets(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	list := []map[string]any{}
	for _, b := range s.Buckets {
		if name == "" || b.Name == name {
			list = append(list, bucketJSON(b))
		}
	}
	WriteJSON(w, map[string]any{"links": map[string]string{"self": "/api/v2/buckets"}, "buckets": page(r, list)})
}

func (s *Server) getBucket(w http.ResponseWriter, r *http.Request) {
	for _, b := range s.Buckets {
		if b.ID == r.PathValue("id") {
			WriteJSON(w, bucketJSON(b))
			return
		}
	}
	WriteError(w, http.StatusNotFound, "not found", "bucket not found", true)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	list := []map[string]any{}
	for _, u := range s.Users {
		if name == "" || u.Name == name {
			list = append(list, map[string]any{"id": u.ID, "name": u.Name, "status": "active"})
		}
	}
	if name != "" && len(list) == 0 {
		WriteError(w, http.StatusNotFound, "not found", "user not found", true)
		return
	}
	WriteJSON(w, map[string]any{"links": map[string]string{"self": "/api/v2/users"}, "users": page(r, list)})
}

// page cuts list as InfluxDB pages buckets, orgs and users: offset, then
// limit (default 20).
func page(r *http.Request, list []map[string]any) []map[string]any {
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil {
		limit = 20
	}
	list = list[min(offset, len(list)):]
	return list[:min(limit, len(list))]
}

func (s *Server) listOrgs(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("org")
	list := []map[string]any{}
	for _, o := range s.Orgs {
		if name == "" || o.Name == name {
			list = append(list, map[string]any{"id": o.ID, "name": o.Name, "description": ""})
		}
	}
	if name != "" && len(list) == 0 {
		WriteError(w, http.StatusNotFound, "not found", fmt.Sprintf("organization name %q not found", name), true)
		return
	}
	WriteJSON(w, map[string]any{"links": map[string]string{"self": "/api/v2/orgs"}, "orgs": page(r, list)})
}

// ClosedPortURL is a loopback URL where nothing listens.
func ClosedPortURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}
