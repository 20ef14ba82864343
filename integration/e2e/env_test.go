package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenaudit/influx-token-mcp/integration/mcpharness"
	"github.com/tokenaudit/influx-token-mcp/integration/testserver"
)

// env is one seeded InfluxDB with what the tests derive from it.
type env struct {
	srv *testserver.Server
	fx  *testserver.Fixtures
	// created is each token's createdAt as InfluxDB reports it, by ID.
	created map[string]time.Time
}

func startEnv(ctx context.Context, hashed bool) (*env, error) {
	srv, err := testserver.Start(ctx, testserver.Options{HashedTokens: hashed})
	if err != nil {
		return nil, err
	}
	fx, err := testserver.Seed(ctx, srv)
	if err != nil {
		srv.Close()
		return nil, err
	}
	e := &env{srv: srv, fx: fx, created: map[string]time.Time{}}
	var l apiList
	if err := srv.Client(srv.OperatorToken).Get(ctx, "/api/v2/authorizations", &l); err != nil {
		srv.Close()
		return nil, err
	}
	for _, a := range l.Authorizations {
		e.created[a.ID] = a.CreatedAt
	}
	for _, n := range fx.TokenNames() {
		if _, ok := e.created[fx.Tokens[n].ID]; !ok {
			srv.Close()
			return nil, fmt.Errorf("the operator's list lacks fixture %s", n)
		}
	}
	return e, nil
}

// session starts the server binary configured with the named fixture's
// token (or, for a name that is no fixture, that literal value) and extra
// environment variables, over the SDK's default protocol.
func (e *env) session(t testing.TB, caller string, extra map[string]string) *mcpharness.Session {
	t.Helper()
	return e.sessionWith(t, caller, extra, "")
}

