package influx

// Fuzz targets for what comes from InfluxDB (whole HTTP answers, Retry-After)
// and for the checks that guard requests (IDs) and errors (the scrubber).
// Seed corpora are in testdata/fuzz/<target>/; .ci/fuzz.sh runs each
// target for a fixed time.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzToken is the configured token in the fuzz targets.
const fuzzToken = "FUZZ-configured-token-7d1c0b9a8e7f6d5c=="

// cannedTransport answers every request with one fuzzed response, and
// checks each request on the way.
type cannedTransport struct {
	t           *testing.T
	status      int
	contentType string
	retryAfter  string
	body        []byte
}

func (c *cannedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if got := req.Header.Get("Authorization"); got != "Token "+fuzzToken {
		c.t.Errorf("Authorization header %q", got)
	}
	checkRequestURL(c.t, req.URL)
	h := http.Header{}
	if c.contentType != "" {
		h.Set("Content-Type", c.contentType)
	}
	if c.retryAfter != "" {
		h.Set("Retry-After", c.retryAfter)
	}
	return &http.Response{
		StatusCode: c.status, Header: h, Request: req,
		Body: io.NopCloser(bytes.NewReader(c.body)), ContentLength: int64(len(c.body)),
	}, nil
}

// checkRequestURL fails the test for any request other than the ones the
// client makes, or with an ID that is not valid.
func checkRequestURL(t *testing.T, u *url.URL) {
	t.Helper()
	allowed := map[string][]string{
		"/api/v2/authorizations": {"user", "userID", "org", "orgID"},
		"/api/v2/buckets":        {"name", "limit", "offset"},
		"/api/v2/orgs":           {"org", "limit", "offset"},
		"/api/v2/users":          {"name", "limit", "offset"},
	}
	keys, ok := allowed[u.Path]
	if !ok {
		id, isGet := strings.CutPrefix(u.EscapedPath(), "/api/v2/authorizations/")
		for _, kind := range []string{"buckets", "orgs", "users"} {
			if !isGet {
				id, isGet = strings.CutPrefix(u.EscapedPath(), "/api/v2/"+kind+"/")
			}
		}
		if !isGet || ValidateID(id) != nil {
			t.Errorf("request to %q", u.EscapedPath())
		}
	}
	for k := range u.Query() {
		found := false
		for _, a := range keys {
			found = found || k == a
		}
		if !found {
			t.Errorf("query parameter %q on %s", k, u.Path)
		}
	}
}

