package influx_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenaudit/influx-token-mcp/influx"
	"github.com/tokenaudit/influx-token-mcp/internal/fakeinflux"
)

const (
	testToken = "configured-secret-token-0123456789abcdef=="
	prefix    = "/influx" // every test server is mounted under this path prefix
)

// upstream is the fake InfluxDB mounted under prefix, answering only as each
// test tells it (handle), and accepting any token. Other requests fail the
// test; every request is counted.
type upstream struct {
	*fakeinflux.Server
	handled *http.ServeMux // the paths the test set up
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{Server: fakeinflux.StartAt(t, fakeinflux.World{}, prefix), handled: http.NewServeMux()}
	u.Token = "" // the client's token is what some tests vary
	u.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if _, pattern := u.handled.Handler(r); pattern != "" {
			return false
		}
		t.Errorf("request the test did not set up: %s %s", r.Method, r.URL.RequestURI())
		http.Error(w, "unexpected", http.StatusTeapot)
		return true
	})
	return u
}

// handle registers h for the API path p (e.g. "/api/v2/authorizations").
func (u *upstream) handle(p string, h http.HandlerFunc) {
	u.handled.HandleFunc("GET "+prefix+p, h)
	u.Handle(p, h)
}

// client is a client for u with the host written as base, e.g. "{url}/influx/".
func (u *upstream) client(t *testing.T, mod ...func(*influx.Options)) *influx.Client {
	t.Helper()
	o := influx.Options{Host: u.URL + "/", Token: testToken, Timeout: 5 * time.Second, Retry: influx.RetryPolicy{MaxAttempts: 1}}
	for _, m := range mod {
		m(&o)
	}
	c, err := influx.New(o)
	if err != nil {
		t.Fatalf("influx.New: %v", err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

const emptyList = `{"links":{"self":"/api/v2/authorizations"},"authorizations":[]}`

func noop(*influx.Authorization) error { return nil }

func TestHostForms(t *testing.T) {
	for _, host := range []string{"%s/influx", "%s/influx/", "%s/influx//", " %s/influx/ "} {
		t.Run(host, func(t *testing.T) {
			u := newUpstream(t)
			var got string
			u.handle("/api/v2/authorizations", func(w http.ResponseWriter, r *http.Request) {
				got = r.URL.Path
				writeJSON(w, 200, emptyList)
			})
			c := u.client(t, func(o *influx.Options) { o.Host = fmt.Sprintf(host, u.HTTP.URL) })
			if err := c.ListAuthorizations(context.Background(), influx.ListFilter{}, noop); err != nil {
				t.Fatal(err)
			}
			if got != prefix+"/api/v2/authorizations" {
				t.Errorf("path = %q, want %q", got, prefix+"/api/v2/authorizations")
			}
		})
	}
}

func TestRequestHeaders(t *testing.T) {
	for _, tc := range []struct {
		name, userAgent, wantUA string
	}{
		{"configured user agent", "influx-token-mcp/v1.2.3", "influx-token-mcp/v1.2.3"},
		{"default user agent", "", "influx-token-mcp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t)
			var h http.Header
			check := func(w http.ResponseWriter, r *http.Request) {
				h = r.Header.Clone()
				if r.Method != http.MethodGet {
					t.Errorf("method %s", r.Method)
				}
			}
			u.handle("/api/v2/authorizations", func(w http.ResponseWriter, r *http.Request) { check(w, r); writeJSON(w, 200, emptyList) })
			u.handle("/api/v2/authorizations/{id}", func(w http.ResponseWriter, r *http.Request) {
				check(w, r)
				writeJSON(w, 200, `{"id":"0a1b2c3d4e5f6a7b","token":"s","status":"active","permissions":[]}`)
			})
			u.handle("/api/v2/buckets", func(w http.ResponseWriter, r *http.Request) { check(w, r); writeJSON(w, 200, `{"buckets":[]}`) })
			u.handle("/api/v2/orgs", func(w http.ResponseWriter, r *http.Request) { check(w, r); writeJSON(w, 200, `{"orgs":[]}`) })
			c := u.client(t, func(o *influx.Options) { o.UserAgent = tc.userAgent })
			ctx := context.Background()
			calls := map[string]func() error{
				"list":    func() error { return c.ListAuthorizations(ctx, influx.ListFilter{}, noop) },
				"get":     func() error { _, err := c.GetAuthorization(ctx, "0a1b2c3d4e5f6a7b"); return err },
				"buckets": func() error { _, err := c.FindBuckets(ctx, "telegraf", ""); return err },
				"orgs":    func() error { _, err := c.FindOrgs(ctx, "acme"); return err },
			}
			for name, call := range calls {
				h = nil
				if err := call(); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if got := h.Get("Authorization"); got != "Token "+testToken {
					t.Errorf("%s: Authorization = %q", name, got)
				}
				if got := h.Get("User-Agent"); got != tc.wantUA {
					t.Errorf("%s: User-Agent = %q, want %q", name, got, tc.wantUA)
				}
				if got := h.Get("Accept"); got != "application/json" {
					t.Errorf("%s: Accept = %q", name, got)
				}
			}
		})
	}
}

func TestListFilterQueryParameters(t *testing.T) {
	for _, tc := range []struct {
		name   string
		filter influx.ListFilter
		want   map[string]string
	}{
		{"none", influx.ListFilter{}, map[string]string{}},
		{"user", influx.ListFilter{User: "alice"}, map[string]string{"user": "alice"}},
		{"userID", influx.ListFilter{UserID: "0a1b2c3d4e5f6a7b"}, map[string]string{"userID": "0a1b2c3d4e5f6a7b"}},
		{"org", influx.ListFilter{Org: "acme"}, map[string]string{"org": "acme"}},
		{"orgID", influx.ListFilter{OrgID: "2ee51bdadf9c0ae1"}, map[string]string{"orgID": "2ee51bdadf9c0ae1"}},
		{"all four", influx.ListFilter{User: "alice", UserID: "0a1b2c3d4e5f6a7b", Org: "acme", OrgID: "2ee51bdadf9c0ae1"},
			map[string]string{"user": "alice", "userID": "0a1b2c3d4e5f6a7b", "org": "acme", "orgID": "2ee51bdadf9c0ae1"}},
		{"space", influx.ListFilter{Org: "my org", User: "Alice Smith"}, map[string]string{"org": "my org", "user": "Alice Smith"}},
		{"ampersand and equals", influx.ListFilter{Org: "r&d=1", User: "a&userID=0a1b2c3d4e5f6a7b"}, map[string]string{"org": "r&d=1", "user": "a&userID=0a1b2c3d4e5f6a7b"}},
		{"slash and question mark", influx.ListFilter{Org: "eu/west?x", User: "../admin"}, map[string]string{"org": "eu/west?x", "user": "../admin"}},
		{"percent, plus and hash", influx.ListFilter{Org: "100%+#1"}, map[string]string{"org": "100%+#1"}},
		{"unicode", influx.ListFilter{Org: "Zürich 東京", User: "josé"}, map[string]string{"org": "Zürich 東京", "user": "josé"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t)
			var got url.Values
			u.handle("/api/v2/authorizations", func(w http.ResponseWriter, r *http.Request) {
				got = r.URL.Query()
				writeJSON(w, 200, emptyList)
			})
			if err := u.client(t).ListAuthorizations(context.Background(), tc.filter, noop); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Errorf("query %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if len(got[k]) != 1 || got[k][0] != v {
					t.Errorf("query %s = %q, want [%q]", k, got[k], v)
				}
			}
		})
	}
}

