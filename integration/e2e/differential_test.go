package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	influxdb "github.com/influxdata/influxdb/v2"

	"github.com/tokenaudit/influx-token-mcp/integration/mcpharness"
	"github.com/tokenaudit/influx-token-mcp/integration/testserver"
)

// Issue 11: a randomized differential test of list_tokens' effective-access
// answers and of the can-create-tokens flag against InfluxDB's own code.
//
// A random world (differential_world_test.go) is built through the real
// handlers. Random questions go to the built server over stdio; the
// expected answer of each is computed with influxdb.PermissionSet.Allowed on
// the probes InfluxDB v2.8.0's authorizers build for that resource (see
// allowedOn), over the tokens InfluxDB itself lists for the caller. The
// can-create-tokens flag is checked by asking the real server to create a
// token with each fixture token.
//
//	cd integration && go test ./e2e -run TestDifferential -count=1 -v
//	INFLUX_TOKEN_MCP_DIFF_SEED=random go test ./e2e -run TestDifferential -count=1 -v

// diffSeedEnv sets the seed: a number, or "random". Unset, the seed is
// fixed, so that CI runs the same world every time; every run prints its
// seed.
const (
	diffSeedEnv     = "INFLUX_TOKEN_MCP_DIFF_SEED"
	diffDefaultSeed = 20261130
)

// Questions per caller; 2,400 in all.
var diffQuestions = map[string]int{"operator": 1200, "reader": 400, "auditor": 400, "acme-reader": 400}

func diffSeed(t *testing.T) uint64 {
	t.Helper()
	switch v := os.Getenv(diffSeedEnv); v {
	case "":
		return diffDefaultSeed
	case "random":
		return uint64(time.Now().UnixNano())
	default:
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want a number or \"random\"", diffSeedEnv, v)
		}
		return n
	}
}

// TestDifferential is not parallel: see discardStdout.
func TestDifferential(t *testing.T) {
	seed := diffSeed(t)
	t.Logf("seed %d (rerun: %s=%d go test ./e2e -run TestDifferential -count=1 -v)", seed, diffSeedEnv, seed)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	defer discardStdout(t)()
	r := rand.New(rand.NewPCG(seed, seed))
	w := buildWorld(ctx, t, r)
	t.Logf("world: %d orgs, %d users, %d buckets (%d deleted), %d tokens", len(w.orgs), len(w.users), len(w.buckets), countDeleted(w.buckets), len(w.tokens))
	if testing.Verbose() {
		var b strings.Builder
		for _, bk := range w.buckets {
			fmt.Fprintf(&b, "  %s %s\n", bk.ID, w.label(bk.ID))
		}
		for _, tok := range w.tokens {
			fmt.Fprintf(&b, "  %s %s\n", tok.ID, w.describeToken(tok))
		}
		t.Logf("buckets and tokens:\n%s", b.String())
	}

	t.Run("OracleMatchesServer", func(t *testing.T) { w.oracleMatchesServer(ctx, t) })
	t.Run("EffectiveAccess", func(t *testing.T) { w.effectiveAccess(ctx, t, r) })
	// Last: it activates the inactive tokens to ask the server.
	t.Run("CanCreateTokens", func(t *testing.T) { w.canCreateTokens(ctx, t) })
}

func countDeleted(bs []worldBucket) int {
	n := 0
	for _, b := range bs {
		if b.Deleted {
			n++
		}
	}
	return n
}

// --- the oracle: InfluxDB's own permission matching ---

// resourceTarget is one resource a question is about, with what InfluxDB's
// authorizers use to decide access to it.
type resourceTarget struct {
	Type    influxdb.ResourceType
	ID      string
	OrgID   string // the resource's org, from InfluxDB's API ("" for users and orgs)
	System  bool   // a system bucket (_monitoring, _tasks)
	OwnerID string // authorizations: the token's user
	Exists  bool   // false: deleted, or never existed
}

