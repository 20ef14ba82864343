package tools

// Upstream faults, one per subtest: the call gets a tool error that names
// the cause, and the next call on the same session works. Each session runs
// the production server options over a real influx.Client.

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/mcptest"

	"github.com/tokenaudit/influx-token-mcp/influx"
	"github.com/tokenaudit/influx-token-mcp/internal/fakeinflux"
	"github.com/tokenaudit/influx-token-mcp/internal/mcpstdio"
)

const faultAuthID = "0a1b2c3d4e5f6a7b"

// faultUpstream is the fake InfluxDB, holding one token, that answers
// normally unless a fault is set.
type faultUpstream struct {
	*fakeinflux.Server
	fault atomic.Pointer[http.HandlerFunc]
}

func newFaultUpstream(t *testing.T, tlsServer bool) *faultUpstream {
	t.Helper()
	w := fakeinflux.World{
		Orgs:  []fakeinflux.Org{{ID: "2ee51bdadf9c0ae1", Name: "acme"}},
		Users: []fakeinflux.User{{ID: "11b2f4c47da08000", Name: "alice"}},
		Auths: []fakeinflux.Auth{{ID: faultAuthID, Status: "active", Description: "healthy", OrgID: "2ee51bdadf9c0ae1", UserID: "11b2f4c47da08000",
			Created: time.Date(2025, 1, 15, 9, 30, 0, 0, time.UTC)}},
	}
	u := &faultUpstream{}
	if tlsServer {
		u.Server = fakeinflux.StartTLS(t, w, "")
	} else {
		u.Server = fakeinflux.Start(t, w)
	}
	u.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		f := u.fault.Load()
		if f != nil {
			(*f)(w, r)
		}
		return f != nil
	})
	return u
}

// healthy answers as InfluxDB does.
func (u *faultUpstream) healthy(w http.ResponseWriter, r *http.Request) { u.ServeWorld(w, r) }

func (u *faultUpstream) set(h http.HandlerFunc) {
	if h == nil {
		u.fault.Store(nil)
		return
	}
	u.fault.Store(&h)
}

// swappable lets a test point the session at another InfluxDB between calls.
type swappable struct{ c atomic.Pointer[influx.Client] }

func (s *swappable) ListAuthorizations(ctx context.Context, f influx.ListFilter, fn func(*influx.Authorization) error) error {
	return s.c.Load().ListAuthorizations(ctx, f, fn)
}
func (s *swappable) GetAuthorization(ctx context.Context, id string) (*influx.Authorization, error) {
	return s.c.Load().GetAuthorization(ctx, id)
}
func (s *swappable) FindBuckets(ctx context.Context, name, id string) ([]influx.Bucket, error) {
	return s.c.Load().FindBuckets(ctx, name, id)
}

func (s *swappable) FindOrgs(ctx context.Context, name string) ([]influx.Organization, error) {
	return s.c.Load().FindOrgs(ctx, name)
}
func (s *swappable) FindUsers(ctx context.Context, name string) ([]influx.User, error) {
	return s.c.Load().FindUsers(ctx, name)
}
func (s *swappable) Exists(ctx context.Context, kind, id string) (bool, error) {
	return s.c.Load().Exists(ctx, kind, id)
}

func faultClient(t *testing.T, o influx.Options) *influx.Client {
	t.Helper()
	o.Token = fakeinflux.Token
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second // never reached on a healthy call, however loaded the machine
	}
	c, err := influx.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// faultSession is an MCP session with the production options over c.
type faultSession struct {
	srv  *mcptest.Server
	logs *mcpstdio.Buffer
}

func newFaultSession(t *testing.T, c Client, s Settings) *faultSession {
	t.Helper()
	if s.Timeout == 0 {
		s.Timeout = 5 * time.Second
	}
	fs := &faultSession{logs: &mcpstdio.Buffer{}}
	logger := slog.New(slog.NewTextHandler(fs.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	list := All(c, s)
	fs.srv = mcptest.NewUnstartedServer(t)
	fs.srv.AddServerOptions(ServerOptions(logger, list)...)
	fs.srv.AddTools(list...)
	if err := fs.srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		fs.srv.Close()
		if strings.Contains(fs.logs.String(), fakeinflux.Token) {
			t.Errorf("the log holds the token:\n%s", fs.logs.String())
		}
	})
	return fs
}