func TestGetAuthorizationRejectsBadIDsWithoutRequest(t *testing.T) {
	u := newUpstream(t)
	u.handle("/api/v2/authorizations/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"id":"0a1b2c3d4e5f6a7b","status":"active","permissions":[]}`)
	})
	u.handle("/api/v2/orgs", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{"orgs":[]}`) })
	c := u.client(t)
	for _, id := range []string{
		"", "../orgs", "xyz", "0a1b2c3d4e5f6a7", "0a1b2c3d4e5f6a7b8", "0000000000000000",
		"zzzzzzzzzzzzzzzz", "../orgs/0a1b2c3", "0a1b2c3d/e5f6a7b", "0a1b2c3d4e5f6a7%", " 0a1b2c3d4e5f6a7", "0a1b2c3d4e5f6a7b\n",
		"０a1b2c3d4e5f6a", // full-width digit: 16 bytes, not 16 hex digits
	} {
		t.Run(fmt.Sprintf("%q", id), func(t *testing.T) {
			before := u.Requests.Load()
			a, err := c.GetAuthorization(context.Background(), id)
			if !errors.Is(err, influx.ErrInvalidID) {
				t.Errorf("err = %v, want ErrInvalidID", err)
			}
			if a != nil {
				t.Errorf("got %+v, want nil", a)
			}
			if n := u.Requests.Load() - before; n != 0 {
				t.Errorf("%d requests reached the server", n)
			}
		})
	}
}

func TestGetAuthorizationPath(t *testing.T) {
	for _, id := range []string{"0a1b2c3d4e5f6a7b", "0A1B2C3D4E5F6A7B"} {
		t.Run(id, func(t *testing.T) {
			u := newUpstream(t)
			var gotPath, gotQuery string
			u.handle("/api/v2/authorizations/{id}", func(w http.ResponseWriter, r *http.Request) {
				gotPath, gotQuery = r.URL.EscapedPath(), r.URL.RawQuery
				writeJSON(w, 200, fmt.Sprintf(`{"id":%q,"status":"active","permissions":[]}`, r.PathValue("id")))
			})
			a, err := u.client(t).GetAuthorization(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if want := prefix + "/api/v2/authorizations/" + id; gotPath != want || gotQuery != "" {
				t.Errorf("request %q?%q, want %q", gotPath, gotQuery, want)
			}
			if a.ID != id {
				t.Errorf("ID = %q", a.ID)
			}
		})
	}
}

// listBody is InfluxDB's real list shape, with secrets in the token fields
// and fields this client does not know.
const listBody = `{
	"links": {"self": "/api/v2/authorizations", "next": "/api/v2/authorizations?offset=2"},
	"authorizations": [
		{
			"id": "11b2f4c5a8208000", "token": "SECRET-CANARY-one-9f8e7d", "status": "active",
			"description": "alice read buckets", "orgID": "2ee51bdadf9c0ae1", "org": "acme",
			"userID": "11b2f4c47da08000", "user": "alice",
			"permissions": [
				{"action": "read", "resource": {"type": "buckets", "id": "1b8b4c1613714666", "name": "telegraf", "orgID": "2ee51bdadf9c0ae1", "org": "acme"}},
				{"action": "write", "resource": {"type": "dashboards", "orgID": "2ee51bdadf9c0ae1", "org": "acme"}},
				{"action": "read", "resource": {"type": "authorizations"}}
			],
			"links": {"self": "/api/v2/authorizations/11b2f4c5a8208000", "user": "/api/v2/users/11b2f4c47da08000"},
			"createdAt": "2026-11-27T07:08:39.456506298Z", "updatedAt": "2026-11-28T09:00:00Z",
			"someFutureField": {"nested": [1, 2, {"token": "SECRET-CANARY-nested"}]}
		},
		{
			"id": "11b2f4c5a8208001", "token": "SECRET-CANARY-two-1a2b3c", "status": "inactive",
			"description": "", "orgID": "3ff51bdadf9c0ae2", "org": "globex",
			"userID": "11b2f4c47da08001", "user": "bob",
			"permissions": [],
			"createdAt": "2025-01-02T03:04:05Z", "updatedAt": "2025-01-02T03:04:05Z"
		}
	],
	"trailingField": "ignored"
}`

func TestListAuthorizationsDecodes(t *testing.T) {
	u := newUpstream(t)
	u.handle("/api/v2/authorizations", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, listBody) })
	var got []*influx.Authorization
	err := u.client(t).ListAuthorizations(context.Background(), influx.ListFilter{}, func(a *influx.Authorization) error {
		got = append(got, a)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []*influx.Authorization{
		{
			ID: "11b2f4c5a8208000", Description: "alice read buckets", Status: "active",
			OrgID: "2ee51bdadf9c0ae1", Org: "acme", UserID: "11b2f4c47da08000", User: "alice",
			Permissions: []influx.Permission{
				{Action: "read", Resource: influx.Resource{Type: "buckets", ID: "1b8b4c1613714666", Name: "telegraf", OrgID: "2ee51bdadf9c0ae1", Org: "acme"}},
				{Action: "write", Resource: influx.Resource{Type: "dashboards", OrgID: "2ee51bdadf9c0ae1", Org: "acme"}},
				{Action: "read", Resource: influx.Resource{Type: "authorizations"}},
			},
			CreatedAt: time.Date(2026, 11, 27, 7, 8, 39, 456506298, time.UTC),
			UpdatedAt: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC),
		},
		{
			ID: "11b2f4c5a8208001", Status: "inactive", OrgID: "3ff51bdadf9c0ae2", Org: "globex",
			UserID: "11b2f4c47da08001", User: "bob", Permissions: []influx.Permission{},
			CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), UpdatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d authorizations, want %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].CreatedAt.Equal(want[i].CreatedAt) || !got[i].UpdatedAt.Equal(want[i].UpdatedAt) {
			t.Errorf("[%d] times %v %v, want %v %v", i, got[i].CreatedAt, got[i].UpdatedAt, want[i].CreatedAt, want[i].UpdatedAt)
		}
		g, w := *got[i], *want[i]
		g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("[%d]\n got %+v\nwant %+v", i, g, w)
		}
		for _, out := range []string{fmt.Sprintf("%+v", *got[i]), mustJSON(t, got[i])} {
			if strings.Contains(out, "SECRET-CANARY") {
				t.Errorf("[%d] a token secret survived decoding: %s", i, out)
			}
		}
	}
}

// TestListAuthorizationsStreams proves each authorization reaches fn before
// the rest of the list has arrived: the server holds back the second element
// until fn has seen the first.
func TestListAuthorizationsStreams(t *testing.T) {
	u := newUpstream(t)
	first := make(chan struct{})
	u.handle("/api/v2/authorizations", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"links":{"self":"/api/v2/authorizations"},"authorizations":[{"id":"0000000000000001","token":"SECRET-CANARY-a","status":"active","permissions":[]},`)
		w.(http.Flusher).Flush()
		select {
		case <-first:
		case <-time.After(5 * time.Second):
			t.Error("the client did not hand over the first authorization before the list ended")
		}
		fmt.Fprint(w, `{"id":"0000000000000002","token":"SECRET-CANARY-b","status":"active","permissions":[]}]}`)
	})
	var ids []string
	err := u.client(t).ListAuthorizations(context.Background(), influx.ListFilter{}, func(a *influx.Authorization) error {
		if len(ids) == 0 {
			close(first)
		}
		ids = append(ids, a.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ids, ",") != "0000000000000001,0000000000000002" {
		t.Errorf("ids %v", ids)
	}
}

func TestListAuthorizationsCallbackErrorStops(t *testing.T) {
	u := newUpstream(t)
	u.handle("/api/v2/authorizations", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, listBody) })
	stop := errors.New("stop here")
	calls := 0
	err := u.client(t).ListAuthorizations(context.Background(), influx.ListFilter{}, func(*influx.Authorization) error {
		calls++
		return stop
	})
	if calls != 1 {
		t.Errorf("fn called %d times after returning an error", calls)
	}
	if err == nil {
		t.Error("the callback's error was lost")
	}
}