// allowedOn reports whether InfluxDB v2.8.0 would allow a token with
// permissions ps to do a on t, applying PermissionSet.Allowed to the probes
// the authorizers build for t's type (influxdb module, v2.8.0):
//
//   - buckets: authorizer.AuthorizeReadBucket / AuthorizeWrite(buckets, id,
//     orgID) (tenant/middleware_bucket_auth.go); reading a system bucket is
//     authorizer.AuthorizeReadOrg on its org (authorizeReadSystemBucket);
//   - orgs: AuthorizeReadOrg / AuthorizeWriteOrg, the org's id with no
//     orgID (tenant/middleware_org_auth.go);
//   - users: AuthorizeReadResource / AuthorizeWriteResource, the user's id
//     with no orgID (tenant/middleware_user_auth.go);
//   - authorizations: AuthorizeRead / AuthorizeWrite(authorizations, id,
//     the token's orgID) AND the same action on the token's owner as a
//     user (authorization/middleware_auth.go, authorizer/authorize_find.go);
//   - other types: AuthorizeRead / AuthorizeWrite(type, id, orgID).
//
// A resource that does not exist (deleted, or an id that never named
// anything) has no org InfluxDB could tell, so its probe carries the id
// alone, as AuthorizeReadResource builds it: only a permission naming that
// id, a type-wide grant in every org, or instance allows it. A name that
// no resource has is probed without id and org: only grants in every org
// or on instance reach it.
func allowedOn(ps influxdb.PermissionSet, a influxdb.Action, t resourceTarget) bool {
	switch {
	case !t.Exists:
		return ps.Allowed(perm(a, t.Type, t.ID, ""))
	case t.Type == influxdb.BucketsResourceType && t.System && a == influxdb.ReadAction:
		return ps.Allowed(perm(a, influxdb.OrgsResourceType, t.OrgID, ""))
	case t.Type == influxdb.OrgsResourceType, t.Type == influxdb.UsersResourceType:
		return ps.Allowed(perm(a, t.Type, t.ID, ""))
	case t.Type == influxdb.AuthorizationsResourceType:
		return ps.Allowed(perm(a, t.Type, t.ID, t.OrgID)) && ps.Allowed(perm(a, influxdb.UsersResourceType, t.OwnerID, ""))
	default:
		return ps.Allowed(perm(a, t.Type, t.ID, t.OrgID))
	}
}

// grantsType answers a question about a whole type, without id or name.
// list_tokens documents it as "tokens granting access to this resource
// type"; we take that as: InfluxDB would allow at least one request its
// authorizers check for that type, in any org of the instance, on any id
// of that type the instance knows (its resources, and ids that
// permissions name, existing or not). So:
//
//   - users and orgs are probed by id alone, or without org and id (list
//     and create), so an org-wide users or orgs permission grants nothing;
//   - every other type is probed in an org, with or without an id;
//   - reading buckets includes reading a system bucket, which InfluxDB
//     authorizes as reading its org (every org has system buckets);
//   - authorizations need the same action on a user as well, as every
//     request on tokens does (read, update, delete: the owner; create: the
//     new token's user).
func (w *world) grantsType(ps influxdb.PermissionSet, a influxdb.Action, rt influxdb.ResourceType) bool {
	ids := w.knownIDs(rt)
	anyAllowed := func(probes []influxdb.Permission) bool {
		for _, p := range probes {
			if ps.Allowed(p) {
				return true
			}
		}
		return false
	}
	var probes []influxdb.Permission
	if rt == influxdb.OrgsResourceType || rt == influxdb.UsersResourceType {
		probes = append(probes, perm(a, rt, "", ""))
		for _, id := range ids {
			probes = append(probes, perm(a, rt, id, ""))
		}
		return anyAllowed(probes)
	}
	for _, o := range w.orgs {
		probes = append(probes, perm(a, rt, "", o.ID))
		for _, id := range ids {
			probes = append(probes, perm(a, rt, id, o.ID))
		}
		if rt == influxdb.BucketsResourceType && a == influxdb.ReadAction {
			probes = append(probes, perm(a, influxdb.OrgsResourceType, o.ID, ""))
		}
	}
	if rt != influxdb.AuthorizationsResourceType {
		return anyAllowed(probes)
	}
	var users []influxdb.Permission
	for _, id := range w.knownIDs(influxdb.UsersResourceType) {
		users = append(users, perm(a, influxdb.UsersResourceType, id, ""))
	}
	return anyAllowed(probes) && anyAllowed(users)
}

