package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	influxdb "github.com/influxdata/influxdb/v2"
	"github.com/influxdata/influxdb/v2/kit/platform"

	"github.com/tokenaudit/influx-token-mcp/integration/testserver"
)

// A random world for the differential test (differential_test.go): orgs,
// users, buckets and tokens created through the real InfluxDB handlers.
// Everything the oracle later uses about the world (which buckets exist,
// their orgs and types, each token's permissions) is read back from
// InfluxDB, not taken from what was asked for.

type worldOrg struct{ ID, Name string }

type worldUser struct{ ID, Name string }

type worldBucket struct {
	ID, Name, OrgID string
	System          bool // _monitoring, _tasks: read is authorized as reading the org
	Deleted         bool // deleted after tokens were granted on it
}

type worldToken struct {
	ID          string
	Value       string // the secret: never printed
	Kind        string // how the generator built it, for readable failures
	Description string
	Status      string
	UserID      string
	OrgID       string
	// Permissions as InfluxDB returns them (GET /api/v2/authorizations).
	Permissions []influxdb.Permission
}

type world struct {
	srv   *testserver.Server
	op    *testserver.Client
	orgs  []worldOrg
	users []worldUser // live ones
	// Users deleted after tokens were granted on them (owning none).
	deletedUsers []worldUser
	buckets      []worldBucket
	tokens       []*worldToken
	// Ids that name nothing in this instance, used in permissions and
	// questions.
	nonexistent []string
	// Callers: the operator and narrow audit tokens (also in tokens).
	callers []caller
}

// caller is a token the MCP server is configured with.
type caller struct {
	name  string
	token *worldToken
	// partial: the caller may not read every bucket or org, so an answer
	// may miss tokens, provided that its notes say the lookup was
	// incomplete. Tokens InfluxDB would not allow are never excused.
	partial bool
}

func (w *world) token(id string) *worldToken {
	for _, t := range w.tokens {
		if t.ID == id {
			return t
		}
	}
	return nil
}

func (w *world) secrets() []string {
	out := make([]string, 0, len(w.tokens))
	for _, t := range w.tokens {
		out = append(out, t.Value)
	}
	return out
}

// label names an ID for failure messages: org, user, bucket (org/name),
// token, or what it is not.
func (w *world) label(id string) string {
	id = strings.ToLower(id)
	for _, o := range w.orgs {
		if o.ID == id {
			return "org:" + o.Name
		}
	}
	for _, u := range w.users {
		if u.ID == id {
			return "user:" + u.Name
		}
	}
	for _, u := range w.deletedUsers {
		if u.ID == id {
			return "deleted-user:" + u.Name
		}
	}
	for _, b := range w.buckets {
		if b.ID == id {
			l := "bucket:" + w.orgName(b.OrgID) + "/" + b.Name
			if b.Deleted {
				l = "deleted-" + l
			}
			return l
		}
	}
	for i, t := range w.tokens {
		if t.ID == id {
			return fmt.Sprintf("token#%d", i)
		}
	}
	if slices.Contains(w.nonexistent, id) {
		return "nonexistent:" + id
	}
	return id
}

func (w *world) orgName(id string) string {
	for _, o := range w.orgs {
		if o.ID == id {
			return o.Name
		}
	}
	return id
}

// permString renders a permission with labels instead of IDs, e.g.
// write:orgs/org:acme/buckets/bucket:globex/sensors.
func (w *world) permString(p influxdb.Permission) string {
	s := string(p.Action) + ":"
	if p.Resource.OrgID != nil {
		s += "orgs/" + w.label(p.Resource.OrgID.String()) + "/"
	} else {
		s += "/"
	}
	s += string(p.Resource.Type)
	if p.Resource.ID != nil {
		s += "/" + w.label(p.Resource.ID.String())
	}
	return s
}

func (w *world) describeToken(t *worldToken) string {
	perms := make([]string, len(t.Permissions))
	for i, p := range t.Permissions {
		perms[i] = w.permString(p)
	}
	if len(perms) > 8 {
		perms = append(perms[:8], fmt.Sprintf("… %d in all", len(t.Permissions)))
	}
	return fmt.Sprintf("%s (%s, %s, owner %s, org %s) [%s]", w.label(t.ID), t.Kind, t.Status,
		w.label(t.UserID), w.label(t.OrgID), strings.Join(perms, " "))
}