func (e *env) sessionWith(t testing.TB, caller string, extra map[string]string, protocol string) *mcpharness.Session {
	t.Helper()
	token := caller
	if tok, ok := e.fx.Tokens[caller]; ok {
		token = tok.Token
	}
	vars := map[string]string{"INFLUX_HOST": e.srv.URL, "INFLUX_TOKEN": token}
	for k, v := range extra {
		vars[k] = v
	}
	return mcpharness.Start(t, mcpharness.Options{
		Binary:          binary,
		Env:             vars,
		ProtocolVersion: protocol,
		Secrets:         e.fx.Secrets(),
	})
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// --- what the tools return (decoded strictly: an unknown field, such as a
// token value, fails the test) ---

type tokenOut struct {
	ID          string   `json:"id"`
	Description string   `json:"description"`
	Status      string   `json:"status"`
	User        string   `json:"user"`
	UserID      string   `json:"userID"`
	Org         string   `json:"org"`
	OrgID       string   `json:"orgID"`
	CreatedAt   string   `json:"createdAt"`
	UpdatedAt   string   `json:"updatedAt"`
	Permissions []string `json:"permissions"`
	Risks       []string `json:"risks"`
	RiskReasons []struct {
		Risk        string   `json:"risk"`
		Permissions []string `json:"permissions"`
	} `json:"riskReasons"`
}

type listOut struct {
	Tokens    []tokenOut `json:"tokens"`
	Count     int        `json:"count"`
	Total     int        `json:"total"`
	Offset    int        `json:"offset"`
	Truncated bool       `json:"truncated"`
	Summary   summaryOut `json:"summary"`
	Notes     []string   `json:"notes"`
}

type summaryOut struct {
	Active     int            `json:"active"`
	Inactive   int            `json:"inactive"`
	Risks      map[string]int `json:"risks"`
	Orgs       []groupOut     `json:"orgs"`
	OtherOrgs  restOut        `json:"otherOrgs"`
	Users      []groupOut     `json:"users"`
	OtherUsers restOut        `json:"otherUsers"`
}

type groupOut struct {
	Name   string `json:"name"`
	ID     string `json:"id"`
	Tokens int    `json:"tokens"`
}

type restOut struct {
	Groups int `json:"groups"`
	Tokens int `json:"tokens"`
}

type detailOut struct {
	tokenOut
	PermissionDetails []permissionDetailOut `json:"permissionDetails"`
	Notes             []string              `json:"notes"`
}

type permissionDetailOut struct {
	Permission string      `json:"permission"`
	Action     string      `json:"action"`
	Resource   apiResource `json:"resource"`
}

// --- what InfluxDB returns ---

type apiList struct {
	Authorizations []apiAuth `json:"authorizations"`
}

type apiAuth struct {
	ID          string          `json:"id"`
	Token       *string         `json:"token"`
	Status      string          `json:"status"`
	Description string          `json:"description"`
	OrgID       string          `json:"orgID"`
	Org         string          `json:"org"`
	UserID      string          `json:"userID"`
	User        string          `json:"user"`
	Permissions []apiPermission `json:"permissions"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
}

type apiPermission struct {
	Action   string      `json:"action"`
	Resource apiResource `json:"resource"`
}

type apiResource struct {
	Type  string `json:"type"`
	ID    string `json:"id,omitempty"`
	Name  string `json:"name,omitempty"`
	OrgID string `json:"orgID,omitempty"`
	Org   string `json:"org,omitempty"`
}

// directList lists authorizations straight from InfluxDB with the named
// fixture's token and the same filters a list_tokens call passes on.
func (e *env) directList(ctx context.Context, t testing.TB, caller string, args map[string]any) []apiAuth {
	t.Helper()
	q := url.Values{}
	for _, k := range []string{"user", "userID", "org", "orgID"} {
		if v, ok := args[k].(string); ok && v != "" {
			q.Set(k, v)
		}
	}
	path := "/api/v2/authorizations"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var l apiList
	if err := e.srv.Client(e.fx.Token(caller).Token).Get(ctx, path, &l); err != nil {
		t.Fatalf("direct GET %s as %s: %v", path, caller, err)
	}
	return l.Authorizations
}

// directGet reads one authorization straight from InfluxDB; status is the
// HTTP status (200 with a, otherwise the error).
func (e *env) directGet(ctx context.Context, t testing.TB, caller, id string) (a apiAuth, status int) {
	t.Helper()
	err := e.srv.Client(e.fx.Token(caller).Token).Get(ctx, "/api/v2/authorizations/"+id, &a)
	var apiErr *testserver.APIError
	switch {
	case err == nil:
		return a, http.StatusOK
	case errors.As(err, &apiErr):
		return a, apiErr.StatusCode
	}
	t.Fatalf("direct GET authorization %s: %v", id, err)
	return a, 0
}

// directStatus is the HTTP status InfluxDB answers to GET path with the
// given token value.
func (e *env) directStatus(ctx context.Context, t testing.TB, token, path string) int {
	t.Helper()
	code, _, err := e.srv.Client(token).Raw(ctx, http.MethodGet, path)
	if err != nil {
		t.Fatalf("direct GET %s: %v", path, err)
	}
	return code
}

// --- calling the tools ---

// list calls list_tokens, requires a result that is not an error, and
// decodes it.
func list(ctx context.Context, t testing.TB, s *mcpharness.Session, args map[string]any) (listOut, *mcpharness.Result) {
	t.Helper()
	r := s.Call(ctx, t, "list_tokens", args)
	if r.IsError {
		t.Fatalf("list_tokens %s: tool error: %s", toJSON(args), r.Text)
	}
	var out listOut
	r.Decode(t, &out)
	return out, r
}

// get calls get_token and requires a result that is not an error.
func get(ctx context.Context, t testing.TB, s *mcpharness.Session, id string) detailOut {
	t.Helper()
	r := s.Call(ctx, t, "get_token", map[string]any{"authID": id})
	if r.IsError {
		t.Fatalf("get_token %s: tool error: %s", id, r.Text)
	}
	var out detailOut
	r.Decode(t, &out)
	return out
}

// toolError calls a tool and requires a tool error (isError), returning its
// text.
func toolError(ctx context.Context, t testing.TB, s *mcpharness.Session, tool string, args map[string]any) string {
	t.Helper()
	r := s.Call(ctx, t, tool, args)
	if !r.IsError {
		t.Fatalf("%s %s: want a tool error, got: %s", tool, toJSON(args), r.Text)
	}
	return r.Text
}

func wantContains(t testing.TB, what, text string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(text, p) {
			t.Errorf("%s: %q does not contain %q", what, text, p)
		}
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// --- comparing with InfluxDB ---

// wantPermission renders an InfluxDB permission the way the tools document
// it: action:scope, the org by name (ID when InfluxDB gave none), "/" for no
// org, the resource by name (ID when unnamed), e.g.
// write:orgs/acme/buckets/telegraf, read:orgs/acme/buckets,
// read:/authorizations, read:/users/carol.
func wantPermission(p apiPermission) string {
	r := p.Resource
	scope := "/"
	if r.OrgID != "" {
		org := r.Org
		if org == "" {
			org = r.OrgID
		}
		scope = "orgs/" + org + "/"
	}
	scope += r.Type
	if r.ID != "" {
		name := r.Name
		if name == "" {
			name = r.ID
		}
		scope += "/" + name
	}
	return p.Action + ":" + scope
}

// wantRisks computes the README's risk flags of an authorization as
// InfluxDB returned it, in the README's order. InfluxDB names every bucket,
// org and user a permission's id points at, and leaves the name out for one
// it cannot find: that is the dangling signal here.
func wantRisks(t testing.TB, a apiAuth) []string {
	var instanceWide, dangling bool
	var perms []testserver.Permission
	users := []string{unseenUser} // stands for any user no permission names
	for _, p := range a.Permissions {
		r := p.Resource
		perms = append(perms, testserver.Permission{Action: p.Action, Type: r.Type, ID: r.ID, OrgID: r.OrgID})
		if r.Type == "instance" || r.OrgID == "" && r.ID == "" && !(p.Action == "read" && (r.Type == "users" || r.Type == "orgs")) {
			instanceWide = true
		}
		named := r.Type == "buckets" || r.Type == "orgs" || r.Type == "users"
		if named && r.ID != "" && r.Name == "" {
			dangling = true
		}
		if r.Type == "users" && r.ID != "" && r.Name != "" {
			users = append(users, r.ID)
		}
	}
	var authz, user bool
	for _, org := range []string{a.OrgID, unseenOrg} {
		authz = authz || allowed(t, perms, "write", "authorizations", "", org)
	}
	for _, u := range users {
		user = user || allowed(t, perms, "write", "users", u, "")
	}
	return riskList(instanceWide, authz && user, dangling, a.Status == "inactive", a.Description)
}

// unseenUser is a user ID no fixture uses.
const unseenUser = "0fedcba987654322"

// riskList writes the flags in the order the server uses.
func riskList(instanceWide, createsTokens, dangling, inactive bool, description string) []string {
	risks := []string{}
	for _, f := range []struct {
		on   bool
		name string
	}{
		{instanceWide, "instance-wide"},
		{createsTokens, "can-create-tokens"},
		{dangling, "dangling"},
		{inactive, "inactive"},
		{strings.TrimSpace(description) == "", "no-description"},
	} {
		if f.on {
			risks = append(risks, f.name)
		}
	}
	return risks
}

// compareToken checks one tool token against InfluxDB's authorization.
func compareToken(t testing.TB, got tokenOut, want apiAuth) {
	t.Helper()
	for _, f := range []struct{ name, got, want string }{
		{"id", got.ID, want.ID},
		{"description", got.Description, want.Description},
		{"status", got.Status, want.Status},
		{"user", got.User, want.User},
		{"userID", got.UserID, want.UserID},
		{"org", got.Org, want.Org},
		{"orgID", got.OrgID, want.OrgID},
	} {
		if f.got != f.want {
			t.Errorf("token %s: %s = %q, InfluxDB says %q", want.ID, f.name, f.got, f.want)
		}
	}
	for _, f := range []struct {
		name, got string
		want      time.Time
	}{{"createdAt", got.CreatedAt, want.CreatedAt}, {"updatedAt", got.UpdatedAt, want.UpdatedAt}} {
		ts, err := time.Parse(time.RFC3339Nano, f.got)
		if err != nil || !ts.Equal(f.want) {
			t.Errorf("token %s: %s = %q, InfluxDB says %s", want.ID, f.name, f.got, f.want.Format(time.RFC3339Nano))
		}
	}
	wantPerms := make([]string, len(want.Permissions))
	for i, p := range want.Permissions {
		wantPerms[i] = wantPermission(p)
	}
	if !slices.Equal(got.Permissions, wantPerms) {
		t.Errorf("token %s: permissions\n got %q\nwant %q", want.ID, got.Permissions, wantPerms)
	}
	// One reason per flag, in the same order, citing only the token's own
	// permissions.
	if len(got.RiskReasons) != len(got.Risks) {
		t.Errorf("token %s: risk reasons %+v for risks %v", got.ID, got.RiskReasons, got.Risks)
	}
	for i, r := range got.RiskReasons {
		if i < len(got.Risks) && r.Risk != got.Risks[i] {
			t.Errorf("token %s: reason %d is for %s, risk %d is %s", got.ID, i, r.Risk, i, got.Risks[i])
		}
		for _, p := range r.Permissions {
			if !slices.Contains(got.Permissions, p) {
				t.Errorf("token %s: %s raised by %s, which it does not have", got.ID, r.Risk, p)
			}
		}
	}
	if w := wantRisks(t, want); !slices.Equal(got.Risks, w) {
		t.Errorf("token %s: risks %q, want %q", want.ID, got.Risks, w)
	}
}

// compareList checks that tokens are exactly want (any order), field by
// field.
func compareList(t testing.TB, got []tokenOut, want []apiAuth) {
	t.Helper()
	byID := map[string]apiAuth{}
	for _, a := range want {
		byID[a.ID] = a
	}
	seen := map[string]bool{}
	for _, tok := range got {
		if seen[tok.ID] {
			t.Errorf("token %s listed twice", tok.ID)
		}
		seen[tok.ID] = true
		a, ok := byID[tok.ID]
		if !ok {
			t.Errorf("token %s (%q) is listed, but InfluxDB does not list it", tok.ID, tok.Description)
			continue
		}
		compareToken(t, tok, a)
	}
	for _, a := range want {
		if !seen[a.ID] {
			t.Errorf("InfluxDB lists token %s (%q, %s@%s), list_tokens does not", a.ID, a.Description, a.User, a.Org)
		}
	}
}

// ids returns the tokens' IDs in order.
func ids(ts []tokenOut) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

// names maps token IDs to fixture names, for readable failures.
func (e *env) names(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if tok, ok := e.fx.TokenByID(id); ok {
			out[i] = tok.Name
		} else {
			out[i] = "?" + id
		}
	}
	return out
}