// TestAuthorizationHasNoTokenField checks, by reflection over every type an
// Authorization holds, that none can receive InfluxDB's "token" field.
func TestAuthorizationHasNoTokenField(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type, string)
	walk = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Array || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] || typ.PkgPath() != reflect.TypeFor[influx.Authorization]().PkgPath() {
			return
		}
		seen[typ] = true
		for f := range typ.Fields() {
			name := f.Name
			if tag, ok := f.Tag.Lookup("json"); ok {
				if n, _, _ := strings.Cut(tag, ","); n != "" {
					name = n
				}
			}
			if strings.EqualFold(name, "token") {
				t.Errorf("%s.%s decodes the JSON field %q", path, f.Name, name)
			}
			walk(f.Type, path+"."+f.Name)
		}
	}
	walk(reflect.TypeFor[influx.Authorization](), "Authorization")
	if !seen[reflect.TypeFor[influx.Resource]()] {
		t.Error("the walk did not reach Resource; the test is broken")
	}
}

// InfluxDB's handler errors are tab-indented JSON, its middleware errors
// compact.
func indented(code, msg string) string {
	return fmt.Sprintf("{\n\t\"code\": %q,\n\t\"message\": %q\n}", code, msg)
}

func compact(code, msg string) string { return fmt.Sprintf(`{"code":%q,"message":%q}`, code, msg) }