// call calls tool and returns whether it was a tool error, and its text.
func (fs *faultSession) call(t *testing.T, tool string, args map[string]any) (bool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	res, err := fs.srv.Client().CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tool, Arguments: args}})
	if err != nil {
		t.Fatalf("%s: protocol error %v, want a tool result", tool, err)
	}
	if len(res.Content) == 0 {
		t.Fatalf("%s: empty result", tool)
	}
	tc, _ := res.Content[0].(mcp.TextContent)
	if strings.Contains(tc.Text, fakeinflux.Token) || strings.Contains(tc.Text, fakeinflux.CanaryPrefix) {
		t.Errorf("%s: the result holds a token: %s", tool, tc.Text)
	}
	return res.IsError, tc.Text
}

func wantFault(t *testing.T, isErr bool, text string, want ...string) {
	t.Helper()
	if !isErr {
		t.Fatalf("not a tool error: %s", text)
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("error %q lacks %q", text, w)
		}
	}
}

func wantHealthy(t *testing.T, isErr bool, text string) {
	t.Helper()
	if isErr || !strings.Contains(text, faultAuthID) {
		t.Errorf("the next call failed: isError=%v %s", isErr, text)
	}
}

func jsonAnswer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// once answers the first request with h and the rest normally.
func (u *faultUpstream) once(h http.HandlerFunc) {
	var n atomic.Int64
	u.set(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			h(w, r)
			return
		}
		u.set(nil)
		u.healthy(w, r)
	})
}

func limited(status int, retryAfter func() string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", retryAfter())
		jsonAnswer(status, `{"code":"too many requests","message":"quota exceeded"}`)(w, r)
	}
}

func constant(s string) func() string { return func() string { return s } }

