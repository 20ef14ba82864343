package influx

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Everything InfluxDB sends is untrusted input to a security tool: this file
// holds what keeps it in bounds before it reaches the tools.

// MaxField is the longest string value, in bytes, that the decoder keeps:
// longer names and descriptions are clipped to it and end in Clipped. It
// bounds the memory a kept token costs, whatever the upstream sends.
const MaxField = 4 << 10

// Clipped ends every value cut short, in structured content and in text.
const Clipped = "…[clipped]"

// ClipField cuts s to at most MaxField bytes (not splitting a character) and
// marks it. The result is a fresh string, so that a clipped value does not
// keep a long one alive.
func ClipField(s string) string { return ClipTo(s, MaxField) }

// ClipTo cuts s to at most n bytes plus the Clipped mark.
func ClipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + Clipped // a new string: s is not kept alive
}

// clipStrings applies ClipField to every string of a decoded value, as the
// decoder hands it over.
func clipStrings(v any) {
	clip := func(ss ...*string) {
		for _, s := range ss {
			*s = ClipField(*s)
		}
	}
	switch v := v.(type) {
	case *Authorization:
		clip(&v.ID, &v.Description, &v.Status, &v.OrgID, &v.Org, &v.UserID, &v.User)
		for i := range v.Permissions {
			p := &v.Permissions[i]
			clip(&p.Action, &p.Resource.Type, &p.Resource.ID, &p.Resource.Name, &p.Resource.OrgID, &p.Resource.Org)
		}
	case *Bucket:
		clip(&v.ID, &v.Name, &v.OrgID, &v.Type)
	case *Organization:
		clip(&v.ID, &v.Name)
	case *User:
		clip(&v.ID, &v.Name)
	}
}

// MaxRedirects is how many redirects within INFLUX_HOST's origin one request
// follows; a server that moved its API once or twice is fine, a chain is not.
const MaxRedirects = 3

// RedirectError is a redirect the client refused to follow: to another
// origin, where the token must not go, or one too many.
type RedirectError struct {
	StatusCode int
	To         string // the target's origin, scheme://host[:port], never its path or query
	TooMany    bool   // the redirect stayed in the origin but the chain was too long
}

func (e *RedirectError) Error() string {
	if e.TooMany {
		return fmt.Sprintf("stopped after %d redirects within the same origin (last %d to %s)", MaxRedirects, e.StatusCode, e.To)
	}
	return fmt.Sprintf("refused to follow a %d redirect to another origin, %s", e.StatusCode, e.To)
}

// checkRedirect is the http.Client's redirect policy. Go strips the
// Authorization header only when the host name changes, so a redirect to
// another port, or from https to http, would carry the token along: every
// redirect that leaves base's scheme, host and port is refused.
func checkRedirect(base *url.URL) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		status := 0
		if req.Response != nil {
			status = req.Response.StatusCode
		}
		if originOf(req.URL) != originOf(base) {
			return &RedirectError{StatusCode: status, To: originOf(req.URL)}
		}
		if len(via) > MaxRedirects {
			return &RedirectError{StatusCode: status, To: originOf(req.URL), TooMany: true}
		}
		return nil
	}
}

// originOf is scheme://host:port of u, with the port the scheme implies when u
// has none, lower case as URLs compare.
func originOf(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + ":" + port
}

// maxDetail bounds the text of a transport error passed on to the tools.
const maxDetail = 1000

// transportDetail is what a tool error may say about a failed request: the
// innermost error (without url.Error's method and URL), its certificate
// reason for a TLS failure. Malformed answers put the server's bytes into
// these messages (a Location, a status or header line, which a hostile
// server can fill with the token it was sent), so the text is scrubbed and
// clipped here, where the token is known.
func (c *Client) transportDetail(err error) string {
	var msg string
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		msg = certErr.Err.Error()
	} else {
		msg = innermost(err).Error()
	}
	return c.upstreamText(msg, maxDetail)
}

// innermost drops the wrappers (url.Error's method and URL, net.OpError's
// addresses) to keep the message short.
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// scrubFields removes the configured token from every string of a: a server
// that was sent the token can put it into a name or description, and from
// there it would reach the model. Most fields are shorter than any form of
// a real token and cost one comparison; a token under 12 characters, which
// only a test uses, cannot be told from words and is left alone.
func (c *Client) scrubFields(a *Authorization) {
	if len(c.token) < 12 {
		return
	}
	scrub := func(s *string) {
		if len(*s) >= len(c.token)*3/4 { // the shortest form, base64's core, is about that long
			*s = c.scrub(*s)
		}
	}
	for _, s := range []*string{&a.ID, &a.Description, &a.Status, &a.OrgID, &a.Org, &a.UserID, &a.User} {
		scrub(s)
	}
	for i := range a.Permissions {
		p := &a.Permissions[i]
		for _, s := range []*string{&p.Action, &p.Resource.Type, &p.Resource.ID, &p.Resource.Name, &p.Resource.OrgID, &p.Resource.Org} {
			scrub(s)
		}
	}
}
