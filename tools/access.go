package tools

import (
	"cmp"
	"slices"
	"strings"

	"github.com/tokenaudit/influx-token-mcp/influx"
)

// instanceType is the resource type InfluxDB treats as "everything": a
// permission on it grants its action on every resource of every type
// (Permission.Matches in influxdb v2 authz.go).
const instanceType = "instance"

// probe is a permission InfluxDB's authorizers build to check one request,
// with "" where InfluxDB leaves the org or the id nil.
type probe struct {
	Action, Type, ID, OrgID string
}

// matches decides whether permission p allows probe pr exactly as
// InfluxDB v2's Permission.Matches does: the actions agree, and p is on
// type instance, or on pr's type and either has neither org nor id, or has
// an org and no id and pr is in that org, or has an id equal to pr's. A
// permission with an id is not checked against its org: its org is the org
// of the token that holds it, and its id may name another org's resource.
func matches(p influx.Permission, pr probe) bool {
	r := p.Resource
	switch {
	case p.Action != pr.Action:
		return false
	case r.Type == instanceType:
		return true
	case r.Type != pr.Type:
		return false
	case r.OrgID == "" && r.ID == "":
		return true
	case r.ID == "":
		return pr.OrgID != "" && r.OrgID == pr.OrgID
	default:
		return pr.ID != "" && r.ID == pr.ID
	}
}

// unknown stands for an id or org this server could not learn: no
// permission names it, so only permissions on every org (or on instance)
// match a probe that carries it.
const unknown = "?"

// target is one concrete resource an access query is about, with the
// probes InfluxDB checks before it allows an action on it: every probe
// must be allowed by some permission.
type target struct {
	ID     string
	OrgID  string // "" or unknown when not known, "" for users and orgs, which have none
	System bool   // a system bucket (_monitoring, _tasks)
	// MaybeSystem: a bucket whose type could not be read; reading it is
	// counted only where it would be allowed either way.
	MaybeSystem bool
	UserID      string // for a token: its owner, or unknown
}

// probes are the checks InfluxDB v2.8.0's authorizers make for action on t:
//   - buckets: AuthorizeRead/AuthorizeWrite with the bucket's id and org,
//     except that reading a system bucket is reading its org
//     (AuthorizeReadBucket);
//   - orgs and users: the id alone, no org (AuthorizeReadOrg,
//     AuthorizeReadResource);
//   - authorizations: the token's id and org, and the same action on its
//     owner by id alone (AuthorizationService.FindAuthorizationByID,
//     UpdateAuthorization, DeleteAuthorization);
//   - any other type: the id and the org.
func (t target) probes(action, typ string) []probe {
	switch {
	case typ == "buckets" && t.System && action == "read":
		return []probe{{action, "orgs", cmp.Or(t.OrgID, unknown), ""}}
	case typ == "buckets" && t.MaybeSystem && action == "read":
		return []probe{{action, typ, t.ID, t.OrgID}, {action, "orgs", cmp.Or(t.OrgID, unknown), ""}}
	case typ == "orgs" || typ == "users":
		return []probe{{action, typ, t.ID, ""}}
	case typ == "authorizations" && t.UserID != "":
		return []probe{{action, typ, t.ID, t.OrgID}, {action, "users", t.UserID, ""}}
	}
	return []probe{{action, typ, t.ID, t.OrgID}}
}

// accessQuery asks "does this token grant action on this resource (or on
// this resource type)?", the way InfluxDB decides it.
type accessQuery struct {
	Action string // "read", "write", or "" for either
	Type   string
	ID     string // the resource asked for by ID, or ""
	Name   string // the resource asked for by name, or ""

	// Targets are the resources ID or Name stand for, with their orgs, as
	// InfluxDB's APIs showed them before the token list was read.
	Targets []target
	// unseen are ids of Type that permissions resolve to Name but that are
	// not among Targets: org-wide grants could not be counted for them.
	unseen []string
}

// specific reports whether the query is about one named or ID'd resource
// rather than the whole type.
func (q *accessQuery) specific() bool { return q.ID != "" || q.Name != "" }

func (q *accessQuery) actions() []string {
	if q.Action != "" {
		return []string{q.Action}
	}
	return []string{"read", "write"}
}

// grantedBy reports whether a's permissions allow the query's action (or,
// without one, read or write) on the resource or type asked about.
func (q *accessQuery) grantedBy(a *influx.Authorization) bool {
	return len(q.grantingPermissions(a)) > 0
}

