package tools

import (
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

// target is one concrete resource an access query is about, with the
// probes InfluxDB checks before it allows an action on it: every probe
// must be allowed by some permission.
type target struct {
	ID     string
	OrgID  string // "" when unknown, or for users and orgs, which have none
	System bool   // a system bucket (_monitoring, _tasks)
	UserID string // for a token: its owner
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
		return []probe{{action, "orgs", t.OrgID, ""}}
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
	add := func(ps ...influx.Permission) {
		for _, p := range ps {
			if !containsPermission(out, p) {
				out = append(out, p)
			}
		}
	}
	for _, action := range q.actions() {
		if !q.specific() {
			// The whole type: any permission on it, or on instance.
			for _, p := range a.Permissions {
				if p.Action == action && (p.Resource.Type == q.Type || p.Resource.Type == instanceType) {
					add(p)
				}
			}
			continue
		}
		targets := q.Targets
		if q.Name != "" {
			// A permission whose id InfluxDB resolves to Name names such a
			// resource too, even one the APIs did not show.
			for _, p := range a.Permissions {
				if p.Resource.Type == q.Type && p.Resource.ID != "" && p.Resource.Name == q.Name && !hasTarget(targets, p.Resource.ID) {
					targets = append(targets, target{ID: p.Resource.ID})
					q.noteUnseen(p.Resource.ID)
				}
			}
		}
		for _, t := range targets {
			if ps := allowingAll(a.Permissions, t.probes(action, q.Type)); ps != nil {
				add(ps...)
			}
		}
	}
	return out
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
				if !containsPermission(out, p) {
					out = append(out, p)
				}
			}
		}
		if !found {
			return nil
		}
	}
	return out
}

func containsPermission(ps []influx.Permission, p influx.Permission) bool {
	for _, have := range ps {
		if have == p {
			return true
		}
	}
	return false
}

func hasTarget(ts []target, id string) bool {
	for _, t := range ts {
		if t.ID == id {
			return true
		}
	}
	return false
}

func (q *accessQuery) noteUnseen(id string) {
	for _, have := range q.unseen {
		if have == id {
			return
		}
	}
	q.unseen = append(q.unseen, id)
}
