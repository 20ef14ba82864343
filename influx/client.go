// Package influx is a small, read-only client for the parts of the InfluxDB v2
// API that token audits need: authorizations, and the buckets and orgs that
// their permissions point at.
package influx

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxBody caps how much of one response is read, except the token
// list's: InfluxDB does not page that list, so it has no upper size (300,000
// tokens are about 350 MB), and it is streamed with a bound on each token
// instead (MaxElementSize). The other answers are small; anything past this
// cap is a broken or hostile server.
const DefaultMaxBody = 32 << 20

// Options configure a Client. Host and Token are required.
type Options struct {
	Host       string        // base URL; a path prefix is kept
	Token      string        // sent as "Authorization: Token …"
	Timeout    time.Duration // per HTTP attempt, including reading the body
	SkipVerify bool          // accept any TLS certificate
	UserAgent  string
	MaxBody    int64 // 0 means DefaultMaxBody; not applied to the token list

	// Retry bounds the waits on 429 and 503; zero values take the defaults.
	Retry RetryPolicy

	// Proxy picks the proxy for a URL, nil for none; nil means Go's default,
	// HTTP_PROXY, HTTPS_PROXY and NO_PROXY from the environment.
	Proxy func(*url.URL) (*url.URL, error)

	// HTTPClient replaces the default client (tests); Timeout, SkipVerify and
	// Proxy are then the caller's business. Its redirect policy is replaced.
	HTTPClient *http.Client
}

// Client talks to one InfluxDB. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	token     string
	userAgent string
	maxBody   int64
	retry     RetryPolicy
	http      *http.Client
	scrub     func(string) string
}

// New checks the options and returns a client. It makes no request.
func New(o Options) (*Client, error) {
	base, err := ParseHost(o.Host)
	if err != nil {
		return nil, err
	}
	if o.Token == "" {
		return nil, errors.New("influx: empty token")
	}
	var hc http.Client
	if o.HTTPClient != nil {
		hc = *o.HTTPClient
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if o.SkipVerify {
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for it (INFLUX_SKIP_VERIFY)
		}
		if o.Proxy != nil {
			tr.Proxy = func(req *http.Request) (*url.URL, error) {
				u, err := o.Proxy(req.URL)
				if err != nil {
					// Not err: it quotes the setting, which may hold a password.
					return nil, errors.New("the proxy setting (HTTP_PROXY or HTTPS_PROXY) is not a valid URL")
				}
				return u, nil
			}
		}
		hc = http.Client{Transport: tr, Timeout: o.Timeout}
	}
	// Whatever client is used, the token never follows a redirect elsewhere.
	hc.CheckRedirect = checkRedirect(base)
	c := &Client{
		base:      base,
		token:     o.Token,
		userAgent: o.UserAgent,
		maxBody:   o.MaxBody,
		retry:     o.Retry.withDefaults(),
		http:      &hc,
		scrub:     Scrubber(o.Token),
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBody
	}
	if c.userAgent == "" {
		c.userAgent = "influx-token-mcp"
	}
	return c, nil
}

