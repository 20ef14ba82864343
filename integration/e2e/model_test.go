package e2e

import (
	"cmp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/influxdb/v2"
	"github.com/influxdata/influxdb/v2/kit/platform"

	"github.com/tokenaudit/influx-token-mcp/integration/testserver"
)

// This file predicts list_tokens' answers from the fixtures alone: which
// tokens the caller may see (testserver.CanRead), and which of those pass
// each filter, with effective access decided by testserver.Permission.Allows
// on the concrete resources the query names. Nothing here reads the tools'
// output.

// unseenOrg is an org ID no fixture uses: a permission that grants on a
// type in this org grants in every org.
const unseenOrg = "0fedcba987654321"

// allowed is InfluxDB's own decision: does the permission set ps allow
// probe, a permission as InfluxDB's authorizers build it ("" for a nil id
// or org)?
func allowed(t testing.TB, ps []testserver.Permission, action, typ, id, orgID string) bool {
	t.Helper()
	set := make(influxdb.PermissionSet, 0, len(ps))
	for _, p := range ps {
		set = append(set, toInflux(t, p.Action, p.Type, p.ID, p.OrgID))
	}
	return set.Allowed(toInflux(t, action, typ, id, orgID))
}

func toInflux(t testing.TB, action, typ, id, orgID string) influxdb.Permission {
	t.Helper()
	p := influxdb.Permission{Action: influxdb.Action(action), Resource: influxdb.Resource{Type: influxdb.ResourceType(typ)}}
	for _, f := range []struct {
		s   string
		dst **platform.ID
	}{{id, &p.Resource.ID}, {orgID, &p.Resource.OrgID}} {
		if f.s == "" {
			continue
		}
		v, err := platform.IDFromString(f.s)
		if err != nil {
			t.Fatalf("model: id %q: %v", f.s, err)
		}
		*f.dst = v
	}
	return p
}

// fixtureRisks are the README's risk flags of a fixture, in its order,
// decided with InfluxDB's own matching wherever it has a say.
func (e *env) fixtureRisks(t testing.TB, tok testserver.Token) []string {
	t.Helper()
	var instanceWide, dangling bool
	for _, p := range tok.Permissions {
		// Instance-wide: on type instance, or on a type in every org, but
		// for reading the user and org directory.
		if p.Type == "instance" || p.OrgID == "" && p.ID == "" && !(p.Action == "read" && (p.Type == "users" || p.Type == "orgs")) {
			instanceWide = true
		}
		if p.Type == "buckets" && p.ID != "" {
			for _, b := range e.fx.Buckets {
				if b.ID == p.ID && b.Deleted {
					dangling = true
				}
			}
		}
	}
	// Can create tokens: CreateAuthorization's checks, write on
	// authorizations in some org and write on some existing user by id.
	var authz, user bool
	for _, org := range append(e.orgIDs(), unseenOrg) {
		authz = authz || allowed(t, tok.Permissions, "write", "authorizations", "", org)
	}
	for _, u := range e.fx.Users {
		user = user || allowed(t, tok.Permissions, "write", "users", u.ID, "")
	}
	return riskList(instanceWide, authz && user, dangling, tok.Status == "inactive", tok.Description)
}

func (e *env) orgIDs() []string {
	var out []string
	for _, o := range e.fx.Orgs {
		out = append(out, o.ID)
	}
	slices.Sort(out)
	return out
}

// probe is one check an InfluxDB authorizer makes.
type probe struct{ typ, id, orgID string }

// target is a concrete resource an access query is about, as the probes
// InfluxDB v2.8.0's authorizers check before an action on it (all must
// pass).
type target struct {
	probes func(action string) []probe
}

// targets are the resources that resourceID or resourceName stand for.
// What the caller may not read, the server cannot place in an org: it
// counts only grants naming the resource and all-org grants then.
func (e *env) targets(t testing.TB, caller, typ, id, name string) []target {
	t.Helper()
	id = strings.ToLower(id) // InfluxDB IDs are hex; the tools take either case
	var out []target
	one := func(p probe) target { return target{func(string) []probe { return []probe{p} }} }
	switch typ {
	case "buckets":
		// A deleted bucket is in no org: InfluxDB answers 404 to anyone.
		for _, b := range e.fx.Buckets {
			switch {
			case id != "" && b.ID == id && b.Deleted:
				out = append(out, one(probe{typ, b.ID, ""}))
			case id != "" && b.ID == id || name != "" && b.Name == name && !b.Deleted:
				org := b.OrgID // AuthorizeRead/WriteBucket (user buckets)
				if !allowed(t, e.fx.Token(caller).Permissions, "read", "buckets", b.ID, b.OrgID) || e.fx.Token(caller).Status != "active" {
					org = ""
				}
				out = append(out, one(probe{typ, b.ID, org}))
			}
		}
	case "orgs":
		for _, o := range e.fx.Orgs {
			if id != "" && o.ID == id || name != "" && o.Name == name {
				out = append(out, one(probe{typ, o.ID, ""})) // AuthorizeReadOrg: the id alone
			}
		}
	case "users":
		for _, u := range e.fx.Users {
			if id != "" && u.ID == id || name != "" && u.Name == name {
				out = append(out, one(probe{typ, u.ID, ""})) // AuthorizeReadResource: the id alone
			}
		}
	case "authorizations":
		// FindAuthorizationByID / UpdateAuthorization: the token in its
		// org, and the same action on its owner by id alone.
		for _, tok := range e.fx.Tokens {
			if id != "" && tok.ID == id && !testserver.CanRead(e.fx.Token(caller), tok) {
				out = append(out, one(probe{typ, tok.ID, ""}))
			} else if id != "" && tok.ID == id {
				out = append(out, target{func(string) []probe {
					return []probe{{typ, tok.ID, tok.OrgID}, {"users", tok.UserID, ""}}
				}})
			}
		}
	default:
		t.Fatalf("model: no resources of type %s", typ)
	}
	return out
}