func TestAPIErrors(t *testing.T) {
	cases := []struct {
		status      int
		code, msg   string
		indentation func(string, string) string
	}{
		{400, "invalid", "id must have a length of 16 bytes", indented},
		{401, "unauthorized", "unauthorized access", compact},
		{401, "unauthorized", "read:orgs/2ee51bdadf9c0ae1/authorizations/11b2f4c5a8208000 is unauthorized", indented},
		{403, "forbidden", "User is inactive", indented},
		{404, "not found", "authorization not found", indented},
		{404, "not found", `organization name "nosuch" not found`, compact},
		{429, "too many requests", "org 2ee51bdadf9c0ae1 has exceeded limited_query plan limit", compact},
		{500, "internal error", "unexpected error", indented},
		{503, "unavailable", "service unavailable", compact},
	}
	calls := []struct {
		name, path string
		call       func(*influx.Client) error
	}{
		{"list", "/api/v2/authorizations", func(c *influx.Client) error {
			return c.ListAuthorizations(context.Background(), influx.ListFilter{Org: "acme"}, noop)
		}},
		{"get", "/api/v2/authorizations/{id}", func(c *influx.Client) error {
			_, err := c.GetAuthorization(context.Background(), "11b2f4c5a8208000")
			return err
		}},
	}
	for _, tc := range cases {
		for _, call := range calls {
			t.Run(fmt.Sprintf("%s %d %s", call.name, tc.status, tc.msg), func(t *testing.T) {
				u := newUpstream(t)
				u.handle(call.path, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("X-Platform-Error-Code", tc.code)
					writeJSON(w, tc.status, tc.indentation(tc.code, tc.msg))
				})
				err := call.call(u.client(t))
				var apiErr *influx.APIError
				if !errors.As(err, &apiErr) {
					t.Fatalf("err = %T %v, want *influx.APIError", err, err)
				}
				if apiErr.StatusCode != tc.status || apiErr.Code != tc.code || apiErr.Message != tc.msg || apiErr.NotJSON {
					t.Errorf("got %+v, want status %d code %q message %q", apiErr, tc.status, tc.code, tc.msg)
				}
				if !strings.HasPrefix(apiErr.Path, "/api/v2/authorizations") || strings.Contains(apiErr.Path, "?") {
					t.Errorf("Path = %q", apiErr.Path)
				}
				if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), fmt.Sprint(tc.status)) {
					t.Errorf("Error() = %q lacks status or message", err.Error())
				}
				if n := u.Requests.Load(); n != 1 {
					t.Errorf("%d requests with MaxAttempts 1", n)
				}
			})
		}
	}
}

