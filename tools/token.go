package tools

import (
	"cmp"
	"strings"
	"time"

	"github.com/tokenaudit/influx-token-mcp/influx"
)

// Token is one InfluxDB API token as the tools report it. Field names are
// InfluxDB's own. There is deliberately no field for the token value.
type Token struct {
	ID          string       `json:"id" jsonschema:"authorization ID (16 hex digits); pass it to get_token"`
	Description string       `json:"description"`
	Status      string       `json:"status" jsonschema:"active or inactive"`
	User        string       `json:"user"`
	UserID      string       `json:"userID"`
	Org         string       `json:"org"`
	OrgID       string       `json:"orgID"`
	CreatedAt   string       `json:"createdAt"`
	UpdatedAt   string       `json:"updatedAt"`
	Permissions []string     `json:"permissions" jsonschema:"action:scope, e.g. write:orgs/acme/buckets/telegraf (one bucket), read:orgs/acme/buckets (every bucket in acme), read:/authorizations (every org); names where InfluxDB gave them, IDs otherwise"`
	Risks       []string     `json:"risks" jsonschema:"risk flags: instance-wide, can-create-tokens, dangling, inactive, no-description; empty for a narrow token"`
	RiskReasons []RiskReason `json:"riskReasons" jsonschema:"why each risk flag is set: the permissions that raise it"`

	// grants, when not nil, are the permissions that grant the access a
	// list_tokens call asked about: the text block shows those instead of
	// every permission (structured content always has them all).
	grants []string
	// permsText are the permissions as the text shows them (permissionText).
	permsText []string
	// raises, when not "", is the risk flag a list_tokens call asked
	// about: the text block shows the permissions that raise it.
	raises string
}

func newToken(a *influx.Authorization, risks []string, reasons []RiskReason) Token {
	t := Token{
		ID:          a.ID,
		Description: a.Description,
		Status:      a.Status,
		User:        a.User,
		UserID:      a.UserID,
		Org:         a.Org,
		OrgID:       a.OrgID,
		CreatedAt:   formatTime(a.CreatedAt),
		UpdatedAt:   formatTime(a.UpdatedAt),
		Permissions: make([]string, len(a.Permissions)),
		Risks:       risks,
		permsText:   make([]string, len(a.Permissions)),
		RiskReasons: reasons,
	}
	for i, p := range a.Permissions {
		t.Permissions[i] = permissionString(p)
		t.permsText[i] = permissionText(p)
	}
	return t
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// permissionString renders a permission the way `influx auth list` does,
// with names in place of IDs where InfluxDB resolved them:
//
//	write:orgs/acme/buckets/telegraf   one bucket
//	read:orgs/acme/buckets             every bucket in org acme
//	read:/users/alice                  one resource outside any org
//	read:/authorizations               every token in every org
func permissionString(p influx.Permission) string {
	r := p.Resource
	var b strings.Builder
	b.WriteString(p.Action)
	b.WriteByte(':')
	if r.OrgID != "" {
		b.WriteString("orgs/")
		b.WriteString(cmp.Or(r.Org, r.OrgID))
		b.WriteByte('/')
	} else {
		b.WriteByte('/')
	}
	b.WriteString(r.Type)
	if r.ID != "" {
		b.WriteByte('/')
		b.WriteString(cmp.Or(r.Name, r.ID))
	}
	return b.String()
}

// reasonFor returns the permissions that raise risk on t.
func (t *Token) reasonFor(risk string) []string {
	for _, r := range t.RiskReasons {
		if r.Risk == risk {
			return r.Permissions
		}
	}
	return nil
}