// knownIDs are the ids of type rt the instance knows: its resources and the
// ids permissions name.
func (w *world) knownIDs(rt influxdb.ResourceType) []string {
	var ids []string
	add := func(id string) {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	switch rt {
	case influxdb.BucketsResourceType:
		for _, b := range w.buckets {
			add(b.ID)
		}
	case influxdb.OrgsResourceType:
		for _, o := range w.orgs {
			add(o.ID)
		}
	case influxdb.UsersResourceType:
		for _, u := range w.users {
			add(u.ID)
		}
	case influxdb.AuthorizationsResourceType:
		for _, tok := range w.tokens {
			add(tok.ID)
		}
	}
	for _, tok := range w.tokens {
		for _, p := range tok.Permissions {
			if p.Resource.Type == rt && p.Resource.ID != nil {
				add(p.Resource.ID.String())
			}
		}
	}
	return ids
}

// discardStdout points os.Stdout at /dev/null until the returned function
// runs. Permission.Matches in v2.8.0 prints a debugging line to stdout ("v1:
// old match used") whenever a permission's id matches a probe of another
// org, in the oracle and in the in-process server alike; it would bury the
// test's output. The testing package keeps its own copy of os.Stdout, so
// t.Log still reaches it; the test is not parallel, so no other test runs
// meanwhile.
func discardStdout(t *testing.T) (restore func()) {
	t.Helper()
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = devNull
	return func() {
		os.Stdout = saved
		devNull.Close()
	}
}

// oracleMatchesServer checks allowedOn against the real server where the
// server can be asked without changing anything: every active token reads
// every existing bucket, org, user and token (GET by id), and InfluxDB's
// answer (200, or 401/403/404) must be what allowedOn predicts.
func (w *world) oracleMatchesServer(ctx context.Context, t *testing.T) {
	type probe struct {
		path string
		t    resourceTarget
	}
	var probes []probe
	for _, b := range w.buckets {
		if !b.Deleted {
			probes = append(probes, probe{"/api/v2/buckets/" + b.ID, w.bucketTarget(b)})
		}
	}
	for _, o := range w.orgs {
		probes = append(probes, probe{"/api/v2/orgs/" + o.ID, resourceTarget{Type: influxdb.OrgsResourceType, ID: o.ID, Exists: true}})
	}
	for _, u := range w.users {
		probes = append(probes, probe{"/api/v2/users/" + u.ID, resourceTarget{Type: influxdb.UsersResourceType, ID: u.ID, Exists: true}})
	}
	for _, tok := range w.tokens {
		probes = append(probes, probe{"/api/v2/authorizations/" + tok.ID,
			resourceTarget{Type: influxdb.AuthorizationsResourceType, ID: tok.ID, OrgID: tok.OrgID, OwnerID: tok.UserID, Exists: true}})
	}
	var checked, allowedN, differ int
	for _, tok := range w.tokens {
		if tok.Status != "active" {
			continue
		}
		c := w.srv.Client(tok.Value)
		for _, p := range probes {
			code, _, err := c.Raw(ctx, http.MethodGet, p.path)
			if err != nil {
				t.Fatalf("GET %s: %v", p.path, err)
			}
			var server bool
			switch code {
			case http.StatusOK:
				server = true
			case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			default:
				t.Fatalf("GET %s as %s: status %d", p.path, w.describeToken(tok), code)
			}
			oracle := allowedOn(influxdb.PermissionSet(tok.Permissions), influxdb.ReadAction, p.t)
			checked++
			if server {
				allowedN++
			}
			if oracle != server {
				differ++
				t.Errorf("reading %s: the oracle says %v, the server %v (status %d), for %s", w.label(p.t.ID), oracle, server, code, w.describeToken(tok))
			}
		}
	}
	t.Logf("oracle vs server: %d reads checked (%d allowed), %d differ", checked, allowedN, differ)
}

// --- questions ---

type question struct {
	args    map[string]any
	shape   string                // e.g. "buckets by name", for the summary
	action  influxdb.Action       // "" for either
	rt      influxdb.ResourceType // the resourceType asked about
	targets []resourceTarget      // the resources asked about; nil for a type question
	byType  bool
}

func (q question) actions() []influxdb.Action {
	if q.action == "" {
		return []influxdb.Action{influxdb.ReadAction, influxdb.WriteAction}
	}
	return []influxdb.Action{q.action}
}

// grants reports whether, per InfluxDB, tok's permissions give the access
// the question asks about. Status is ignored: answers keep inactive tokens,
// which can be reactivated.
func (w *world) grants(q question, tok *worldToken) bool {
	ps := influxdb.PermissionSet(tok.Permissions)
	for _, a := range q.actions() {
		if q.byType {
			if w.grantsType(ps, a, q.rt) {
				return true
			}
			continue
		}
		for _, t := range q.targets {
			if allowedOn(ps, a, t) {
				return true
			}
		}
	}
	return false
}

func (w *world) bucketTarget(b worldBucket) resourceTarget {
	return resourceTarget{Type: influxdb.BucketsResourceType, ID: b.ID, OrgID: b.OrgID, System: b.System, Exists: !b.Deleted}
}

func (w *world) randomQuestion(r *rand.Rand) question {
	q := question{args: map[string]any{}}
	q.action = []influxdb.Action{"", influxdb.ReadAction, influxdb.WriteAction}[r.IntN(3)]
	byID := func(rt influxdb.ResourceType, shape string, ts ...resourceTarget) {
		q.rt, q.shape, q.targets = rt, shape, ts
		q.args["resourceID"] = ts[0].ID
	}
	switch k := r.IntN(20); {
	case k < 3:
		types := append(slices.Clone(worldTypes), influxdb.TelegrafsResourceType)
		q.rt, q.byType = types[r.IntN(len(types))], true
		q.shape = "type " + string(q.rt)
	case k < 7:
		b := w.buckets[r.IntN(len(w.buckets))]
		kind := "bucket"
		switch {
		case b.Deleted:
			kind = "deleted bucket"
		case b.System:
			kind = "system bucket"
		}
		if r.IntN(8) == 0 {
			b, kind = worldBucket{ID: w.nonexistent[r.IntN(len(w.nonexistent))], Deleted: true}, "nonexistent bucket"
		}
		byID(influxdb.BucketsResourceType, "buckets by id ("+kind+")", w.bucketTarget(b))
	case k < 11:
		names := []string{"nosuch"}
		for _, b := range w.buckets {
			if !slices.Contains(names, b.Name) {
				names = append(names, b.Name)
			}
		}
		name := names[r.IntN(len(names))]
		q.rt, q.shape = influxdb.BucketsResourceType, "buckets by name"
		if strings.HasPrefix(name, "_") {
			q.shape += " (system)"
		}
		q.args["resourceName"] = name
		live := 0
		for _, b := range w.buckets {
			if b.Name == name && !b.Deleted {
				q.targets = append(q.targets, w.bucketTarget(b))
				live++
			}
		}
		if live == 0 {
			// No bucket has the name (any more): its org and id cannot be
			// known, so only a grant that reaches it wherever it is counts,
			// the probe without org or id.
			q.shape += " (none live)"
			q.targets = []resourceTarget{{Type: influxdb.BucketsResourceType}}
		}
	case k < 13:
		if r.IntN(4) == 0 {
			byID(influxdb.OrgsResourceType, "orgs by id (nonexistent)", resourceTarget{Type: influxdb.OrgsResourceType, ID: w.nonexistent[r.IntN(len(w.nonexistent))]})
			break
		}
		o := w.orgs[r.IntN(len(w.orgs))]
		t := resourceTarget{Type: influxdb.OrgsResourceType, ID: o.ID, Exists: true}
		if r.IntN(2) == 0 {
			byID(influxdb.OrgsResourceType, "orgs by id", t)
		} else {
			q.rt, q.shape, q.targets = influxdb.OrgsResourceType, "orgs by name", []resourceTarget{t}
			q.args["resourceName"] = o.Name
		}
	case k < 15:
		if r.IntN(4) == 0 {
			byID(influxdb.UsersResourceType, "users by id (nonexistent)", resourceTarget{Type: influxdb.UsersResourceType, ID: w.nonexistent[r.IntN(len(w.nonexistent))]})
			break
		}
		if r.IntN(4) == 0 {
			u := w.deletedUsers[r.IntN(len(w.deletedUsers))]
			byID(influxdb.UsersResourceType, "users by id (deleted)", resourceTarget{Type: influxdb.UsersResourceType, ID: u.ID})
			break
		}
		u := w.users[r.IntN(len(w.users))]
		t := resourceTarget{Type: influxdb.UsersResourceType, ID: u.ID, Exists: true}
		if r.IntN(2) == 0 {
			byID(influxdb.UsersResourceType, "users by id", t)
		} else {
			q.rt, q.shape, q.targets = influxdb.UsersResourceType, "users by name", []resourceTarget{t}
			q.args["resourceName"] = u.Name
		}
	case k < 18:
		tok := w.tokens[r.IntN(len(w.tokens))]
		byID(influxdb.AuthorizationsResourceType, "authorizations by id",
			resourceTarget{Type: influxdb.AuthorizationsResourceType, ID: tok.ID, OrgID: tok.OrgID, OwnerID: tok.UserID, Exists: true})
	default:
		// Dashboards are not served here: an id a permission names is a
		// dashboard InfluxDB cannot find.
		byID(influxdb.DashboardsResourceType, "dashboards by id (nonexistent)",
			resourceTarget{Type: influxdb.DashboardsResourceType, ID: w.nonexistent[r.IntN(len(w.nonexistent))]})
	}
	if id, ok := q.args["resourceID"].(string); ok && r.IntN(10) == 0 {
		q.args["resourceID"] = strings.ToUpper(id) // the tool takes either case
	}
	q.args["resourceType"] = string(q.rt)
	if q.action != "" {
		q.args["action"] = string(q.action)
	}

	// Other filters, combined at random.
	if r.IntN(4) == 0 {
		u := w.users[r.IntN(len(w.users))]
		if r.IntN(2) == 0 {
			q.args["user"] = u.Name
		} else {
			q.args["userID"] = u.ID
		}
	}
	if r.IntN(4) == 0 {
		o := w.orgs[r.IntN(len(w.orgs))]
		if r.IntN(2) == 0 {
			q.args["org"] = o.Name
		} else {
			q.args["orgID"] = o.ID
		}
	}
	if r.IntN(5) == 0 {
		q.args["status"] = []string{"active", "inactive"}[r.IntN(2)]
	}
	if r.IntN(6) == 0 {
		d := worldDescriptions[2+r.IntN(len(worldDescriptions)-2)]
		word := strings.Fields(d)[0]
		if r.IntN(2) == 0 {
			word = strings.ToUpper(word)
		}
		q.args["description"] = word
	}
	return q
}

// keeps applies list_tokens' own filters besides effective access.
func keeps(args map[string]any, tok *worldToken) bool {
	if s, ok := args["status"].(string); ok && tok.Status != s {
		return false
	}
	if d, ok := args["description"].(string); ok && !strings.Contains(strings.ToLower(tok.Description), strings.ToLower(d)) {
		return false
	}
	return true
}

// --- asking the server ---

// answer is list_tokens' result, all pages.
type answer struct {
	ids   []string
	notes []string
	err   string // the tool's error text, if it answered with one
}

func askAll(ctx context.Context, t *testing.T, s *mcpharness.Session, args map[string]any) answer {
	t.Helper()
	var ans answer
	for offset := 0; ; {
		call := cloneArgs(args)
		call["limit"], call["offset"] = 500, offset
		res := s.Call(ctx, t, "list_tokens", call)
		if res.IsError {
			return answer{err: res.Text}
		}
		var out struct {
			Tokens []struct {
				ID string `json:"id"`
			} `json:"tokens"`
			Count     int      `json:"count"`
			Total     int      `json:"total"`
			Truncated bool     `json:"truncated"`
			Notes     []string `json:"notes"`
		}
		if err := json.Unmarshal(res.Raw, &out); err != nil {
			t.Fatalf("list_tokens %s: %v", toJSON(call), err)
		}
		for _, tok := range out.Tokens {
			ans.ids = append(ans.ids, tok.ID)
		}
		ans.notes = out.Notes
		if !out.Truncated || out.Count == 0 {
			if out.Total != len(ans.ids) {
				t.Errorf("list_tokens %s: total %d, but the pages hold %d tokens", toJSON(call), out.Total, len(ans.ids))
			}
			return ans
		}
		offset += out.Count
	}
}

// excusable reports whether no missing token is certain to be allowed by
// what a caller that cannot look the resource up still knows: the id asked
// about (or, by name, the ids permissions resolve to it), but not the
// resource's org, nor whether a bucket asked for by id is a system bucket,
// nor a token's owner. A token allowed whatever those are (a grant naming
// the id, in every org, on instance; for a read by bucket id, also read on
// every org; for a token, also the action on every user) must be listed;
// missing any other may be excused by a note. Type questions need no
// lookup, so nothing is excused there.
func (w *world) excusable(q question, missing []string) bool {
	if q.byType {
		return false
	}
	for _, id := range missing {
		ps := influxdb.PermissionSet(w.token(id).Permissions)
		for _, a := range q.actions() {
			for _, t := range q.targets {
				if certainlyAllowed(ps, a, t, q.args["resourceName"] != nil) {
					return false
				}
			}
		}
	}
	return true
}

func certainlyAllowed(ps influxdb.PermissionSet, a influxdb.Action, t resourceTarget, byName bool) bool {
	anyOrg := ps.Allowed(perm(a, influxdb.OrgsResourceType, "", "")) // the probe of an org whose id is unknown
	switch t.Type {
	case influxdb.BucketsResourceType:
		asBucket := ps.Allowed(perm(a, t.Type, t.ID, ""))
		switch {
		case a == influxdb.WriteAction:
			return asBucket
		case byName && t.System: // only system buckets' names start with "_"
			return anyOrg
		case byName:
			return asBucket
		}
		return asBucket && anyOrg
	case influxdb.AuthorizationsResourceType:
		return ps.Allowed(perm(a, t.Type, t.ID, "")) && ps.Allowed(perm(a, influxdb.UsersResourceType, "", ""))
	}
	return ps.Allowed(perm(a, t.Type, t.ID, ""))
}

// notesIncomplete reports whether an answer's notes say that resources of
// type rt could not be looked up: a note that names the type.
func notesIncomplete(notes []string, rt influxdb.ResourceType) bool {
	for _, n := range notes {
		if strings.Contains(n, string(rt)) {
			return true
		}
	}
	return false
}

func (w *world) effectiveAccess(ctx context.Context, t *testing.T, r *rand.Rand) {
	counts := map[string]int{}   // category → tokens
	examples := map[string]int{} // category → printed examples
	var asked, agreed, excused, toolErrors, nonEmpty int
	for _, c := range w.callers {
		s := mcpharness.Start(t, mcpharness.Options{
			Binary:  binary,
			Env:     map[string]string{"INFLUX_HOST": w.srv.URL, "INFLUX_TOKEN": c.token.Value},
			Secrets: w.secrets(),
		})
		visible := map[string]map[string]bool{} // by InfluxDB filters
		for range diffQuestions[c.name] {
			q := w.randomQuestion(r)
			key := toJSON(map[string]any{"user": q.args["user"], "userID": q.args["userID"], "org": q.args["org"], "orgID": q.args["orgID"]})
			vis, ok := visible[key]
			if !ok {
				var err error
				if vis, err = w.directVisible(ctx, c.token, q.args); err != nil {
					var apiErr *testserver.APIError
					if errors.As(err, &apiErr) && apiErr.StatusCode < http.StatusInternalServerError {
						continue // e.g. a name InfluxDB cannot resolve for this caller
					}
					t.Fatalf("direct list as %s: %v", c.name, err)
				}
				visible[key] = vis
			}
			shape := q.shape
			if w.namedUnderOtherOrg(q, vis) {
				shape += " [a listed permission names it under another org]"
			}
			var want []string
			for _, tok := range w.tokens {
				if vis[tok.ID] && keeps(q.args, tok) && w.grants(q, tok) {
					want = append(want, tok.ID)
				}
			}
			asked++
			if len(want) > 0 {
				nonEmpty++
			}
			got := askAll(ctx, t, s, q.args)
			if got.err != "" {
				toolErrors++
				t.Errorf("as %s, list_tokens %s: tool error: %s", c.name, toJSON(q.args), got.err)
				continue
			}
			missing, extra := difference(want, got.ids), difference(got.ids, want)
			if len(missing) == 0 && len(extra) == 0 {
				agreed++
				continue
			}
			if c.partial && len(extra) == 0 && notesIncomplete(got.notes, q.rt) && w.excusable(q, missing) {
				excused++ // incomplete, and the notes say why
				continue
			}
			var lines []string
			for _, d := range []struct {
				dir string
				ids []string
			}{{"missing", missing}, {"extra", extra}} {
				for _, id := range d.ids {
					tok := w.token(id)
					cat := fmt.Sprintf("%-7s | %s | %s", d.dir, shape, w.forms(q, tok, d.dir == "missing"))
					counts[cat]++
					examples[cat]++
					lines = append(lines, fmt.Sprintf("  %s: %s", d.dir, w.describeToken(tok)))
				}
			}
			t.Errorf("as %s, list_tokens %s (%s):\n  expected %d tokens %v\n  got      %d tokens %v\n  notes %q\n%s",
				c.name, toJSON(w.labelArgs(q.args)), shape, len(want), w.labels(want), len(got.ids), w.labels(got.ids), got.notes, strings.Join(lines, "\n"))
		}
	}
	t.Logf("%d questions (%d with a non-empty expected answer): %d agree with InfluxDB, %d differ, %d incomplete with a note (narrow callers), %d tool errors",
		asked, nonEmpty, agreed, asked-agreed-excused-toolErrors, excused, toolErrors)
	if asked < 2000 {
		t.Errorf("only %d questions were asked; want at least 2000", asked)
	}
	if len(counts) > 0 {
		cats := make([]string, 0, len(counts))
		for c := range counts {
			cats = append(cats, c)
		}
		sort.Slice(cats, func(i, j int) bool {
			return counts[cats[i]] > counts[cats[j]] || counts[cats[i]] == counts[cats[j]] && cats[i] < cats[j]
		})
		var b strings.Builder
		for _, c := range cats {
			fmt.Fprintf(&b, "%5d  %s\n", counts[c], c)
		}
		t.Logf("disagreements by category (token answers; direction | question | the token's permissions of that type):\n%s", b.String())
	}
}

// namedUnderOtherOrg reports whether a token the caller sees has a
// permission naming one of the question's resources under an orgID that is
// not the resource's own (allowed: InfluxDB only requires a permission's
// orgID to be its token's org). A tool that takes a resource's org from
// such a permission gets it wrong for every token, so the summary keeps
// these questions apart.
func (w *world) namedUnderOtherOrg(q question, visible map[string]bool) bool {
	for _, t := range q.targets {
		if t.OrgID == "" {
			continue
		}
		for _, tok := range w.tokens {
			if !visible[tok.ID] {
				continue
			}
			for _, p := range tok.Permissions {
				if p.Resource.ID != nil && p.Resource.ID.String() == t.ID && p.Resource.OrgID != nil && p.Resource.OrgID.String() != t.OrgID {
					return true
				}
			}
		}
	}
	return false
}

// forms describes, for the summary, the permissions of tok that bear on the
// question: for a missing token those InfluxDB matches, for an extra one
// those of the asked type (or instance, or orgs for a system bucket).
func (w *world) forms(q question, tok *worldToken, matching bool) string {
	seen := map[string]bool{}
	var out []string
	for _, p := range tok.Permissions {
		if q.action != "" && p.Action != q.action {
			continue
		}
		if matching {
			one := question{rt: q.rt, targets: q.targets, byType: q.byType, action: p.Action}
			if !w.grants(one, &worldToken{Permissions: []influxdb.Permission{p}}) {
				continue
			}
		} else if p.Resource.Type != q.rt && p.Resource.Type != influxdb.InstanceResourceType &&
			!(q.rt == influxdb.BucketsResourceType && p.Resource.Type == influxdb.OrgsResourceType) &&
			!(q.rt == influxdb.AuthorizationsResourceType && p.Resource.Type == influxdb.UsersResourceType) {
			continue
		}
		f := w.form(p, tok)
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	sort.Strings(out)
	if len(out) > 6 {
		out = append(out[:6], "…")
	}
	if len(out) == 0 {
		return "(none alone: only together)"
	}
	return strings.Join(out, ", ")
}

// form abstracts a permission relative to its token: its type and whether
// it is type-wide, org-wide or names a resource (and what kind).
func (w *world) form(p influxdb.Permission, tok *worldToken) string {
	r := p.Resource
	s := string(p.Action) + ":" + string(r.Type)
	switch {
	case r.Type == influxdb.InstanceResourceType:
		return s
	case r.ID == nil && r.OrgID == nil:
		return s + " every org"
	case r.ID == nil:
		return s + " org-wide"
	}
	id := r.ID.String()
	kind := "id of " + w.idKind(id, tok)
	if r.OrgID != nil {
		return s + " " + kind + " with orgID"
	}
	return s + " " + kind + " without orgID"
}

func (w *world) idKind(id string, tok *worldToken) string {
	for _, b := range w.buckets {
		if b.ID != id {
			continue
		}
		switch {
		case b.Deleted:
			return "deleted bucket"
		case b.OrgID != tok.OrgID:
			return "other org's bucket"
		case b.System:
			return "own system bucket"
		}
		return "own bucket"
	}
	for _, o := range w.orgs {
		if o.ID == id {
			if o.ID == tok.OrgID {
				return "own org"
			}
			return "other org"
		}
	}
	for _, u := range w.users {
		if u.ID == id {
			if u.ID == tok.UserID {
				return "own user"
			}
			return "other user"
		}
	}
	for _, u := range w.deletedUsers {
		if u.ID == id {
			return "deleted user"
		}
	}
	for _, other := range w.tokens {
		if other.ID == id {
			if other.OrgID == tok.OrgID {
				return "own org's token"
			}
			return "other org's token"
		}
	}
	return "nothing"
}

func (w *world) labels(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = w.label(id)
	}
	return out
}

// labelArgs shows a question with the ids in it labelled.
func (w *world) labelArgs(args map[string]any) map[string]any {
	out := cloneArgs(args)
	for _, k := range []string{"resourceID", "userID", "orgID"} {
		if id, ok := out[k].(string); ok {
			out[k] = id + " (" + w.label(id) + ")"
		}
	}
	return out
}

func difference(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// --- can-create-tokens, decided by the real server ---

// canCreateTokens compares the tool's can-create-tokens flag with the
// server's answer when each fixture token tries to create a token.
//
// InfluxDB's CreateAuthorization (authorization/middleware_auth.go) allows
// it when the creator may write authorizations in the new token's org
// (AuthorizeCreate), write its user (AuthorizeWriteResource on users) and
// holds every permission it grants (VerifyPermissions). The probe asks,
// for every org and user of the instance, for a token with the single
// permission write:orgs/<org>/authorizations: the first check already
// requires the creator to hold exactly that, so the probe succeeds iff
// InfluxDB lets the token create any token at all. Inactive tokens are
// activated first (the flag is about permissions; InfluxDB refuses every
// request of an inactive token).
func (w *world) canCreateTokens(ctx context.Context, t *testing.T) {
	s := mcpharness.Start(t, mcpharness.Options{
		Binary:  binary,
		Env:     map[string]string{"INFLUX_HOST": w.srv.URL, "INFLUX_TOKEN": w.srv.OperatorToken},
		Secrets: w.secrets(),
	})
	flags := map[string]bool{}
	for offset := 0; ; {
		res := s.Call(ctx, t, "list_tokens", map[string]any{"limit": 500, "offset": offset})
		if res.IsError {
			t.Fatalf("list_tokens: %s", res.Text)
		}
		var out struct {
			Tokens []struct {
				ID    string   `json:"id"`
				Risks []string `json:"risks"`
			} `json:"tokens"`
			Count     int  `json:"count"`
			Truncated bool `json:"truncated"`
		}
		if err := json.Unmarshal(res.Raw, &out); err != nil {
			t.Fatal(err)
		}
		for _, tok := range out.Tokens {
			flags[tok.ID] = slices.Contains(tok.Risks, "can-create-tokens")
		}
		if !out.Truncated || out.Count == 0 {
			break
		}
		offset += out.Count
	}

	var checked, differ int
	counts := map[string]int{}
	for _, tok := range w.tokens {
		flag, ok := flags[tok.ID]
		if !ok {
			t.Errorf("the operator's list lacks %s", w.describeToken(tok))
			continue
		}
		if tok.Status != "active" {
			if err := w.op.Do(ctx, http.MethodPatch, "/api/v2/authorizations/"+tok.ID, map[string]string{"status": "active"}, nil); err != nil {
				t.Fatalf("activating a token: %v", err)
			}
		}
		created := w.serverLetsCreate(ctx, t, tok)
		checked++
		if created != flag {
			differ++
			cat := fmt.Sprintf("flag %v, server %v | %s", flag, created, w.creatorForms(tok))
			counts[cat]++
			t.Errorf("can-create-tokens is %v, but the server %s a token created by %s", flag,
				map[bool]string{true: "lets create", false: "refuses"}[created], w.describeToken(tok))
		}
	}
	t.Logf("can-create-tokens: %d tokens checked with the server, %d differ", checked, differ)
	if differ > 0 {
		var b strings.Builder
		for c, n := range counts {
			fmt.Fprintf(&b, "%5d  %s\n", n, c)
		}
		t.Logf("by category (the token's authorizations and users permissions):\n%s", b.String())
	}
}

// serverLetsCreate asks the server whether tok may create a token for some
// org and user; a created token is deleted at once.
func (w *world) serverLetsCreate(ctx context.Context, t *testing.T, tok *worldToken) bool {
	t.Helper()
	c := w.srv.Client(tok.Value)
	for _, o := range w.orgs {
		for _, u := range w.users {
			req := map[string]any{
				"orgID": o.ID, "userID": u.ID, "description": "can-create probe",
				"permissions": []influxdb.Permission{perm(influxdb.WriteAction, influxdb.AuthorizationsResourceType, "", o.ID)},
			}
			var created struct{ ID string }
			err := c.Do(ctx, http.MethodPost, "/api/v2/authorizations", req, &created)
			var apiErr *testserver.APIError
			switch {
			case err == nil:
				if err := w.op.Do(ctx, http.MethodDelete, "/api/v2/authorizations/"+created.ID, nil, nil); err != nil {
					t.Fatalf("deleting a probe token: %v", err)
				}
				return true
			case errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden):
			default:
				t.Fatalf("creating a token with %s: %v", w.describeToken(tok), err)
			}
		}
	}
	return false
}

func (w *world) creatorForms(tok *worldToken) string {
	var out []string
	for _, p := range tok.Permissions {
		if p.Action == influxdb.WriteAction && (p.Resource.Type == influxdb.AuthorizationsResourceType || p.Resource.Type == influxdb.UsersResourceType) {
			f := w.form(p, tok)
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
