package tools

import (
	"strings"

	"github.com/tokenaudit/influx-token-mcp/influx"
)

// Risk flags. The README defines each; keep the two in step.
const (
	riskInstanceWide    = "instance-wide"     // a permission with neither orgID nor id, or on type instance: reaches every org
	riskCanCreateTokens = "can-create-tokens" // write on authorizations without id, or write on instance: can mint new tokens
	riskInactive        = "inactive"          // status inactive
	riskNoDescription   = "no-description"    // description empty or blank
)

var riskFlags = []string{riskInstanceWide, riskCanCreateTokens, riskInactive, riskNoDescription}

// risksOf returns a's risk flags in the order of riskFlags; never nil.
func risksOf(a *influx.Authorization) []string {
	var instanceWide, createsTokens bool
	for _, p := range a.Permissions {
		r := p.Resource
		if r.OrgID == "" && r.ID == "" || r.Type == instanceType {
			instanceWide = true
		}
		if p.Action == "write" && (r.Type == "authorizations" && r.ID == "" || r.Type == instanceType) {
			createsTokens = true
		}
	}
	risks := []string{}
	if instanceWide {
		risks = append(risks, riskInstanceWide)
	}
	if createsTokens {
		risks = append(risks, riskCanCreateTokens)
	}
	if a.Status == "inactive" {
		risks = append(risks, riskInactive)
	}
	if strings.TrimSpace(a.Description) == "" {
		risks = append(risks, riskNoDescription)
	}
	return risks
}

// instanceType is the resource type InfluxDB treats as "everything": a
// permission on it grants its action on every resource of every type
// (Permission.Matches in influxdb v2 authz.go).
const instanceType = "instance"

// resource is one concrete resource an access query is about, with the org
// it lives in ("" when unknown).
type resource struct {
	ID    string
	OrgID string
}

// accessQuery asks "does this token grant action on this resource (or on
// this resource type)?", the way InfluxDB decides it: a permission matches
// when the action agrees and it is on type instance, or when the type agrees
// too and it is instance-wide (no orgID, no id), type-wide in the resource's
// org (orgID, no id), or names the resource's id.
type accessQuery struct {
	Action string // "read", "write", or "" for either
	Type   string
	ID     string // the resource asked for by ID, or ""
	Name   string // the resource asked for by name, or ""

	// Targets are the resources ID or Name stand for, with their orgs, as
	// resolved from permissions and from InfluxDB's buckets and orgs APIs.
	Targets []resource
}

// specific reports whether the query is about one named or ID'd resource
// rather than the whole type.
func (q *accessQuery) specific() bool { return q.ID != "" || q.Name != "" }

func (q *accessQuery) grantedBy(a *influx.Authorization) bool {
	for _, p := range a.Permissions {
		if q.grants(p) {
			return true
		}
	}
	return false
}

func (q *accessQuery) grants(p influx.Permission) bool {
	if q.Action != "" && p.Action != q.Action {
		return false
	}
	if p.Resource.Type == instanceType {
		return true
	}
	if p.Resource.Type != q.Type {
		return false
	}
	if !q.specific() {
		return true
	}
	r := p.Resource
	if r.ID == "" && r.OrgID == "" {
		return true // instance-wide
	}
	if r.ID != "" {
		if r.ID == q.ID || (q.Name != "" && r.Name == q.Name) {
			return true
		}
		for _, t := range q.Targets {
			if r.ID == t.ID {
				return true
			}
		}
		return false
	}
	for _, t := range q.Targets { // type-wide in one org
		if t.OrgID != "" && r.OrgID == t.OrgID {
			return true
		}
	}
	return false
}

// learn records what a permission tells about the resource asked for: a
// permission on that resource carries its org.
func (q *accessQuery) learn(p influx.Permission) {
	r := p.Resource
	if r.Type != q.Type || r.ID == "" || r.OrgID == "" {
		return
	}
	if r.ID == q.ID || (q.Name != "" && r.Name == q.Name) {
		q.addTarget(resource{ID: r.ID, OrgID: r.OrgID})
	}
}

func (q *accessQuery) addTarget(t resource) {
	for i, have := range q.Targets {
		if have.ID == t.ID {
			if have.OrgID == "" {
				q.Targets[i].OrgID = t.OrgID
			}
			return
		}
	}
	q.Targets = append(q.Targets, t)
}

// resolved reports whether the org of the resource asked for is known, so
// that type-wide permissions in that org could be counted.
func (q *accessQuery) resolved() bool {
	for _, t := range q.Targets {
		if t.OrgID != "" {
			return true
		}
	}
	return false
}
