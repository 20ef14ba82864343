package tools

import (
	"fmt"
	"strconv"
	"strings"
)

// The text block is what a model reads when its client ignores structured
// content, so it is compact: one header line, one summary line, two lines a
// token, with read and write on the same scope folded into "read+write:".

func renderList(r *ListTokensResult, q *listQuery) string {
	var b strings.Builder
	switch {
	case r.Total == 0:
		b.WriteString("No token matches.")
	case r.Count == 0 && q.limit == 0:
		fmt.Fprintf(&b, "%d tokens match (limit 0: counts only).", r.Total)
	case r.Count == 0:
		fmt.Fprintf(&b, "%d tokens match; offset %d is past the end (use offset 0 to %d).", r.Total, r.Offset, r.Total-1)
	default:
		fmt.Fprintf(&b, "Tokens %d-%d of %d matching, oldest first.", r.Offset+1, r.Offset+r.Count, r.Total)
	}
	b.WriteString(" Only tokens the configured token may read are listed.")
	if scope := q.scopeNote(q.settings); scope != "" {
		b.WriteString(" " + scope)
	}
	b.WriteByte('\n')
	if r.Total > 0 {
		writeSummary(&b, &r.Summary)
	}
	for _, t := range r.Tokens {
		writeToken(&b, &t)
	}
	if r.Truncated && r.Count > 0 { // with limit 0 the header already says counts only
		fmt.Fprintf(&b, "More: call again with offset=%d.\n", r.Offset+r.Count)
	}
	for _, n := range r.Notes[1:] { // the first is the visibility note, said above
		if n == q.scopeNote(q.settings) {
			continue // said in the header
		}
		b.WriteString("Note: ")
		b.WriteString(n)
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n")
}

func writeSummary(b *strings.Builder, s *Summary) {
	fmt.Fprintf(b, "Summary: %d active, %d inactive; risks: instance-wide %d, can-create-tokens %d, dangling %d, no-description %d; orgs: ",
		s.Active, s.Inactive, s.Risks.InstanceWide, s.Risks.CanCreateTokens, s.Risks.Dangling, s.Risks.NoDescription)
	writeGroups(b, s.Orgs, s.OtherOrgs)
	b.WriteString("; users: ")
	writeGroups(b, s.Users, s.OtherUsers)
	b.WriteString(".\n")
}

func writeGroups(b *strings.Builder, groups []GroupCount, rest Rest) {
	for i, g := range groups {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(plainOr("?", g.Name, g.ID))
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(g.Tokens))
	}
	if rest.Groups > 0 {
		fmt.Fprintf(b, ", %d more with %d", rest.Groups, rest.Tokens)
	}
}

// writeToken writes
//
//   - 0a1b2c3d4e5f6a7b active alice@acme 2026-03-01T10:00:00Z "telegraf writer" [no-description]
//     write:orgs/acme/buckets/telegraf, read+write:orgs/acme/dashboards
//
// or, for a call that asked about access, the permissions that grant it
// (for an inactive token: once it is reactivated), and for a call that asked about
// a risk flag, the permissions that raise it:
//
//   - 0a1b2c3d4e5f6a7b active admin@acme 2026-03-01T10:00:00Z "all access" [can-create-tokens]
//     grants it: write:orgs/acme/buckets (+42 other permissions)
//   - 0a1b2c3d4e5f6a7c active admin@acme 2026-03-01T10:00:00Z "operator" [instance-wide, can-create-tokens]
//     raises can-create-tokens: write:/authorizations, write:/users (+32 other permissions)
func writeToken(b *strings.Builder, t *Token) {
	// Every value from InfluxDB goes through plain or quoted (untrusted.go).
	fmt.Fprintf(b, "- %s %s %s@%s %s %s", plain(t.ID), plain(t.Status), plainOr("?", t.User, t.UserID), plainOr("?", t.Org, t.OrgID), shortTime(t.CreatedAt), quoted(t.Description))
	if len(t.Risks) > 0 {
		b.WriteString(" [")
		b.WriteString(strings.Join(t.Risks, ", "))
		b.WriteByte(']')
	}
	b.WriteString("\n  ")
	switch {
	case t.grants != nil:
		b.WriteString("grants it: ")
		writeSome(b, t.grants, len(t.Permissions))
		if t.Status == "inactive" {
			b.WriteString("; once reactivated: InfluxDB refuses an inactive token until then")
		}
	case t.raises != "" && len(t.reasonFor(t.raises)) > 0:
		b.WriteString("raises " + t.raises + ": ")
		writeSome(b, permStringsText(t.reasonFor(t.raises)), len(t.Permissions))
	case len(t.Permissions) == 0:
		b.WriteString("(no permissions)")
	default:
		b.WriteString(strings.Join(foldReadWrite(permissionsText(t)), ", "))
	}
	b.WriteByte('\n')
}

// writeSome writes some of a token's permissions, folded, and how many
// others it has.
func writeSome(b *strings.Builder, some []string, all int) {
	b.WriteString(strings.Join(foldReadWrite(some), ", "))
	if more := all - len(some); more > 0 {
		fmt.Fprintf(b, " (+%d other %s)", more, plural(more, "permission", "permissions"))
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// shortTime drops the fraction of a second: the text is for reading.
func shortTime(ts string) string {
	if i := strings.IndexByte(ts, '.'); i > 0 && strings.HasSuffix(ts, "Z") {
		return ts[:i] + "Z"
	}
	return ts
}

// foldReadWrite merges "read:X" and "write:X" into "read+write:X", keeping
// the order of first appearance.
func foldReadWrite(perms []string) []string {
	scopes := make(map[string]string, len(perms)) // scope → actions seen
	order := make([]string, 0, len(perms))
	for _, p := range perms {
		action, scope, _ := strings.Cut(p, ":")
		seen, ok := scopes[scope]
		if !ok {
			order = append(order, scope)
			scopes[scope] = action
			continue
		}
		if !strings.Contains("+"+seen+"+", "+"+action+"+") {
			scopes[scope] = seen + "+" + action
		}
	}
	out := make([]string, len(order))
	for i, scope := range order {
		actions := scopes[scope]
		if actions == "write+read" {
			actions = "read+write"
		}
		out[i] = actions + ":" + scope
	}
	return out
}