var (
	worldOrgNames    = []string{"globex", "initech", "umbrella", "hooli"}
	worldUserNames   = []string{"alice", "bob", "carol", "dave", "erin"}
	worldBucketNames = []string{"telegraf", "sensors", "metrics", "logs"}
	// Descriptions, blank ones included (the no-description flag).
	worldDescriptions = []string{"", "  ", "telegraf writer", "Grafana dashboards", "CI deploy", "backup job", "TELEGRAF reader", "old token"}
	// Types the generator grants type-wide; the first four have resources
	// in this server.
	worldTypes = []influxdb.ResourceType{
		influxdb.BucketsResourceType, influxdb.OrgsResourceType, influxdb.UsersResourceType,
		influxdb.AuthorizationsResourceType, influxdb.DashboardsResourceType, influxdb.TasksResourceType,
	}
)

// buildWorld starts a server and fills it at random from r.
func buildWorld(ctx context.Context, t testing.TB, r *rand.Rand) *world {
	t.Helper()
	srv, err := testserver.Start(ctx, testserver.Options{})
	if err != nil {
		t.Fatalf("starting InfluxDB: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	w := &world{srv: srv, op: srv.Client(srv.OperatorToken)}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("building the world: %v", err)
		}
	}

	// Orgs and users.
	w.orgs = []worldOrg{{srv.OrgID, srv.Org}}
	for _, name := range worldOrgNames[:2+r.IntN(len(worldOrgNames)-1)] {
		var o worldOrg
		must(w.op.Do(ctx, http.MethodPost, "/api/v2/orgs", map[string]string{"name": name}, &o))
		w.orgs = append(w.orgs, o)
	}
	w.users = []worldUser{{srv.UserID, srv.User}}
	for _, name := range worldUserNames[:3+r.IntN(len(worldUserNames)-2)] {
		var u worldUser
		must(w.op.Do(ctx, http.MethodPost, "/api/v2/users", map[string]string{"name": name}, &u))
		w.users = append(w.users, u)
	}
	var doomedUser worldUser
	must(w.op.Do(ctx, http.MethodPost, "/api/v2/users", map[string]string{"name": "mallory"}, &doomedUser))
	w.deletedUsers = append(w.deletedUsers, doomedUser)

	// Buckets: names collide across orgs; some are deleted once tokens
	// name them, and a deleted name may live on in another org.
	var doomed []string
	for _, o := range w.orgs {
		for _, name := range worldBucketNames {
			if o.ID == srv.OrgID && name == srv.Bucket || r.IntN(2) == 0 {
				continue // acme has telegraf from onboarding
			}
			var b struct{ ID string }
			must(w.op.Do(ctx, http.MethodPost, "/api/v2/buckets",
				map[string]any{"orgID": o.ID, "name": name, "retentionRules": []any{}}, &b))
		}
		if r.IntN(2) == 0 {
			var b struct{ ID string }
			must(w.op.Do(ctx, http.MethodPost, "/api/v2/buckets",
				map[string]any{"orgID": o.ID, "name": "scratch", "retentionRules": []any{}}, &b))
			doomed = append(doomed, b.ID)
		}
	}
	for _, o := range w.orgs {
		var l struct {
			Buckets []struct{ ID, Name, OrgID, Type string }
		}
		must(w.op.Get(ctx, "/api/v2/buckets?limit=100&orgID="+o.ID, &l))
		for _, b := range l.Buckets {
			w.buckets = append(w.buckets, worldBucket{ID: b.ID, Name: b.Name, OrgID: b.OrgID, System: b.Type == "system"})
		}
	}
	for range 4 {
		w.nonexistent = append(w.nonexistent, fmt.Sprintf("%016x", r.Uint64()|1<<60))
	}

	// Tokens: the operator's, callers for the narrow runs, then random ones.
	w.tokens = append(w.tokens, &worldToken{ID: srv.OperatorTokenID, Value: srv.OperatorToken, Kind: "operator (onboarding)"})
	for range 45 + r.IntN(20) {
		w.createToken(ctx, t, r, nil)
	}
	acme, admin := srv.OrgID, srv.UserID
	narrow := func(name string, partial bool, ps ...influxdb.Permission) {
		tok := w.createToken(ctx, t, r, &worldToken{Kind: "caller " + name, Description: "caller " + name,
			Status: "active", UserID: admin, OrgID: acme, Permissions: ps})
		w.callers = append(w.callers, caller{name: name, token: tok, partial: partial})
	}
	w.callers = append(w.callers, caller{name: "operator", token: w.tokens[0]})
	narrow("reader", false,
		perm(influxdb.ReadAction, influxdb.AuthorizationsResourceType, "", ""), perm(influxdb.ReadAction, influxdb.UsersResourceType, "", ""),
		perm(influxdb.ReadAction, influxdb.BucketsResourceType, "", ""), perm(influxdb.ReadAction, influxdb.OrgsResourceType, "", ""))
	// The README's least-privilege audit token.
	narrow("auditor", true,
		perm(influxdb.ReadAction, influxdb.AuthorizationsResourceType, "", acme), perm(influxdb.ReadAction, influxdb.UsersResourceType, "", ""))
	narrow("acme-reader", true,
		perm(influxdb.ReadAction, influxdb.AuthorizationsResourceType, "", acme), perm(influxdb.ReadAction, influxdb.UsersResourceType, "", ""),
		perm(influxdb.ReadAction, influxdb.BucketsResourceType, "", acme), perm(influxdb.ReadAction, influxdb.OrgsResourceType, acme, ""))
	must(w.op.Do(ctx, http.MethodDelete, "/api/v2/users/"+doomedUser.ID, nil, nil))
	for _, id := range doomed {
		must(w.op.Do(ctx, http.MethodDelete, "/api/v2/buckets/"+id, nil, nil))
		for i := range w.buckets {
			if w.buckets[i].ID == id {
				w.buckets[i].Deleted = true
			}
		}
	}
	w.readBack(ctx, t)
	return w
}