func TestAPIErrorCodeFromHeader(t *testing.T) {
	for _, tc := range []struct {
		name, body, header, wantCode, wantMsg string
	}{
		{"empty body", "", "not found", "not found", ""},
		{"message only", `{"message":"authorization not found"}`, "not found", "not found", "authorization not found"},
		{"body code wins", compact("unauthorized", "unauthorized access"), "forbidden", "unauthorized", "unauthorized access"},
		{"neither", "", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t)
			u.handle("/api/v2/authorizations", func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("X-Platform-Error-Code", tc.header)
				}
				writeJSON(w, 404, tc.body)
			})
			err := u.client(t).ListAuthorizations(context.Background(), influx.ListFilter{}, noop)
			var apiErr *influx.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v", err)
			}
			if apiErr.Code != tc.wantCode || apiErr.Message != tc.wantMsg || apiErr.NotJSON {
				t.Errorf("got %+v, want code %q message %q", apiErr, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

func TestAPIErrorNotJSON(t *testing.T) {
	for _, tc := range []struct {
		status      int
		contentType string
		body        string
	}{
		{502, "text/html", "<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"},
		{500, "text/html; charset=utf-8", "<!DOCTYPE html><title>Error</title>"},
		{401, "text/plain", "Unauthorized"},
		{404, "", "404 page not found\n"},
	} {
		t.Run(fmt.Sprint(tc.status, " ", tc.contentType), func(t *testing.T) {
			u := newUpstream(t)
			u.handle("/api/v2/authorizations", func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = nil // no sniffing
				if tc.contentType != "" {
					w.Header().Set("Content-Type", tc.contentType)
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			})
			err := u.client(t).ListAuthorizations(context.Background(), influx.ListFilter{}, noop)
			var apiErr *influx.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v", err)
			}
			if !apiErr.NotJSON || apiErr.StatusCode != tc.status || apiErr.ContentType != tc.contentType || apiErr.Message != "" {
				t.Errorf("got %+v", apiErr)
			}
			if strings.Contains(err.Error(), "<") || !strings.Contains(err.Error(), "non-JSON") {
				t.Errorf("Error() = %q: should say non-JSON without echoing the page", err.Error())
			}
		})
	}
}

func TestUnusableSuccessfulAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, path, body string
		get              bool
	}{
		{"no authorizations key", "/api/v2/authorizations", `{"links":{"self":"/api/v2/authorizations"}}`, false},
		{"authorizations not a list", "/api/v2/authorizations", `{"authorizations":{"id":"0a1b2c3d4e5f6a7b"}}`, false},
		{"element without id", "/api/v2/authorizations", `{"authorizations":[{"id":"0a1b2c3d4e5f6a7b","status":"active"},{"status":"active","token":"SECRET-CANARY-x"}]}`, false},
		{"not JSON", "/api/v2/authorizations", `<html>hello</html>`, false},
		{"a JSON array", "/api/v2/authorizations", `[]`, false},
		{"truncated", "/api/v2/authorizations", `{"authorizations":[{"id":"0a1b2c3d4e5f6a7b"`, false},
		{"trailing garbage", "/api/v2/authorizations", emptyList + `{"x":1}`, false},
		{"get without id", "/api/v2/authorizations/{id}", `{"status":"active","token":"SECRET-CANARY-y"}`, true},
		{"get empty body", "/api/v2/authorizations/{id}", ``, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t)
			u.handle(tc.path, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, tc.body) })
			c := u.client(t)
			var err error
			if tc.get {
				_, err = c.GetAuthorization(context.Background(), "0a1b2c3d4e5f6a7b")
			} else {
				err = c.ListAuthorizations(context.Background(), influx.ListFilter{}, noop)
			}
			var respErr *influx.ResponseError
			if !errors.As(err, &respErr) {
				t.Fatalf("err = %T %v, want *influx.ResponseError", err, err)
			}
			if strings.Contains(err.Error(), "SECRET-CANARY") {
				t.Errorf("error echoes a secret: %v", err)
			}
		})
	}
}