// FuzzClientResponse feeds the client arbitrary answers from InfluxDB: any
// status, content type, Retry-After and body, on each of its calls.
// It must not panic or hang, must return a typed error naming the cause,
// and must never echo the configured token.
func FuzzClientResponse(f *testing.F) {
	f.Add(uint8(0), uint16(200), "application/json", "", []byte(`{"authorizations":[{"id":"0a1b2c3d4e5f6a7b","token":"x"}]}`))
	f.Add(uint8(1), uint16(200), "application/json", "", []byte(`{"id":"0a1b2c3d4e5f6a7b","createdAt":"`+fuzzToken+`"}`))
	f.Add(uint8(1), uint16(401), "application/json", "", []byte(`{"code":"unauthorized","message":"token `+fuzzToken+` is invalid"}`))
	f.Add(uint8(0), uint16(429), "application/json", "3", []byte(`{"code":"too many requests","message":"slow down"}`))
	f.Add(uint8(2), uint16(502), "text/html", "", []byte(`<html><body>Bad gateway `+fuzzToken+`</body></html>`))
	f.Add(uint8(3), uint16(200), "", "", []byte(`{"orgs":[{"id":"2ee51bdadf9c0ae1","name":"acme"}]`))
	f.Add(uint8(0), uint16(200), "application/json", "", bytes.Repeat([]byte(`{"authorizations":[`), 100))
	f.Add(uint8(2), uint16(100), "application/json", "", []byte(`{"buckets":[{}`+strings.Repeat(`,{}`, 99)+`]}`)) // full pages without end
	f.Fuzz(func(t *testing.T, call uint8, status uint16, contentType, retryAfter string, body []byte) {
		tr := &cannedTransport{t: t, status: 100 + int(status)%500, contentType: contentType, retryAfter: retryAfter, body: body}
		c, err := New(Options{
			Host: "http://influx.test:8086", Token: fuzzToken,
			MaxBody:    32 << 10, // small, so that the fuzzer reaches the cap
			Retry:      RetryPolicy{MaxAttempts: 1},
			HTTPClient: &http.Client{Transport: tr},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		switch call % 6 {
		case 0:
			err = c.ListAuthorizations(ctx, ListFilter{User: "alice", OrgID: "2ee51bdadf9c0ae1"}, func(a *Authorization) error {
				if a.ID == "" {
					t.Error("an authorization without ID was handed over")
				}
				return nil
			})
		case 1:
			_, err = c.GetAuthorization(ctx, "0a1b2c3d4e5f6a7b")
		case 2:
			_, err = c.FindBuckets(ctx, "telegraf", "")
		case 3:
			_, err = c.FindOrgs(ctx, "acme")
		case 4:
			_, err = c.FindUsers(ctx, "")
		case 5:
			_, err = c.Exists(ctx, "users", "0a1b2c3d4e5f6a7b")
		}
		if ctx.Err() != nil {
			t.Fatal("the call did not end in time")
		}
		ok2xx := tr.status >= 200 && tr.status <= 299
		if err == nil {
			if !ok2xx && !(tr.status == 404 && call%6 >= 2) {
				t.Fatalf("status %d accepted", tr.status)
			}
			return
		}
		var apiErr *APIError
		var respErr *ResponseError
		switch {
		case errors.As(err, &apiErr):
			if apiErr.StatusCode != tr.status || ok2xx {
				t.Errorf("APIError for status %d: %+v", tr.status, apiErr)
			}
		case errors.As(err, &respErr):
			if !ok2xx {
				t.Errorf("ResponseError for status %d", tr.status)
			}
		case errors.Is(err, ErrTooManyPages):
			if !ok2xx || call%4 < 2 {
				t.Errorf("ErrTooManyPages for status %d, call %d", tr.status, call%4)
			}
		default:
			t.Errorf("untyped error %T: %v", err, err)
		}
		msg := err.Error()
		if strings.Contains(msg, fuzzToken) {
			t.Errorf("error echoes the token: %q", msg)
		}
		if len(msg) > 20<<10 {
			t.Errorf("error text of %d bytes", len(msg))
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"", "0", "1", "-1", "3600", "999999999999", "1e3", " 5", now.Add(time.Minute).Format(http.TimeFormat), "Sun, 06 Nov 1994 08:49:37 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d := parseRetryAfter(v, now)
		if d < 0 {
			t.Errorf("parseRetryAfter(%q) = %s, negative", v, d)
		}
		// A number of seconds is capped at a year (no overflow).
		if _, err := strconv.Atoi(v); err == nil && d > 366*24*time.Hour {
			t.Errorf("parseRetryAfter(%q) = %s", v, d)
		}
	})
}

// FuzzValidateID: whatever passes goes into a URL path unchanged, so it must
// be exactly 16 hex digits and need no escaping.
func FuzzValidateID(f *testing.F) {
	for _, s := range []string{"0a1b2c3d4e5f6a7b", "0A1B2C3D4E5F6A7B", "0000000000000000", "../../../../etc", "0a1b2c3d4e5f6a7", "0a1b2c3d4e5f6a7b0", "0a1b2c3d%2F5f6a7b", "0a1b2c3d4e5f6a7\u00e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if ValidateID(id) != nil {
			return
		}
		if len(id) != 16 || strings.Trim(id, "0123456789abcdefABCDEF") != "" || id == "0000000000000000" {
			t.Errorf("%q accepted", id)
		}
		if url.PathEscape(id) != id || url.QueryEscape(id) != id {
			t.Errorf("%q needs escaping", id)
		}
	})
}

// FuzzScrubber: a token never survives scrubbing where it stands as a whole
// token (anywhere, for tokens of 12 characters or more); text without the
// token is left alone.
func FuzzScrubber(f *testing.F) {
	f.Add("x", "authorization x is invalid for InfluxDB")
	f.Add("ab1", "ab1 rejected: ab1, xab1 kept")
	f.Add(fuzzToken, "token "+fuzzToken+fuzzToken+" bad")
	f.Add("aaaaaaaaaaaaa", strings.Repeat("a", 40))
	f.Fuzz(func(t *testing.T, secret, text string) {
		if secret == "" || strings.Trim(secret, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+/") != "" {
			return // InfluxDB tokens are base64 (url or std alphabet)
		}
		out := Scrubber(secret)(text)
		if !strings.Contains(text, secret) && out != text {
			t.Errorf("text without the token changed: %q -> %q", text, out)
		}
		if len(secret) >= 12 {
			if strings.Contains(out, secret) {
				t.Errorf("scrub(%q) = %q still holds %q", text, out, secret)
			}
			return
		}
		for i := 0; ; {
			j := strings.Index(out[i:], secret)
			if j < 0 {
				break
			}
			start, end := i+j, i+j+len(secret)
			if (start == 0 || !isTokenChar(out[start-1])) && (end == len(out) || !isTokenChar(out[end])) {
				t.Errorf("scrub(%q) = %q leaves %q as a whole word", text, out, secret)
				break
			}
			i = start + 1
		}
	})
}
