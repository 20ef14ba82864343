package tools

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tokenaudit/influx-token-mcp/influx"
)

// Every string InfluxDB sends is untrusted: anyone who may create a bucket
// names it, and a name with a newline, a bidi override or an ANSI escape
// could forge or hide lines in the text a model reads. Such strings enter
// text only through quoted or plain below, and error texts through
// escapeLine. Structured content keeps the exact values, clipped by the
// decoder at influx.MaxField.

const (
	// maxTextField is how much of one upstream value the text shows.
	maxTextField = 200
	// maxText bounds the text block of any answer.
	maxText = 64 << 10
	// maxStructured bounds the structured content of any answer.
	maxStructured = 1 << 20
	// maxErrorText bounds a tool error built around upstream text.
	maxErrorText = 1500
)

// quoted is an upstream value as a Go string literal: quotes around it, and
// every control, format (bidi, zero-width), separator and invalid byte
// written as a visible escape such as \n, \x1b or \u202e. It is clipped
// first.
func quoted(s string) string {
	return strconv.Quote(influx.ClipTo(s, maxTextField))
}

// plain is an upstream name or ID as is when it holds nothing but ASCII
// letters, digits and ._- (which cannot fake the text's structure: spaces,
// @, :, /, commas and quotes are what the text is built with), else quoted.
func plain(s string) string {
	if s == "" || len(s) > maxTextField {
		return quoted(s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return quoted(s)
		}
	}
	return s
}

// plainOr is plain(first non-empty of values), or fallback when all are
// empty; fallback is this server's own text.
func plainOr(fallback string, values ...string) string {
	if v := cmp.Or(values...); v != "" {
		return plain(v)
	}
	return fallback
}