// grants reports whether tok grants action ("" for read or write) on the
// resource type typ: on the targets when there are any, else on the type
// at all.
func grants(t testing.TB, tok testserver.Token, action, typ string, specific bool, targets []target) bool {
	actions := []string{"read", "write"}
	if action != "" {
		actions = []string{action}
	}
	for _, a := range actions {
		if !specific {
			for _, p := range tok.Permissions {
				if p.Action == a && (p.Type == typ || p.Type == "instance") {
					return true
				}
			}
			continue
		}
		for _, tg := range targets {
			all := true
			for _, pr := range tg.probes(a) {
				all = all && allowed(t, tok.Permissions, a, pr.typ, pr.id, pr.orgID)
			}
			if all {
				return true
			}
		}
	}
	return false
}

// expect returns the IDs of the fixtures list_tokens should return for
// caller and args, in list_tokens' order (oldest first, then by ID),
// before limit and offset.
func (e *env) expect(t testing.TB, caller string, args map[string]any) []string {
	t.Helper()
	str := func(k string) string {
		v, _ := args[k].(string)
		return v
	}
	timeArg := func(k string) time.Time {
		if str(k) == "" {
			return time.Time{}
		}
		ts, err := time.Parse(time.RFC3339Nano, str(k))
		if err != nil {
			t.Fatalf("model: %s: %v", k, err)
		}
		return ts
	}
	for k := range args {
		switch k {
		case "user", "userID", "org", "orgID", "allOrgs", "status", "description", "risk", "createdAfter", "createdBefore",
			"action", "resourceType", "resourceID", "resourceName", "limit", "offset":
		default:
			t.Fatalf("model: unknown argument %q", k)
		}
	}
	after, before := timeArg("createdAfter"), timeArg("createdBefore")
	specific := str("resourceID") != "" || str("resourceName") != ""
	var tgts []target
	if specific {
		tgts = e.targets(t, caller, str("resourceType"), str("resourceID"), str("resourceName"))
	}
	visible := e.fx.VisibleTo(caller)
	var out []string
	for _, name := range visible {
		tok := e.fx.Tokens[name]
		created := e.created[tok.ID]
		keep := (str("user") == "" || tok.User == str("user")) &&
			(str("userID") == "" || strings.EqualFold(tok.UserID, str("userID"))) &&
			(str("org") == "" || tok.Org == str("org")) &&
			(str("orgID") == "" || strings.EqualFold(tok.OrgID, str("orgID"))) &&
			(str("status") == "" || tok.Status == str("status")) &&
			strings.Contains(strings.ToLower(tok.Description), strings.ToLower(str("description"))) &&
			(str("risk") == "" || slices.Contains(e.fixtureRisks(t, tok), str("risk"))) &&
			(after.IsZero() || !created.Before(after)) &&
			(before.IsZero() || created.Before(before)) &&
			(str("resourceType") == "" || grants(t, tok, str("action"), str("resourceType"), specific, tgts))
		if keep {
			out = append(out, tok.ID)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		return cmp.Or(e.created[a].Compare(e.created[b]), strings.Compare(a, b))
	})
	return out
}

// checkList compares a whole (unpaged) list_tokens answer with the model.
func (e *env) checkList(t testing.TB, caller string, args map[string]any, got listOut) {
	t.Helper()
	want := e.expect(t, caller, args)
	if g := ids(got.Tokens); !slices.Equal(g, want) {
		t.Errorf("list_tokens %s as %s:\n got %v\nwant %v", toJSON(args), caller, e.names(g), e.names(want))
	}
	if got.Total != len(want) || got.Count != len(got.Tokens) || got.Offset != 0 || got.Truncated {
		t.Errorf("list_tokens %s as %s: total %d count %d offset %d truncated %v; want total %d, count = len(tokens) %d, offset 0, not truncated",
			toJSON(args), caller, got.Total, got.Count, got.Offset, got.Truncated, len(want), len(got.Tokens))
	}
	for _, tok := range got.Tokens {
		if f, ok := e.fx.TokenByID(tok.ID); ok && !slices.Equal(tok.Risks, e.fixtureRisks(t, f)) {
			t.Errorf("token %s: risks %q, want %q", f.Name, tok.Risks, e.fixtureRisks(t, f))
		}
	}
}