func TestUpstreamFaultsThenRecovery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		tool    string
		opts    influx.Options
		fault   func(u *faultUpstream)
		want    []string // nil: the call succeeds (after retrying)
		minTime time.Duration
		maxTime time.Duration
		hits    int64 // requests for the first call, 0 to skip
	}{
		{name: "429 Retry-After seconds is waited for", tool: "get_token",
			fault:   func(u *faultUpstream) { u.once(limited(429, constant("1"))) },
			minTime: 900 * time.Millisecond, maxTime: 8 * time.Second, hits: 2},
		{name: "503 Retry-After HTTP date is waited for", tool: "list_tokens",
			fault: func(u *faultUpstream) {
				u.once(limited(503, func() string { return time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat) }))
			},
			minTime: 900 * time.Millisecond, maxTime: 8 * time.Second, hits: 2},
		{name: "Retry-After beyond the budget says when to try again", tool: "get_token",
			fault:   func(u *faultUpstream) { u.set(limited(429, constant("3600"))) },
			want:    []string{"429 Too Many Requests", "rate-limiting", "wait 1h0m0s", "try again after"},
			maxTime: 8 * time.Second, hits: 1}, // under the 10 s retry budget
		{name: "503 until the tries run out", tool: "list_tokens",
			fault:   func(u *faultUpstream) { u.set(limited(503, constant("1"))) },
			want:    []string{"503 Service Unavailable", "3 tries", "try again after"},
			minTime: 1900 * time.Millisecond, maxTime: 9 * time.Second, hits: 3},
		{name: "5xx with an HTML body", tool: "get_token",
			fault: func(u *faultUpstream) {
				u.set(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/html")
					w.WriteHeader(502)
					io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
				})
			},
			want: []string{"502 Bad Gateway", "non-JSON body (text/html)", "proxy"}},
		{name: "truncated JSON", tool: "get_token",
			fault: func(u *faultUpstream) { u.set(jsonAnswer(200, `{"id":"0a1b2c3d4e5f6a7b","status":"act`)) },
			want:  []string{"unusable answer", "INFLUX_HOST"}},
		{name: "invalid JSON", tool: "list_tokens",
			fault: func(u *faultUpstream) { u.set(jsonAnswer(200, `{"authorizations":[{"id":0a1b}]}`)) },
			want:  []string{"unusable answer", "not the JSON InfluxDB sends"}},
		{name: "200 of the wrong shape (get)", tool: "get_token",
			fault: func(u *faultUpstream) { u.set(jsonAnswer(200, `[{"id":"0a1b2c3d4e5f6a7b"}]`)) },
			want:  []string{"unusable answer"}},
		{name: "200 of the wrong shape (list)", tool: "list_tokens",
			fault: func(u *faultUpstream) { u.set(jsonAnswer(200, `{"authorizations":{"id":"0a1b2c3d4e5f6a7b"}}`)) },
			want:  []string{"unusable answer"}},
		{name: "one token over the size limit", tool: "list_tokens",
			fault: func(u *faultUpstream) {
				u.set(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					io.WriteString(w, `{"authorizations":[{"id":"0a1b2c3d4e5f6a7b","description":"`)
					chunk := strings.Repeat("x", 64<<10)
					for range 65 { // over 4 MiB
						if _, err := io.WriteString(w, chunk); err != nil {
							return
						}
					}
				})
			},
			want: []string{"one element of the list is larger than 4 MiB"}},
		{name: "token echoed in an error", tool: "get_token",
			fault: func(u *faultUpstream) {
				u.set(jsonAnswer(401, `{"code":"unauthorized","message":"token `+fakeinflux.Token+` is not valid"}`))
			},
			want: []string{"401 Unauthorized", "[REDACTED]", "INFLUX_TOKEN"}},
		// A timeout short enough to keep the test quick, long enough that
		// the healthy call after the fault meets it on a loaded machine.
		{name: "accepts and never answers", tool: "get_token", opts: influx.Options{Timeout: 2 * time.Second},
			fault: func(u *faultUpstream) {
				u.set(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
			},
			want: []string{"did not answer within INFLUX_TIMEOUT (2s)"}, maxTime: 15 * time.Second},
		{name: "answer stalls mid-body", tool: "list_tokens", opts: influx.Options{Timeout: 2 * time.Second},
			fault: func(u *faultUpstream) {
				u.set(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					io.WriteString(w, `{"authorizations":[`)
					w.(http.Flusher).Flush()
					<-r.Context().Done()
				})
			},
			want: []string{"did not answer within INFLUX_TIMEOUT (2s)"}, maxTime: 15 * time.Second},
		{name: "connection dropped mid-answer", tool: "get_token",
			fault: func(u *faultUpstream) {
				u.set(func(w http.ResponseWriter, r *http.Request) {
					conn, buf, err := w.(http.Hijacker).Hijack()
					if err != nil {
						return
					}
					buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"id\":\"0a1b")
					buf.Flush()
					conn.Close()
				})
			},
			want: []string{"unusable answer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newFaultUpstream(t, false)
			tc.opts.Host = u.URL
			timeout := tc.opts.Timeout
			fs := newFaultSession(t, faultClient(t, tc.opts), Settings{Host: u.URL, Timeout: timeout})
			args := map[string]any{"authID": faultAuthID}
			if tc.tool == "list_tokens" {
				args = map[string]any{}
			}
			tc.fault(u)
			start := time.Now()
			isErr, text := fs.call(t, tc.tool, args)
			took := time.Since(start)
			if tc.want == nil {
				wantHealthy(t, isErr, text)
			} else {
				wantFault(t, isErr, text, tc.want...)
			}
			if tc.hits > 0 && u.Requests.Load() != tc.hits {
				t.Errorf("%d requests to InfluxDB, want %d", u.Requests.Load(), tc.hits)
			}
			if took < tc.minTime || tc.maxTime > 0 && took > tc.maxTime {
				t.Errorf("took %s, want %s to %s", took, tc.minTime, tc.maxTime)
			}
			u.set(nil)
			isErr, text = fs.call(t, tc.tool, args)
			wantHealthy(t, isErr, text)
		})
	}
}

