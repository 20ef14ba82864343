package influx

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
)

// APIError is a non-2xx answer from InfluxDB. Message is InfluxDB's own text
// with the configured token scrubbed out.
type APIError struct {
	StatusCode  int
	Code        string // InfluxDB's error code, e.g. "not found", "unauthorized"
	Message     string
	Path        string        // the API path that was called, without query
	RetryAfter  time.Duration // from a Retry-After header, 0 if none
	NotJSON     bool          // the body was not InfluxDB's JSON error (a proxy's HTML page, say)
	ContentType string        // of a body that was not JSON
}

func (e *APIError) Error() string {
	switch {
	case e.Message != "":
		return fmt.Sprintf("InfluxDB answered %d on %s: %s", e.StatusCode, e.Path, e.Message)
	case e.NotJSON:
		return fmt.Sprintf("InfluxDB answered %d on %s with a non-JSON body (%s)", e.StatusCode, e.Path, e.ContentType)
	default:
		return fmt.Sprintf("InfluxDB answered %d on %s", e.StatusCode, e.Path)
	}
}

// TransportError is a request that got no HTTP answer: refused, unresolvable,
// TLS failure, timeout or cancellation.
type TransportError struct {
	Host string
	Err  error
	// Detail is the cause for messages: Err's innermost text, scrubbed of the
	// token and clipped, as the server's bytes may be in it.
	Detail string
	// CtxErr is the call's context error when the call was cancelled or ran
	// out of time, which tells those from a request's own timeout.
	CtxErr error
}

func (e *TransportError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("cannot reach %s: %s", e.Host, e.Detail)
	}
	return fmt.Sprintf("cannot reach %s: %v", e.Host, e.Err)
}
func (e *TransportError) Unwrap() error { return e.Err }

// ResponseError is a 2xx answer whose body could not be used.
type ResponseError struct {
	Path   string
	Reason string
}

func (e *ResponseError) Error() string {
	return fmt.Sprintf("unusable answer from InfluxDB on %s: %s", e.Path, e.Reason)
}

// ErrInvalidID is returned, before any request, for an ID that is not 16
// hexadecimal digits.
var ErrInvalidID = errors.New("an InfluxDB ID is 16 hexadecimal digits")

// ValidateID checks the form InfluxDB gives every ID. InfluxDB rejects the
// all-zero ID as invalid too.
func ValidateID(id string) error {
	if len(id) != 16 {
		return ErrInvalidID
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return ErrInvalidID
		}
	}
	if id == "0000000000000000" {
		return ErrInvalidID
	}
	return nil
}

// Scrubber returns a function that removes secret from text that came from
// outside (InfluxDB error messages). A long secret is removed wherever it
// appears; a short one only where it stands as a whole word, so that a
// token such as "x" does not mangle every word that holds that letter.
func Scrubber(secret string) func(string) string {
	const redacted = "[REDACTED]"
	if secret == "" {
		return func(s string) string { return s }
	}
	if len(secret) >= 12 {
		// A server that echoes the token may also echo it encoded, in a
		// URL or a Basic credential: those forms go too.
		forms := encodedForms(secret)
		return func(s string) string {
			s = strings.ReplaceAll(s, secret, redacted)
			for _, f := range forms {
				s = strings.ReplaceAll(s, f, redacted)
			}
			return s
		}
	}
	return func(s string) string {
		var b strings.Builder
		done := 0 // s[:done] is written; indexes stay in s so that the byte before a match is known
		for {
			i := strings.Index(s[done:], secret)
			if i < 0 {
				b.WriteString(s[done:])
				return b.String()
			}
			i += done
			end := i + len(secret)
			whole := (i == 0 || !isTokenChar(s[i-1])) && (end == len(s) || !isTokenChar(s[end]))
			b.WriteString(s[done:i])
			if whole {
				b.WriteString(redacted)
			} else {
				b.WriteString(s[i:end])
			}
			done = end
		}
	}
}

// encodedForms are the URL-encoded and base64 forms of secret. Base64 of a
// longer text holding the secret encodes it differently at each of three
// byte offsets; for each, the characters that depend on secret alone are a
// form, in the standard and the URL alphabet.
func encodedForms(secret string) []string {
	var forms []string
	add := func(f string) {
		if f != secret && len(f) >= 8 && !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	for _, f := range []string{url.QueryEscape(secret), url.PathEscape(secret)} {
		add(f)
		add(lowerHexEscapes(f))
	}
	for shift := range 3 {
		padded := append(make([]byte, shift), secret...)
		// Whole 3-byte groups that lie inside secret: 4 characters each.
		first := (shift + 2) / 3
		last := len(padded) / 3
		if last <= first {
			continue
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			whole := enc.EncodeToString(padded[:last*3])
			add(whole[first*4:])
		}
	}
	return forms
}

// lowerHexEscapes writes the %XX escapes of f in lower case, as some
// encoders do.
func lowerHexEscapes(f string) string {
	b := []byte(f)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = byte(unicode.ToLower(rune(b[i+1]))), byte(unicode.ToLower(rune(b[i+2])))
		}
	}
	return string(b)
}

// isTokenChar reports whether c can be part of an InfluxDB token (base64url
// with padding).
func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '=' || c == '+' || c == '/'
}

// IsTimeout reports whether err is a network timeout.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