func TestConfiguredTokenScrubbedFromErrors(t *testing.T) {
	for _, tc := range []struct {
		name, token, message, want string
	}{
		{"long token", testToken, "token " + testToken + " is not valid (" + testToken + ")", "token [REDACTED] is not valid ([REDACTED])"},
		{"short token as a word", "x", "authorization x is invalid for InfluxDB", "authorization [REDACTED] is invalid for InfluxDB"},
		{"short token inside words", "x", "InfluxDB: index expired, xx", "InfluxDB: index expired, xx"},
		{"short token at the edges", "ab1", "ab1 rejected: ab1", "[REDACTED] rejected: [REDACTED]"},
		{"short token inside a longer token", "ab1", "token ab1cd is unknown", "token ab1cd is unknown"},
		{"long message cut", testToken, strings.Repeat("é", 600), strings.Repeat("é", 500) + influx.Clipped},
		{"base64 and URL-encoded token", testToken,
			"basic " + base64.StdEncoding.EncodeToString([]byte("user:"+testToken)) + " query token=" + url.QueryEscape(testToken) + " b64url " + base64.URLEncoding.EncodeToString([]byte("x"+testToken)),
			""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t)
			u.handle("/api/v2/authorizations", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 401, indented("unauthorized", tc.message))
			})
			err := u.client(t, func(o *influx.Options) { o.Token = tc.token }).ListAuthorizations(context.Background(), influx.ListFilter{}, noop)
			var apiErr *influx.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v", err)
			}
			if tc.want == "" {
				for _, form := range tokenForms(testToken) {
					if strings.Contains(apiErr.Message, form) {
						t.Errorf("Message = %q holds the token as %q", apiErr.Message, form)
					}
				}
			} else if apiErr.Message != tc.want {
				t.Errorf("Message = %q, want %q", apiErr.Message, tc.want)
			}
			if tc.token == testToken && strings.Contains(err.Error(), testToken) {
				t.Errorf("Error() = %q still holds the token", err.Error())
			}
		})
	}
}