// Faults below HTTP: the message names the host and the cause, and the next
// call (to a working InfluxDB) on the same session works.
func TestTransportFaultsThenRecovery(t *testing.T) {
	t.Parallel()
	healthy := newFaultUpstream(t, false)
	tlsUp := newFaultUpstream(t, true)
	plain := newFaultUpstream(t, false)
	hang := hangingAddr(t)

	trusting := x509.NewCertPool()
	trusting.AddCert(tlsUp.HTTP.Certificate())
	tlsPort := tlsUp.HTTP.Listener.Addr().(*net.TCPAddr).Port

	for _, tc := range []struct {
		name string
		opts influx.Options
		want []string
	}{
		{"connection refused", influx.Options{Host: fakeinflux.ClosedPortURL(t)}, []string{"refused", "nothing listens there"}},
		{"DNS failure", influx.Options{Host: "http://influxdb.example.invalid:8086"}, []string{`Cannot resolve the host name "influxdb.example.invalid"`, "DNS", "INFLUX_HOST"}},
		{"self-signed certificate", influx.Options{Host: tlsUp.URL}, []string{"TLS certificate problem", "certificate", "INFLUX_SKIP_VERIFY"}},
		{"certificate for another host", influx.Options{
			Host: fmt.Sprintf("https://localhost:%d", tlsPort),
			HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: trusting},
			}},
		}, []string{"TLS certificate problem", "localhost", "INFLUX_SKIP_VERIFY"}},
		{"https to a plain HTTP server", influx.Options{Host: strings.Replace(plain.URL, "http://", "https://", 1)}, []string{"did not answer with TLS", "http://"}},
		{"accepts and never answers", influx.Options{Host: "http://" + hang, Timeout: 300 * time.Millisecond}, []string{"did not answer within INFLUX_TIMEOUT (300ms)", hang}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sw := &swappable{}
			sw.c.Store(faultClient(t, tc.opts))
			timeout := tc.opts.Timeout
			if timeout == 0 {
				timeout = 30 * time.Second
			}
			fs := newFaultSession(t, sw, Settings{Host: tc.opts.Host, Timeout: timeout})
			start := time.Now()
			isErr, text := fs.call(t, "get_token", map[string]any{"authID": faultAuthID})
			wantFault(t, isErr, text, tc.want...)
			if took := time.Since(start); took > 20*time.Second { // failed by itself, not by the 30 s timeout
				t.Errorf("took %s", took)
			}
			isErr, text = fs.call(t, "list_tokens", map[string]any{})
			wantFault(t, isErr, text, tc.want...)

			sw.c.Store(faultClient(t, influx.Options{Host: healthy.URL}))
			isErr, text = fs.call(t, "get_token", map[string]any{"authID": faultAuthID})
			wantHealthy(t, isErr, text)
		})
	}

	t.Run("INFLUX_SKIP_VERIFY accepts the self-signed certificate", func(t *testing.T) {
		t.Parallel()
		fs := newFaultSession(t, faultClient(t, influx.Options{Host: tlsUp.URL, SkipVerify: true}), Settings{Host: tlsUp.URL})
		isErr, text := fs.call(t, "get_token", map[string]any{"authID": faultAuthID})
		wantHealthy(t, isErr, text)
	})
}

// hangingAddr accepts TCP connections and never answers.
func hangingAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			go io.Copy(io.Discard, bufio.NewReader(c)) // read the request, answer nothing
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return l.Addr().String()
}

// panicky panics on its first n calls and then works like c.
type panicky struct {
	Client
	left atomic.Int64
}

func (p *panicky) maybePanic() {
	if p.left.Add(-1) >= 0 {
		var m map[string]int
		m["boom"]++ // a real runtime panic: assignment to entry in nil map
	}
}

func (p *panicky) ListAuthorizations(ctx context.Context, f influx.ListFilter, fn func(*influx.Authorization) error) error {
	p.maybePanic()
	return p.Client.ListAuthorizations(ctx, f, fn)
}

func (p *panicky) GetAuthorization(ctx context.Context, id string) (*influx.Authorization, error) {
	p.maybePanic()
	return p.Client.GetAuthorization(ctx, id)
}

// A panic inside a handler is a tool error, logged with its stack, and the
// server goes on.
func TestHandlerPanicIsToolError(t *testing.T) {
	t.Parallel()
	u := newFaultUpstream(t, false)
	p := &panicky{Client: faultClient(t, influx.Options{Host: u.URL})}
	p.left.Store(2)
	fs := newFaultSession(t, p, Settings{Host: u.URL})
	for tool, args := range map[string]map[string]any{"get_token": {"authID": faultAuthID}, "list_tokens": {}} {
		isErr, text := fs.call(t, tool, args)
		wantFault(t, isErr, text, "internal error in "+tool, "bug")
	}
	isErr, text := fs.call(t, "get_token", map[string]any{"authID": faultAuthID})
	wantHealthy(t, isErr, text)
	if logs := fs.logs.String(); !strings.Contains(logs, "panicked") || !strings.Contains(logs, "nil map") {
		t.Errorf("the panic was not logged:\n%s", logs)
	}
}