// createToken creates a token through the real handler with the operator
// token: with perms when given, else with random permissions. Inactive
// tokens are made so with PATCH, as users do.
func (w *world) createToken(ctx context.Context, t testing.TB, r *rand.Rand, spec *worldToken) *worldToken {
	t.Helper()
	tok := spec
	if tok == nil {
		tok = &worldToken{
			Description: worldDescriptions[r.IntN(len(worldDescriptions))],
			Status:      "active",
			UserID:      w.users[r.IntN(len(w.users))].ID,
			OrgID:       w.orgs[r.IntN(len(w.orgs))].ID,
		}
		if r.IntN(6) == 0 {
			tok.Status = "inactive"
		}
		tok.Kind, tok.Permissions = w.randomPermissions(r, tok.OrgID, tok.UserID)
	}
	var created struct{ ID, Token string }
	req := map[string]any{"orgID": tok.OrgID, "userID": tok.UserID, "description": tok.Description, "permissions": tok.Permissions}
	if err := w.op.Do(ctx, http.MethodPost, "/api/v2/authorizations", req, &created); err != nil {
		t.Fatalf("creating %s token: %v", tok.Kind, err)
	}
	tok.ID, tok.Value = created.ID, created.Token
	if tok.Status == "inactive" {
		if err := w.op.Do(ctx, http.MethodPatch, "/api/v2/authorizations/"+tok.ID, map[string]string{"status": "inactive"}, nil); err != nil {
			t.Fatalf("deactivating a token: %v", err)
		}
	}
	w.tokens = append(w.tokens, tok)
	return tok
}