// grantingPermissions returns the permissions of a that allow the access
// asked about, nil for none.
func (q *accessQuery) grantingPermissions(a *influx.Authorization) []influx.Permission {
	var out []influx.Permission
	for _, action := range q.actions() {
		if !q.specific() {
			out = appendNew(out, typeGrants(a.Permissions, action, q.Type)...)
			continue
		}
		targets := q.Targets
		if q.Name != "" {
			// A permission whose id InfluxDB resolves to Name names such a
			// resource too, even one the APIs did not show.
			for _, p := range a.Permissions {
				if p.Resource.Type == q.Type && p.Resource.ID != "" && p.Resource.Name == q.Name && !slices.ContainsFunc(targets, func(t target) bool { return t.ID == p.Resource.ID }) {
					// InfluxDB allows "_" to start only a system bucket's name.
					system := q.Type == "buckets" && strings.HasPrefix(q.Name, "_")
					targets = append(targets, target{ID: p.Resource.ID, OrgID: unknown, System: system})
					q.noteUnseen(p.Resource.ID)
				}
			}
		}
		for _, t := range targets {
			if t.MaybeSystem {
				t = t.namedBy(a.Permissions)
			}
			out = appendNew(out, allowingAll(a.Permissions, t.probes(action, q.Type))...)
		}
	}
	return out
}

// typeGrants returns the permissions of ps that let InfluxDB allow action
// on some resource of type typ, nil for none: some request its authorizers
// check for that type, on some resource of some org, passes.
//   - users and orgs are checked by id alone (or with neither id nor org,
//     to list or create them): a permission scoped to an org without id
//     reaches none.
//   - reading buckets includes reading an org's system buckets, which is
//     reading the org: read on every org, or on an org that exists (one
//     InfluxDB names in the permission).
//   - every request on tokens also needs the same action on a user (the
//     owner, or the new token's user).
//   - any other permission on the type reaches something: its own org,
//     every org, or the resource it names.
func typeGrants(ps []influx.Permission, action, typ string) []influx.Permission {
	var onType, onUsers []influx.Permission
	for _, p := range ps {
		r := p.Resource
		if p.Action != action {
			continue
		}
		switch {
		case r.Type == instanceType:
			onType, onUsers = append(onType, p), append(onUsers, p)
		case r.Type == typ && (typ == "users" || typ == "orgs"):
			if r.OrgID == "" || r.ID != "" {
				onType = append(onType, p)
			}
		case r.Type == typ:
			onType = append(onType, p)
		case typ == "buckets" && action == "read" && r.Type == "orgs" && (r.OrgID == "" && r.ID == "" || r.ID != "" && r.Name != ""):
			onType = append(onType, p)
		}
		if typ == "authorizations" && r.Type == "users" && (r.OrgID == "" || r.ID != "") {
			onUsers = append(onUsers, p)
		}
	}
	if typ != "authorizations" {
		return onType
	}
	if len(onType) == 0 || len(onUsers) == 0 {
		return nil
	}
	return appendNew(onType, onUsers...)
}

// namedBy settles whether a bucket of unknown type is a system bucket from
// the name InfluxDB gives it in a permission naming its id: only a system
// bucket's name may start with "_".
func (t target) namedBy(ps []influx.Permission) target {
	for _, p := range ps {
		if r := p.Resource; r.Type == "buckets" && r.ID == t.ID && r.Name != "" {
			t.MaybeSystem, t.System = false, strings.HasPrefix(r.Name, "_")
			return t
		}
	}
	return t
}

// allowingAll returns, when every probe is allowed by some permission, the
// permissions that allow them; nil otherwise.
func allowingAll(perms []influx.Permission, probes []probe) []influx.Permission {
	var out []influx.Permission
	for _, pr := range probes {
		found := false
		for _, p := range perms {
			if matches(p, pr) {
				found = true
				out = appendNew(out, p)
			}
		}
		if !found {
			return nil
		}
	}
	return out
}

// appendNew appends to out the permissions of ps it does not hold yet.
func appendNew(out []influx.Permission, ps ...influx.Permission) []influx.Permission {
	for _, p := range ps {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func (q *accessQuery) noteUnseen(id string) {
	if !slices.Contains(q.unseen, id) {
		q.unseen = append(q.unseen, id)
	}
}