func TestFindBuckets(t *testing.T) {
	u := newUpstream(t)
	var queries []url.Values
	var paths []string
	u.handle("/api/v2/buckets/{id}", func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		switch r.PathValue("id") {
		case "1b8b4c1613714667":
			writeJSON(w, 200, `{"id":"1b8b4c1613714667","name":"telegraf","orgID":"3ff51bdadf9c0ae2","type":"user"}`)
		default:
			writeJSON(w, 404, indented("not found", "bucket not found"))
		}
	})
	u.handle("/api/v2/buckets", func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.Query())
		switch r.URL.Query().Get("name") {
		case "nosuch":
			writeJSON(w, 404, indented("not found", `bucket "nosuch" not found`))
		default:
			// OSS ignores id, and may return more than asked for.
			writeJSON(w, 200, `{"links":{},"buckets":[
				{"id":"1b8b4c1613714666","name":"telegraf","orgID":"2ee51bdadf9c0ae1","type":"user","retentionRules":[]},
				{"id":"1b8b4c1613714667","name":"telegraf","orgID":"3ff51bdadf9c0ae2"},
				{"id":"1b8b4c1613714668","name":"_monitoring","orgID":"2ee51bdadf9c0ae1"}]}`)
		}
	})
	c := u.client(t)
	ctx := context.Background()

	got, err := c.FindBuckets(ctx, "telegraf", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []influx.Bucket{{ID: "1b8b4c1613714666", Name: "telegraf", OrgID: "2ee51bdadf9c0ae1", Type: "user"}, {ID: "1b8b4c1613714667", Name: "telegraf", OrgID: "3ff51bdadf9c0ae2"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("by name: %+v", got)
	}
	if q := queries[0]; q.Get("name") != "telegraf" || q.Has("id") {
		t.Errorf("query %v", q)
	}

	got, err = c.FindBuckets(ctx, "", "1b8b4c1613714667")
	if err != nil {
		t.Fatal(err)
	}
	if want := []influx.Bucket{{ID: "1b8b4c1613714667", Name: "telegraf", OrgID: "3ff51bdadf9c0ae2", Type: "user"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("by id: %+v", got)
	}
	if len(paths) != 1 || paths[0] != prefix+"/api/v2/buckets/1b8b4c1613714667" {
		t.Errorf("by id asked %v, want GET /api/v2/buckets/{id}", paths)
	}
	if got, err := c.FindBuckets(ctx, "", "1b8b4c16137146ff"); err != nil || len(got) != 0 {
		t.Errorf("unknown id: %+v, %v; want empty, nil", got, err)
	}

	got, err = c.FindBuckets(ctx, "nosuch", "")
	if err != nil || len(got) != 0 {
		t.Errorf("404: %+v, %v; want empty, nil", got, err)
	}
}

func TestFindBucketsPagesThroughManyOrgs(t *testing.T) {
	// InfluxDB pages bucket lists (20 by default): with a bucket of that name
	// in 250 orgs, every one must be found.
	u := newUpstream(t)
	var requests int
	u.handle("/api/v2/buckets", func(w http.ResponseWriter, r *http.Request) {
		requests++
		q := r.URL.Query()
		limit, _ := strconv.Atoi(q.Get("limit"))
		offset, _ := strconv.Atoi(q.Get("offset"))
		if limit <= 0 {
			limit = 20
		}
		var items []string
		for i := offset; i < min(250, offset+limit); i++ {
			items = append(items, fmt.Sprintf(`{"id":"%016x","name":"telegraf","orgID":"%016x"}`, 0x1000+i, 0x2000+i))
		}
		writeJSON(w, 200, `{"links":{},"buckets":[`+strings.Join(items, ",")+`]}`)
	})
	got, err := u.client(t).FindBuckets(context.Background(), "telegraf", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 250 || got[249].OrgID != fmt.Sprintf("%016x", 0x2000+249) {
		t.Errorf("found %d buckets, want 250", len(got))
	}
	if requests != 3 {
		t.Errorf("%d requests, want 3 pages of 100", requests)
	}
}

func TestFindOrgs(t *testing.T) {
	u := newUpstream(t)
	u.handle("/api/v2/orgs", func(w http.ResponseWriter, r *http.Request) {
		switch name := r.URL.Query().Get("org"); name {
		case "my org & co":
			writeJSON(w, 200, `{"links":{},"orgs":[{"id":"2ee51bdadf9c0ae1","name":"my org & co","description":"","createdAt":"2026-01-01T00:00:00Z"}]}`)
		case "forbidden":
			writeJSON(w, 401, compact("unauthorized", "unauthorized access"))
		default:
			writeJSON(w, 404, indented("not found", fmt.Sprintf("organization name %q not found", name)))
		}
	})
	c := u.client(t)
	ctx := context.Background()
	got, err := c.FindOrgs(ctx, "my org & co")
	if err != nil || !reflect.DeepEqual(got, []influx.Organization{{ID: "2ee51bdadf9c0ae1", Name: "my org & co"}}) {
		t.Errorf("found %+v, %v", got, err)
	}
	got, err = c.FindOrgs(ctx, "nosuch")
	if err != nil || len(got) != 0 {
		t.Errorf("404: %+v, %v; want empty, nil", got, err)
	}
	_, err = c.FindOrgs(ctx, "forbidden")
	var apiErr *influx.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Errorf("401: err = %v, want an APIError", err)
	}
}

func TestFindUsersAndLists(t *testing.T) {
	u := newUpstream(t)
	var queries []url.Values
	u.handle("/api/v2/users", func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.Query())
		switch r.URL.Query().Get("name") {
		case "":
			writeJSON(w, 200, `{"links":{},"users":[{"id":"11b2f4c47da08001","name":"alice","status":"active"},{"id":"11b2f4c47da08002","name":"bob"}]}`)
		case "alice":
			writeJSON(w, 200, `{"links":{},"users":[{"id":"11b2f4c47da08001","name":"alice","status":"active"}]}`)
		default:
			writeJSON(w, 404, indented("not found", "user not found"))
		}
	})
	u.handle("/api/v2/orgs", func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.Query())
		writeJSON(w, 200, `{"links":{},"orgs":[{"id":"2ee51bdadf9c0ae1","name":"acme"}]}`)
	})
	c := u.client(t)
	ctx := context.Background()
	if got, err := c.FindUsers(ctx, "alice"); err != nil || !reflect.DeepEqual(got, []influx.User{{ID: "11b2f4c47da08001", Name: "alice"}}) {
		t.Errorf("by name: %+v, %v", got, err)
	}
	if q := queries[0]; q.Get("name") != "alice" || q.Get("limit") != "100" {
		t.Errorf("query %v", q)
	}
	if got, err := c.FindUsers(ctx, ""); err != nil || len(got) != 2 || queries[1].Has("name") {
		t.Errorf("all: %+v, %v, query %v", got, err, queries[1])
	}
	if got, err := c.FindUsers(ctx, "nosuch"); err != nil || len(got) != 0 {
		t.Errorf("404: %+v, %v", got, err)
	}
	if got, err := c.FindOrgs(ctx, ""); err != nil || len(got) != 1 || queries[3].Has("org") || queries[3].Get("limit") != "100" {
		t.Errorf("all orgs: %+v, %v, query %v", got, err, queries[3])
	}
}

