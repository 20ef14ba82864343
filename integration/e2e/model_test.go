package e2e

import (
	"cmp"
	"slices"
	"strings"
	"testing"
	"time"

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

// fixtureRisks are the README's risk flags of a fixture, in its order.
func (e *env) fixtureRisks(tok testserver.Token) []string {
	var instanceWide, createsTokens bool
	for _, p := range tok.Permissions {
		if p.Allows(p.Action, p.Type, "", unseenOrg) {
			instanceWide = true
		}
	}
	for _, org := range append(e.orgIDs(), unseenOrg) {
		for _, p := range tok.Permissions {
			if p.Allows("write", "authorizations", "", org) {
				createsTokens = true
			}
		}
	}
	return riskList(instanceWide, createsTokens, tok.Status == "inactive", tok.Description)
}

func (e *env) orgIDs() []string {
	var out []string
	for _, o := range e.fx.Orgs {
		out = append(out, o.ID)
	}
	slices.Sort(out)
	return out
}

// target is a concrete resource an access query is about.
type target struct{ id, orgID string }

// targets are the resources that resourceID or resourceName stand for.
func (e *env) targets(t testing.TB, typ, id, name string) []target {
	t.Helper()
	id = strings.ToLower(id) // InfluxDB IDs are hex; the tools take either case
	var out []target
	switch typ {
	case "buckets":
		for _, b := range e.fx.Buckets {
			if id != "" && b.ID == id || name != "" && b.Name == name && !b.Deleted {
				out = append(out, target{b.ID, b.OrgID})
			}
		}
	case "orgs":
		for _, o := range e.fx.Orgs {
			if id != "" && o.ID == id || name != "" && o.Name == name {
				out = append(out, target{o.ID, o.ID})
			}
		}
	case "users":
		for _, u := range e.fx.Users {
			if id != "" && u.ID == id || name != "" && u.Name == name {
				out = append(out, target{u.ID, ""})
			}
		}
	case "authorizations":
		for _, tok := range e.fx.Tokens {
			if id != "" && tok.ID == id {
				out = append(out, target{tok.ID, tok.OrgID})
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
func grants(tok testserver.Token, action, typ string, specific bool, targets []target) bool {
	actions := []string{"read", "write"}
	if action != "" {
		actions = []string{action}
	}
	for _, p := range tok.Permissions {
		for _, a := range actions {
			if !specific {
				if p.Action == a && (p.Type == typ || p.Type == "instance") {
					return true
				}
				continue
			}
			for _, tg := range targets {
				if p.Allows(a, typ, tg.id, tg.orgID) {
					return true
				}
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
		case "user", "userID", "org", "orgID", "status", "description", "risk", "createdAfter", "createdBefore",
			"action", "resourceType", "resourceID", "resourceName", "limit", "offset":
		default:
			t.Fatalf("model: unknown argument %q", k)
		}
	}
	after, before := timeArg("createdAfter"), timeArg("createdBefore")
	specific := str("resourceID") != "" || str("resourceName") != ""
	var tgts []target
	if specific {
		tgts = e.targets(t, str("resourceType"), str("resourceID"), str("resourceName"))
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
			(str("risk") == "" || slices.Contains(e.fixtureRisks(tok), str("risk"))) &&
			(after.IsZero() || !created.Before(after)) &&
			(before.IsZero() || created.Before(before)) &&
			(str("resourceType") == "" || grants(tok, str("action"), str("resourceType"), specific, tgts))
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
		if f, ok := e.fx.TokenByID(tok.ID); ok && !slices.Equal(tok.Risks, e.fixtureRisks(f)) {
			t.Errorf("token %s: risks %q, want %q", f.Name, tok.Risks, e.fixtureRisks(f))
		}
	}
}
