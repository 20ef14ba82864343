package tools

import (
	"cmp"
	"slices"
)

// topGroups is how many orgs and users the summary names; the rest are
// counted together.
const topGroups = 10

// Summary counts every match of a list_tokens call, before limit and offset.
type Summary struct {
	Active     int          `json:"active"`
	Inactive   int          `json:"inactive"`
	Risks      RiskCounts   `json:"risks"`
	Orgs       []GroupCount `json:"orgs" jsonschema:"the ten orgs with most matching tokens"`
	OtherOrgs  Rest         `json:"otherOrgs" jsonschema:"the orgs beyond those ten"`
	Users      []GroupCount `json:"users" jsonschema:"the ten users with most matching tokens"`
	OtherUsers Rest         `json:"otherUsers" jsonschema:"the users beyond those ten"`
}

// RiskCounts has one count per risk flag.
type RiskCounts struct {
	InstanceWide    int `json:"instance-wide"`
	CanCreateTokens int `json:"can-create-tokens"`
	Dangling        int `json:"dangling"`
	Inactive        int `json:"inactive"`
	NoDescription   int `json:"no-description"`
}

// GroupCount is how many matching tokens one org or user has.
type GroupCount struct {
	Name   string `json:"name"`
	ID     string `json:"id"`
	Tokens int    `json:"tokens"`
}

// Rest counts the groups left out of a top-ten list and their tokens.
type Rest struct {
	Groups int `json:"groups"`
	Tokens int `json:"tokens"`
}

// tally counts matches one at a time, so that list_tokens need not keep
// them; its zero value is ready to use.
type tally struct {
	s           Summary
	orgs, users map[string]*GroupCount
}

func (t *tally) add(m match) {
	if t.orgs == nil {
		t.orgs, t.users = map[string]*GroupCount{}, map[string]*GroupCount{}
	}
	s := &t.s
	if m.auth.Status == "inactive" {
		s.Inactive++
	} else {
		s.Active++
	}
	for _, r := range m.risks {
		switch r {
		case riskInstanceWide:
			s.Risks.InstanceWide++
		case riskCanCreateTokens:
			s.Risks.CanCreateTokens++
		case riskDangling:
			s.Risks.Dangling++
		case riskInactive:
			s.Risks.Inactive++
		case riskNoDescription:
			s.Risks.NoDescription++
		}
	}
	count(t.orgs, m.auth.OrgID, m.auth.Org)
	count(t.users, m.auth.UserID, m.auth.User)
}

func (t *tally) summary() Summary {
	s := t.s
	s.Orgs, s.OtherOrgs = top(t.orgs)
	s.Users, s.OtherUsers = top(t.users)
	return s
}

func count(groups map[string]*GroupCount, id, name string) {
	g := groups[id]
	if g == nil {
		g = &GroupCount{ID: id, Name: name}
		groups[id] = g
	}
	g.Tokens++
}

// top returns the largest groups, most tokens first (ties by name, then ID,
// so the answer is stable), and what is left over.
func top(groups map[string]*GroupCount) ([]GroupCount, Rest) {
	all := make([]GroupCount, 0, len(groups))
	for _, g := range groups {
		all = append(all, *g)
	}
	slices.SortFunc(all, func(a, b GroupCount) int {
		return cmp.Or(cmp.Compare(b.Tokens, a.Tokens), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	if len(all) <= topGroups {
		return all, Rest{}
	}
	var rest Rest
	for _, g := range all[topGroups:] {
		rest.Groups++
		rest.Tokens += g.Tokens
	}
	return all[:topGroups], rest
}