// escapeLine makes text that holds upstream parts (an error message) one
// line of visible characters: what quoted escapes is escaped the same way,
// quotes and backslashes are left as they are. It is clipped first.
func escapeLine(s string) string {
	s = influx.ClipTo(s, maxErrorText)
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRune(r) // '\n', '\x1b', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}

// permissionText is permissionString for text: every part from InfluxDB
// through plain, so that a bucket named "x, write:/authorizations" cannot
// pass for a second permission.
func permissionText(p influx.Permission) string {
	r := p.Resource
	var b strings.Builder
	b.WriteString(plain(p.Action))
	b.WriteByte(':')
	if r.OrgID != "" {
		b.WriteString("orgs/")
		b.WriteString(plainOr("", r.Org, r.OrgID))
		b.WriteByte('/')
	} else {
		b.WriteByte('/')
	}
	b.WriteString(plain(r.Type))
	if r.ID != "" {
		b.WriteByte('/')
		b.WriteString(plainOr("", r.Name, r.ID))
	}
	return b.String()
}

// permissionsText are t's permissions for text: from newToken, each made
// by permissionText; for a Token built otherwise, each whole permission
// string that is not plain is quoted.
func permissionsText(t *Token) []string {
	if t.permsText != nil || t.Permissions == nil {
		return t.permsText
	}
	return permStringsText(t.Permissions)
}

// permStringsText is permission strings (permissionString) for text: each
// one that holds more than plain parts and the : / + between them is
// quoted whole.
func permStringsText(perms []string) []string {
	out := make([]string, len(perms))
	for i, p := range perms {
		out[i] = p
		if strings.ContainsFunc(p, func(r rune) bool { return !strings.ContainsRune(":/+", r) && plain(string(r)) != string(r) }) {
			out[i] = quoted(p)
		}
	}
	return out
}

const clippedNote = "Values ending in " + influx.Clipped + " are cut short: InfluxDB sent longer ones (the text shows " +
	"200 bytes of a value, structured content 4 KiB)."

// finishText bounds an answer's text block: values clipped in it are
// explained, and text past maxText is cut at a line end with a note. The
// closing "Note:" and "More:" lines are kept whole: they say what the
// answer leaves out. (No upstream value can start a line: they are escaped.)
func finishText(text string) string {
	if strings.Contains(text, influx.Clipped) && !strings.Contains(text, clippedNote) {
		text += "\nNote: " + clippedNote
	}
	if len(text) <= maxText {
		return text
	}
	body, trailer := text, ""
	for {
		i := strings.LastIndexByte(body, '\n')
		if i < 0 {
			break
		}
		if last := body[i+1:]; !strings.HasPrefix(last, "Note: ") && !strings.HasPrefix(last, "More: ") {
			break
		}
		body, trailer = body[:i], body[i:]+trailer
	}
	trailer = influx.ClipTo(trailer, maxText/4)
	const cutNote = "\n[Text cut at 64 KiB. The structured content holds the whole answer; or call again with a smaller limit.]"
	cut := body[:maxText-len(cutNote)-len(trailer)]
	if i := strings.LastIndexByte(cut, '\n'); i > 0 {
		cut = cut[:i]
	} else {
		cut = strings.ToValidUTF8(cut, "")
	}
	return cut + cutNote + trailer
}

// hasClipped reports whether the decoder clipped any value of tokens.
func hasClipped(tokens []Token) bool {
	for i := range tokens {
		t := &tokens[i]
		for _, s := range [...]string{t.Description, t.User, t.Org, t.Status, t.ID, t.UserID, t.OrgID} {
			if strings.HasSuffix(s, influx.Clipped) {
				return true
			}
		}
		for _, p := range t.Permissions {
			if strings.Contains(p, influx.Clipped) {
				return true
			}
		}
	}
	return false
}

// fitList keeps r's structured content within maxStructured: a page whose
// tokens would not fit is cut short, and its continuation is the next
// call's offset, so paging still sees every token. A single token too large
// on its own loses permissions from its end, said in a note.
func fitList(r *ListTokensResult) {
	if hasClipped(r.Tokens) {
		r.Notes = append(r.Notes, clippedNote)
	}
	base := jsonSize(ListTokensResult{Summary: r.Summary, Notes: r.Notes})
	budget := maxStructured - base - 4<<10 // room for the notes added here
	bound := 0
	for i := range r.Tokens {
		bound += maxJSONSize(&r.Tokens[i])
	}
	if bound <= budget {
		return // the usual case, known without encoding
	}
	used := 0
	for i := range r.Tokens {
		size := jsonSize(r.Tokens[i]) + 1
		if used+size <= budget {
			used += size
			continue
		}
		if i == 0 {
			dropped := shrinkPermissions(&r.Tokens[0], budget)
			r.Notes = append(r.Notes, fmt.Sprintf("Token %s has more permissions than fit in one answer: the last %d are left out here; get_token shows them in its structured content if they fit there.", plain(r.Tokens[0].ID), dropped))
			i = 1
		}
		r.Notes = append(r.Notes, fmt.Sprintf("The page was cut to %d tokens to keep the answer under 1 MiB (InfluxDB sent very long values); call again with offset=%d for the rest.", i, r.Offset+i))
		clear(r.Tokens[i:])
		r.Tokens = r.Tokens[:i]
		r.Count = i
		r.Truncated = r.Offset+r.Count < r.Total
		return
	}
}

// fitDetail keeps a get_token answer within maxStructured, dropping
// permissions from the end if it must; it returns a note, or "".
func fitDetail(d *TokenDetail) string {
	budget := maxStructured - 4<<10
	if jsonSize(d) <= budget {
		return ""
	}
	n := len(d.PermissionDetails)
	for n > 0 && jsonSize(d) > budget {
		n = n * 9 / 10
		d.PermissionDetails = d.PermissionDetails[:n]
		d.Permissions = d.Permissions[:n]
	}
	return fmt.Sprintf("This token has more permissions than fit in one answer (1 MiB): the structured content holds only the first %d.", n)
}

// shrinkPermissions drops permissions from the end of t until it fits in
// budget bytes of JSON, and says how many went.
func shrinkPermissions(t *Token, budget int) int {
	all := len(t.Permissions)
	for len(t.Permissions) > 0 && jsonSize(*t) > budget {
		t.Permissions = t.Permissions[:len(t.Permissions)*9/10]
		for i := range t.RiskReasons { // each lists some of the permissions
			rr := &t.RiskReasons[i]
			rr.Permissions = rr.Permissions[:min(len(rr.Permissions), len(t.Permissions))]
		}
	}
	return all - len(t.Permissions)
}

// maxJSONSize is at least the size of t as JSON: each byte of a string
// takes at most 6 (\u00XX), and the field names and punctuation less than
// 256 bytes, 32 more per risk reason, or 8 more per list element.
func maxJSONSize(t *Token) int {
	n := 256
	for _, s := range [...]string{t.ID, t.Description, t.Status, t.User, t.UserID, t.Org, t.OrgID, t.CreatedAt, t.UpdatedAt} {
		n += 6 * len(s)
	}
	lists := [][]string{t.Permissions, t.Risks}
	for _, rr := range t.RiskReasons {
		n += 32 + 6*len(rr.Risk)
		lists = append(lists, rr.Permissions)
	}
	for _, list := range lists {
		for _, s := range list {
			n += 6*len(s) + 8
		}
	}
	return n
}

func jsonSize(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(b)
}

// clip keeps echoed arguments short: a model may send megabytes.
func clip(s string) string { return clipN(s, 64) }

// clipN cuts s to at most n bytes, without splitting a character.
func clipN(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