func TestExists(t *testing.T) {
	u := newUpstream(t)
	var paths []string
	u.handle("/api/v2/{kind}/{id}", func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		switch r.PathValue("id") {
		case "1b8b4c1613714666":
			writeJSON(w, 200, `{"id":"1b8b4c1613714666","token":"secret"}`)
		case "1b8b4c1613714667":
			writeJSON(w, 401, compact("unauthorized", "read:users/1b8b4c1613714667 is unauthorized"))
		default:
			writeJSON(w, 404, indented("not found", "not found"))
		}
	})
	c := u.client(t)
	ctx := context.Background()
	if ok, err := c.Exists(ctx, "buckets", "1b8b4c1613714666"); !ok || err != nil {
		t.Errorf("200: %v, %v", ok, err)
	}
	if ok, err := c.Exists(ctx, "users", "1b8b4c16137146ff"); ok || err != nil {
		t.Errorf("404: %v, %v", ok, err)
	}
	var apiErr *influx.APIError
	if _, err := c.Exists(ctx, "users", "1b8b4c1613714667"); !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Errorf("401: %v", err)
	}
	if _, err := c.Exists(ctx, "orgs", "../x"); err == nil || len(paths) != 3 {
		t.Errorf("bad id: %v after %v", err, paths)
	}
	if paths[0] != prefix+"/api/v2/buckets/1b8b4c1613714666" {
		t.Errorf("paths %v", paths)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tokenForms are a token as it may be echoed: plain, URL-encoded, and the
// core of its base64 at each byte offset (the characters that depend on the
// token alone), enough to recognise it.
func tokenForms(token string) []string {
	forms := []string{token, url.QueryEscape(token), url.PathEscape(token)}
	for shift := range 3 {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			b64 := enc.EncodeToString(append(make([]byte, shift), token...))
			forms = append(forms, b64[4:len(b64)-4])
		}
	}
	return forms
}