// readBack replaces every token's fields by what InfluxDB lists.
func (w *world) readBack(ctx context.Context, t testing.TB) {
	t.Helper()
	var l apiList
	if err := w.op.Get(ctx, "/api/v2/authorizations", &l); err != nil {
		t.Fatalf("listing tokens: %v", err)
	}
	byID := map[string]apiAuth{}
	for _, a := range l.Authorizations {
		byID[a.ID] = a
	}
	for _, tok := range w.tokens {
		a, ok := byID[tok.ID]
		if !ok {
			t.Fatalf("InfluxDB does not list token %s", tok.ID)
		}
		tok.Description, tok.Status, tok.UserID, tok.OrgID = a.Description, a.Status, a.UserID, a.OrgID
		tok.Permissions = nil
		for _, p := range a.Permissions {
			tok.Permissions = append(tok.Permissions, toInfluxPermission(t, p))
		}
	}
}

func toInfluxPermission(t testing.TB, p apiPermission) influxdb.Permission {
	t.Helper()
	out := influxdb.Permission{Action: influxdb.Action(p.Action), Resource: influxdb.Resource{Type: influxdb.ResourceType(p.Resource.Type)}}
	parse := func(s string) *platform.ID {
		id, err := platform.IDFromString(s)
		if err != nil {
			t.Fatalf("InfluxDB returned the ID %q: %v", s, err)
		}
		return id
	}
	if p.Resource.ID != "" {
		out.Resource.ID = parse(p.Resource.ID)
	}
	if p.Resource.OrgID != "" {
		out.Resource.OrgID = parse(p.Resource.OrgID)
	}
	return out
}

func perm(action influxdb.Action, rt influxdb.ResourceType, id, orgID string) influxdb.Permission {
	p := influxdb.Permission{Action: action, Resource: influxdb.Resource{Type: rt}}
	if id != "" {
		p.Resource.ID = mustID(id)
	}
	if orgID != "" {
		p.Resource.OrgID = mustID(orgID)
	}
	return p
}

func mustID(s string) *platform.ID {
	id, err := platform.IDFromString(s)
	if err != nil {
		panic(fmt.Sprintf("bad ID %q: %v", s, err))
	}
	return id
}

// randomPermissions returns a kind name and the permissions of a new token
// of the given org and owner. Every permission's orgID is the token's org
// or none, as InfluxDB requires (Authorization.Valid); its id may name
// anything.
func (w *world) randomPermissions(r *rand.Rand, orgID, userID string) (string, []influxdb.Permission) {
	switch r.IntN(12) {
	case 0:
		return "operator-style", influxdb.OperPermissions()
	case 1:
		return "all-access (CLI)", cliAllAccess(orgID, userID)
	case 2:
		// Owner permissions: users scoped to the org without an id, which
		// match no user (bob's all-access token in issue 11).
		return "all-access (owner)", influxdb.OwnerPermissions(mustIDValue(orgID))
	}
	var kinds []string
	var ps []influxdb.Permission
	for range 1 + r.IntN(3) {
		kind, p := w.randomPermission(r, orgID, userID)
		kinds = append(kinds, kind)
		ps = append(ps, p...)
	}
	return strings.Join(kinds, "+"), ps
}

func mustIDValue(s string) platform.ID { return *mustID(s) }