// ParseHost parses an InfluxDB base URL such as https://eu-central-1-1.aws.cloud2.influxdata.com
// or http://localhost:8086/influx/ (a path prefix behind a proxy).
func ParseHost(host string) (*url.URL, error) {
	// The messages never repeat host: it may hold a password (user:pw@).
	u, err := url.Parse(strings.TrimSpace(host))
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return nil, fmt.Errorf("not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("the URL must start with http:// or https://")
	}
	if u.Host == "" {
		return nil, errors.New("the URL has no host name")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("the URL must be a plain base URL, without credentials, query or fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// ListAuthorizations calls GET /api/v2/authorizations and hands each
// authorization to fn as it is decoded, so that a list of thousands of tokens
// is never held as one document. fn may keep the pointer.
func (c *Client) ListAuthorizations(ctx context.Context, f ListFilter, fn func(*Authorization) error) error {
	q := url.Values{}
	setIf(q, "user", f.User)
	setIf(q, "userID", f.UserID)
	setIf(q, "org", f.Org)
	setIf(q, "orgID", f.OrgID)
	return c.get(ctx, "/api/v2/authorizations", q, noBodyCap, func(body io.Reader) error {
		return decodeList(body, "authorizations", func(a *Authorization) error {
			if a.ID == "" {
				return errors.New("an authorization without id")
			}
			c.scrubFields(a)
			return fn(a)
		})
	})
}

// GetAuthorization calls GET /api/v2/authorizations/{id}.
func (c *Client) GetAuthorization(ctx context.Context, id string) (*Authorization, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	var a Authorization
	err := c.get(ctx, "/api/v2/authorizations/"+url.PathEscape(id), nil, c.maxBody, func(body io.Reader) error {
		if err := decodeObject(body, &a); err != nil {
			return err
		}
		if a.ID == "" {
			return errors.New("an authorization without id")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.scrubFields(&a)
	return &a, nil
}

// FindBuckets finds buckets by name (GET /api/v2/buckets?name=, one per org
// that has such a bucket), by ID (GET /api/v2/buckets/{id}), or, with
// neither, lists every bucket the configured token may read. A name or ID
// that does not exist is an empty result, not an error.
func (c *Client) FindBuckets(ctx context.Context, name, id string) ([]Bucket, error) {
	var out []Bucket
	var err error
	if id != "" {
		if err := ValidateID(id); err != nil {
			return nil, err
		}
		var b Bucket
		err = c.get(ctx, "/api/v2/buckets/"+url.PathEscape(id), nil, c.maxBody, func(body io.Reader) error {
			return decodeObject(body, &b)
		})
		if err == nil && b.ID != "" {
			out = append(out, b)
		}
	} else {
		err = pages(func(q url.Values, n *int) error {
			setIf(q, "name", name)
			return c.get(ctx, "/api/v2/buckets", q, c.maxBody, func(body io.Reader) error {
				return decodeList(body, "buckets", func(b *Bucket) error {
					*n++
					if name == "" || b.Name == name {
						out = append(out, *b)
					}
					return nil
				})
			})
		})
	}
	return out, notFoundIsEmpty(err)
}

// pages asks for pages of a list (InfluxDB pages buckets, orgs and users,
// 20 by default) until a short one, within bounds. get fills in n, the
// number of items in its page. InfluxDB drops what the caller may not read
// from each page after paging, so a short page may come early: callers use
// a list as evidence that something exists, never that it does not.
func pages(get func(q url.Values, n *int) error) error {
	const pageSize = 100
	for page := range MaxLookupPages {
		q := url.Values{"limit": {strconv.Itoa(pageSize)}, "offset": {strconv.Itoa(page * pageSize)}}
		n := 0
		if err := get(q, &n); err != nil || n < pageSize {
			return err
		}
	}
	return fmt.Errorf("%w (%d pages of %d)", ErrTooManyPages, MaxLookupPages, pageSize)
}

// MaxLookupPages bounds the pages one lookup asks for: a server, hostile or
// broken, can answer full pages for ever.
const MaxLookupPages = 50

// ErrTooManyPages is a lookup stopped at MaxLookupPages; the results so far
// come with it.
var ErrTooManyPages = errors.New("the lookup stopped after the most pages it asks for")

func notFoundIsEmpty(err error) error {
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
		return nil
	}
	return err
}

// FindOrgs calls GET /api/v2/orgs?org=name, or lists every org the
// configured token may read when name is "". An unknown name is an empty
// result, not an error.
func (c *Client) FindOrgs(ctx context.Context, name string) ([]Organization, error) {
	var out []Organization
	err := pages(func(q url.Values, n *int) error {
		setIf(q, "org", name)
		return c.get(ctx, "/api/v2/orgs", q, c.maxBody, func(body io.Reader) error {
			return decodeList(body, "orgs", func(o *Organization) error {
				*n++
				out = append(out, *o)
				return nil
			})
		})
	})
	return out, notFoundIsEmpty(err)
}

// FindUsers calls GET /api/v2/users?name=name, or lists every user the
// configured token may read when name is "". An unknown name is an empty
// result, not an error.
func (c *Client) FindUsers(ctx context.Context, name string) ([]User, error) {
	var out []User
	err := pages(func(q url.Values, n *int) error {
		setIf(q, "name", name)
		return c.get(ctx, "/api/v2/users", q, c.maxBody, func(body io.Reader) error {
			return decodeList(body, "users", func(u *User) error {
				*n++
				out = append(out, *u)
				return nil
			})
		})
	})
	return out, notFoundIsEmpty(err)
}

// Exists asks InfluxDB whether the bucket, org, user or authorization with
// this ID exists (GET /api/v2/{kind}/{id}): true on 200, false on 404, an
// error otherwise. InfluxDB looks buckets and authorizations up before it
// checks the caller's rights, so their 404 holds for any caller; orgs and
// users are checked first, so a caller without read on them gets 401.
func (c *Client) Exists(ctx context.Context, kind, id string) (bool, error) {
	if err := ValidateID(id); err != nil {
		return false, err
	}
	var v Bucket // only the id matters; a token's secret has no field here
	err := c.get(ctx, "/api/v2/"+url.PathEscape(kind)+"/"+url.PathEscape(id), nil, c.maxBody, func(body io.Reader) error {
		return decodeObject(body, &v)
	})
	if err != nil {
		return false, notFoundIsEmpty(err)
	}
	return true, nil
}

func setIf(q url.Values, key, value string) {
	if value != "" {
		q.Set(key, value)
	}
}

// noBodyCap is get's maxBody for an answer that is streamed.
const noBodyCap = -1

// get performs one GET with retries on rate limits and hands the body of a
// 2xx answer, up to maxBody bytes, to decode; any other status becomes an
// *APIError.
func (c *Client) get(ctx context.Context, path string, q url.Values, maxBody int64, decode func(io.Reader) error) error {
	u := *c.base
	u.Path = c.base.Path + path
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	target := u.String()

	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := c.attempt(ctx, target, path, maxBody, decode)
		wait, retry := c.retry.next(err, attempt, time.Since(start))
		if !retry {
			return err
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return err
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-timer.C:
		}
	}
}

func (c *Client) attempt(ctx context.Context, target, path string, maxBody int64, decode func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Token "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)

	resp, err := c.http.Do(req)
	if err != nil {
		return &TransportError{Host: c.base.Host, Err: err, Detail: c.transportDetail(err), CtxErr: ctx.Err()}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.apiError(resp, path, resp.Body)
	}
	var body io.Reader = resp.Body
	if maxBody != noBodyCap {
		body = &cappedReader{r: resp.Body, left: maxBody}
	}
	if err := decode(body); err != nil {
		if errors.Is(err, errBodyTooLarge) {
			return &ResponseError{Path: path, Reason: fmt.Sprintf("the response is larger than %d MiB", maxBody>>20)}
		}
		var limitErr *LimitError
		if errors.As(err, &limitErr) {
			return &ResponseError{Path: path, Reason: limitErr.Error()}
		}
		var te *TransportError
		if errors.As(err, &te) {
			return err
		}
		if ctx.Err() != nil || IsTimeout(err) {
			return &TransportError{Host: c.base.Host, Err: err, Detail: c.transportDetail(err), CtxErr: ctx.Err()}
		}
		return &ResponseError{Path: path, Reason: "the response is not the JSON InfluxDB sends: " + c.decodeFailure(err)}
	}
	return nil
}

// decodeFailure says why a 2xx body could not be decoded without echoing
// the body: a time error quotes the field's value, which could be anything,
// a secret or a megabyte; other errors are scrubbed and cut short.
func (c *Client) decodeFailure(err error) string {
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return "a time is not in RFC 3339 form"
	}
	msg := c.scrub(err.Error())
	if len(msg) > 200 {
		msg = strings.ToValidUTF8(msg[:200], "") + "…"
	}
	return msg
}

// apiError builds the typed error for a non-2xx answer from InfluxDB's
// {"code","message"} body, reading at most a few KiB of it.
func (c *Client) apiError(resp *http.Response, path string, body io.Reader) *APIError {
	e := &APIError{StatusCode: resp.StatusCode, Path: path}
	raw, _ := io.ReadAll(io.LimitReader(body, 16<<10))
	var payload struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	// Everything kept here is upstream text that ends up in tool output:
	// scrubbed of the token and kept short.
	if json.Unmarshal(raw, &payload) == nil && (payload.Code != "" || payload.Message != "") {
		e.Code = c.upstreamText(payload.Code, 100)
		e.Message = c.upstreamText(payload.Message, 1000)
	} else if len(raw) > 0 {
		e.NotJSON = true
		e.ContentType = c.upstreamText(resp.Header.Get("Content-Type"), 100)
	}
	if e.Code == "" {
		e.Code = c.upstreamText(resp.Header.Get("X-Platform-Error-Code"), 100)
	}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return e
}

// upstreamText makes text from InfluxDB fit for a tool result: without the
// configured token, valid UTF-8, at most n bytes.
func (c *Client) upstreamText(s string, n int) string {
	return ClipTo(strings.ToValidUTF8(c.scrub(strings.TrimSpace(s)), "\uFFFD"), n)
}

var errBodyTooLarge = errors.New("response body over the size cap")

// cappedReader fails once more than left bytes have been read, so that a
// runaway response costs bounded memory and time.
type cappedReader struct {
	r    io.Reader
	left int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, errBodyTooLarge
	}
	return n, err
}
