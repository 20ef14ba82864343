package testserver

// Allows reports whether p grants action on the resource of type typ with
// the given ID in the given org, by InfluxDB OSS v2's matching rules: the
// action and type must be equal (the "instance" type matches everything);
// a permission without org and ID covers every resource of its type, one
// with an org but no ID every resource of its type in that org, one with an
// ID that resource.
func (p Permission) Allows(action, typ, id, orgID string) bool {
	if p.Action != action {
		return false
	}
	if p.Type == "instance" {
		return true
	}
	switch {
	case p.Type != typ:
		return false
	case p.OrgID == "" && p.ID == "":
		return true
	case p.ID == "":
		return orgID != "" && p.OrgID == orgID
	default:
		return id != "" && p.ID == id
	}
}

// allows reports whether any of ps allows the access.
func allows(ps []Permission, action, typ, id, orgID string) bool {
	for _, p := range ps {
		if p.Allows(action, typ, id, orgID) {
			return true
		}
	}
	return false
}

// CanRead reports whether the caller token may read token t: the caller is
// active and holds read:authorizations covering t and read:users covering
// t's owner. This is the check behind GET /api/v2/authorizations/{id} (401
// when it fails) and behind the silent filtering of lists.
func CanRead(caller, t Token) bool {
	return caller.Status == "active" &&
		allows(caller.Permissions, "read", "authorizations", t.ID, t.OrgID) &&
		allows(caller.Permissions, "read", "users", t.UserID, "")
}

// VisibleTo returns the names (sorted) of the token fixtures that an
// unfiltered GET /api/v2/authorizations made with the named fixture token
// returns, as predicted by CanRead.
func (f *Fixtures) VisibleTo(caller string) []string {
	c := f.Token(caller)
	return f.Filter(func(t Token) bool { return CanRead(c, t) })
}