func (w *world) randomPermission(r *rand.Rand, orgID, userID string) (string, []influxdb.Permission) {
	action := []influxdb.Action{influxdb.ReadAction, influxdb.WriteAction}[r.IntN(2)]
	rt := worldTypes[r.IntN(len(worldTypes))]
	orOwnOrg := func() string { // an id with or without the token's orgID
		if r.IntN(2) == 0 {
			return ""
		}
		return orgID
	}
	pickBucket := func(keep func(worldBucket) bool) (worldBucket, bool) {
		var bs []worldBucket
		for _, b := range w.buckets {
			if keep(b) {
				bs = append(bs, b)
			}
		}
		if len(bs) == 0 {
			return worldBucket{}, false
		}
		return bs[r.IntN(len(bs))], true
	}
	switch r.IntN(13) {
	case 0:
		return "type-wide in own org", []influxdb.Permission{perm(action, rt, "", orgID)}
	case 1:
		return "type-wide in every org", []influxdb.Permission{perm(action, rt, "", "")}
	case 2:
		if b, ok := pickBucket(func(b worldBucket) bool { return b.OrgID == orgID }); ok {
			return "own bucket id", []influxdb.Permission{perm(action, influxdb.BucketsResourceType, b.ID, orgID)}
		}
	case 3:
		if b, ok := pickBucket(func(b worldBucket) bool { return b.OrgID != orgID }); ok {
			return "other org's bucket id under own org", []influxdb.Permission{perm(action, influxdb.BucketsResourceType, b.ID, orgID)}
		}
	case 4:
		if b, ok := pickBucket(func(b worldBucket) bool { return true }); ok {
			return "bucket id without org", []influxdb.Permission{perm(action, influxdb.BucketsResourceType, b.ID, "")}
		}
	case 5:
		return "nonexistent id", []influxdb.Permission{perm(action, rt, w.nonexistent[r.IntN(len(w.nonexistent))], orOwnOrg())}
	case 6:
		return "users in own org", []influxdb.Permission{perm(action, influxdb.UsersResourceType, "", orgID)}
	case 7:
		users := append(slices.Clone(w.users), w.deletedUsers...) // deleted later
		return "user id", []influxdb.Permission{perm(action, influxdb.UsersResourceType, users[r.IntN(len(users))].ID, orOwnOrg())}
	case 8:
		return "orgs in own org", []influxdb.Permission{perm(action, influxdb.OrgsResourceType, "", orgID)}
	case 9:
		return "org id", []influxdb.Permission{perm(action, influxdb.OrgsResourceType, w.orgs[r.IntN(len(w.orgs))].ID, orOwnOrg())}
	case 10:
		if len(w.tokens) > 1 {
			other := w.tokens[r.IntN(len(w.tokens))]
			return "token id", []influxdb.Permission{perm(action, influxdb.AuthorizationsResourceType, other.ID, orOwnOrg())}
		}
	case 11:
		// A token minter: write on authorizations, with or without write on
		// a user.
		ps := []influxdb.Permission{perm(influxdb.WriteAction, influxdb.AuthorizationsResourceType, "", orOwnOrg())}
		switch r.IntN(3) {
		case 0:
			ps = append(ps, perm(influxdb.WriteAction, influxdb.UsersResourceType, userID, ""))
		case 1:
			ps = append(ps, perm(influxdb.WriteAction, influxdb.UsersResourceType, "", orgID))
		}
		return "minter", ps
	case 12:
		if b, ok := pickBucket(func(b worldBucket) bool { return b.Name == "scratch" }); ok {
			return "bucket id deleted later", []influxdb.Permission{perm(action, influxdb.BucketsResourceType, b.ID, orOwnOrg())}
		}
	}
	return "type-wide in own org", []influxdb.Permission{perm(action, rt, "", orgID)}
}

// cliAllAccess is what `influx auth create --all-access` grants: read and
// write on every type in the org, read on the org itself, read and write
// on the owner.
func cliAllAccess(orgID, userID string) []influxdb.Permission {
	var ps []influxdb.Permission
	for _, rt := range influxdb.AllResourceTypes {
		switch rt {
		case influxdb.InstanceResourceType:
		case influxdb.OrgsResourceType:
			ps = append(ps, perm(influxdb.ReadAction, rt, orgID, ""))
		case influxdb.UsersResourceType:
			ps = append(ps, perm(influxdb.ReadAction, rt, userID, ""), perm(influxdb.WriteAction, rt, userID, ""))
		default:
			ps = append(ps, perm(influxdb.ReadAction, rt, "", orgID), perm(influxdb.WriteAction, rt, "", orgID))
		}
	}
	return ps
}

// directVisible lists the tokens InfluxDB shows the caller for the given
// InfluxDB filters (user, userID, org, orgID), by ID.
func (w *world) directVisible(ctx context.Context, caller *worldToken, args map[string]any) (map[string]bool, error) {
	q := url.Values{}
	for _, k := range []string{"user", "userID", "org", "orgID"} {
		if v, ok := args[k].(string); ok && v != "" {
			q.Set(k, v)
		}
	}
	var l apiList
	if err := w.srv.Client(caller.Value).Get(ctx, "/api/v2/authorizations?"+q.Encode(), &l); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, a := range l.Authorizations {
		out[a.ID] = true
	}
	return out, nil
}
