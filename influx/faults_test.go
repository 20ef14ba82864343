package influx

// Client-level faults: each gives the typed error the tools describe, reads
// no more than it must, and leaves the client working for the next call.

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tokenaudit/influx-token-mcp/internal/fakeinflux"
)

const faultsToken = fakeinflux.Token

// countingBody is a response body of n bytes of JSON that counts what was read.
type countingBody struct {
	head []byte
	left int64
	read *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	if len(b.head) > 0 {
		n := copy(p, b.head)
		b.head = b.head[n:]
		b.read.Add(int64(n))
		return n, nil
	}
	if b.left <= 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), b.left))
	for i := range p[:n] {
		p[i] = 'x'
	}
	b.left -= int64(n)
	b.read.Add(int64(n))
	return n, nil
}

func (b *countingBody) Close() error { return nil }

type hugeTransport struct {
	status int
	head   string
	size   int64
	read   atomic.Int64
}

func (h *hugeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: h.status, Header: http.Header{"Content-Type": {"application/json"}}, Request: req,
		Body: &countingBody{head: []byte(h.head), left: h.size, read: &h.read}}, nil
}

// A runaway answer is read only up to the cap (and an error body only up to
// 16 KiB), whichever call reads it. The token list has no cap, as it is
// streamed, but one token is read only up to MaxElementSize.
func TestBodyCapStopsReading(t *testing.T) {
	const maxBody = 1 << 20
	for _, tc := range []struct {
		name   string
		status int
		head   string
		call   func(*Client) error
		limit  int64
		want   string
	}{
		{"list", 200, `{"authorizations":[{"id":"0a1b2c3d4e5f6a7b","description":"`, func(c *Client) error {
			return c.ListAuthorizations(context.Background(), ListFilter{}, func(*Authorization) error { return nil })
		}, MaxElementSize + 64<<10, "one element of the list is larger than 4 MiB"},
		{"get", 200, `{"id":"0a1b2c3d4e5f6a7b","description":"`, func(c *Client) error {
			_, err := c.GetAuthorization(context.Background(), "0a1b2c3d4e5f6a7b")
			return err
		}, maxBody + 1, "larger than 1 MiB"},
		{"buckets", 200, `{"buckets":[{"name":"`, func(c *Client) error {
			_, err := c.FindBuckets(context.Background(), "telegraf", "")
			return err
		}, maxBody + 1, "larger than 1 MiB"},
		{"error body", 500, `{"code":"internal error","message":"`, func(c *Client) error {
			_, err := c.FindOrgs(context.Background(), "acme")
			return err
		}, 16 << 10, "500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &hugeTransport{status: tc.status, head: tc.head, size: 400 << 20}
			c, err := New(Options{Host: "http://influx.test", Token: faultsToken, MaxBody: maxBody, Retry: RetryPolicy{MaxAttempts: 1}, HTTPClient: &http.Client{Transport: tr}})
			if err != nil {
				t.Fatal(err)
			}
			err = tc.call(c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if got := tr.read.Load(); got > tc.limit {
				t.Errorf("read %d bytes, want at most %d", got, tc.limit)
			}
		})
	}
}

// faultsServer is the fake InfluxDB, holding token 0a1b2c3d4e5f6a7b, that
// answers normally unless fault is set.
func faultsServer(t *testing.T, tlsServer bool) (*httptest.Server, *atomic.Pointer[http.HandlerFunc]) {
	t.Helper()
	w := fakeinflux.World{Auths: []fakeinflux.Auth{{ID: "0a1b2c3d4e5f6a7b", Status: "active"}}}
	var s *fakeinflux.Server
	if tlsServer {
		s = fakeinflux.StartTLS(t, w, "")
	} else {
		s = fakeinflux.Start(t, w)
	}
	var fault atomic.Pointer[http.HandlerFunc]
	s.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		f := fault.Load()
		if f != nil {
			(*f)(w, r)
		}
		return f != nil
	})
	return s.HTTP, &fault
}

func faultsClient(t *testing.T, host string, timeout time.Duration) *Client {
	t.Helper()
	c, err := New(Options{Host: host, Token: faultsToken, Timeout: timeout, Retry: RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestHTTPFaultsLeaveTheClientWorking(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault http.HandlerFunc
		check func(t *testing.T, err error)
		hangs bool // only the client's timeout ends the call
	}{
		{"HTML 503", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(503)
			io.WriteString(w, "<html>maintenance</html>")
		}, func(t *testing.T, err error) {
			var e *APIError
			if !errors.As(err, &e) || !e.NotJSON || e.ContentType != "text/html" || e.StatusCode != 503 {
				t.Errorf("err = %#v", err)
			}
		}, false},
		{"token echoed in a decode error", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"id":"0a1b2c3d4e5f6a7b","createdAt":"`+faultsToken+`"}`)
		}, func(t *testing.T, err error) {
			var e *ResponseError
			if !errors.As(err, &e) || strings.Contains(err.Error(), faultsToken) || !strings.Contains(e.Reason, "RFC 3339") {
				t.Errorf("err = %v", err)
			}
		}, false},
		{"a megabyte in a decode error", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"id":"0a1b2c3d4e5f6a7b","permissions":[{"action":"`+strings.Repeat("y", 1<<20)+`","resource":5}]}`)
		}, func(t *testing.T, err error) {
			var e *ResponseError
			if !errors.As(err, &e) || len(err.Error()) > 1000 {
				t.Errorf("err (%d bytes) = %.300v", len(err.Error()), err)
			}
		}, false},
		{"truncated", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, `{"id":"0a1b`)
		}, func(t *testing.T, err error) {
			var e *ResponseError
			if !errors.As(err, &e) {
				t.Errorf("err = %#v", err)
			}
		}, false},
		{"headers, then nothing", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"id":`)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}, func(t *testing.T, err error) {
			var e *TransportError
			if !errors.As(err, &e) || !IsTimeout(err) {
				t.Errorf("err = %#v, want a timeout", err)
			}
		}, true},
		{"no answer at all", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, func(t *testing.T, err error) {
			var e *TransportError
			if !errors.As(err, &e) || !IsTimeout(err) {
				t.Errorf("err = %#v, want a timeout", err)
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, fault := faultsServer(t, false)
			// A timeout that the faults which hang reach quickly, yet that a
			// loaded machine does not reach on the other calls.
			timeout := 30 * time.Second
			if tc.hangs {
				timeout = 2 * time.Second
			}
			c := faultsClient(t, srv.URL, timeout)
			fault.Store(&tc.fault)
			start := time.Now()
			_, err := c.GetAuthorization(context.Background(), "0a1b2c3d4e5f6a7b")
			if took := time.Since(start); took > timeout+10*time.Second {
				t.Errorf("took %s with a timeout of %s", took, timeout)
			}
			tc.check(t, err)
			if err != nil && strings.Contains(err.Error(), faultsToken) {
				t.Errorf("error holds the token: %v", err)
			}
			fault.Store(nil)
			if a, err := c.GetAuthorization(context.Background(), "0a1b2c3d4e5f6a7b"); err != nil || a.ID != "0a1b2c3d4e5f6a7b" {
				t.Errorf("next call: %v", err)
			}
		})
	}
}

func TestTransportFaultsAreTyped(t *testing.T) {
	t.Parallel()
	tlsSrv, _ := faultsServer(t, true)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String()
	l.Close()

	for _, tc := range []struct {
		name  string
		host  string
		check func(t *testing.T, err error)
	}{
		{"refused", refused, func(t *testing.T, err error) {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("err = %v, want ECONNREFUSED", err)
			}
		}},
		{"DNS", "http://influxdb.example.invalid:8086", func(t *testing.T, err error) {
			var dnsErr *net.DNSError
			if !errors.As(err, &dnsErr) || dnsErr.Name != "influxdb.example.invalid" {
				t.Errorf("err = %v, want a DNS error naming the host", err)
			}
		}},
		{"self-signed", tlsSrv.URL, func(t *testing.T, err error) {
			var unknown x509.UnknownAuthorityError
			if !errors.As(err, &unknown) {
				t.Errorf("err = %#v, want an unknown authority", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := faultsClient(t, tc.host, 5*time.Second).GetAuthorization(context.Background(), "0a1b2c3d4e5f6a7b")
			var te *TransportError
			if !errors.As(err, &te) || te.Host == "" || !strings.Contains(err.Error(), te.Host) {
				t.Fatalf("err = %v, want a TransportError naming the host", err)
			}
			tc.check(t, err)
		})
	}
}

// Cancelling the call's context aborts the request InfluxDB is serving.
func TestCancelAbortsTheRequest(t *testing.T) {
	t.Parallel()
	srv, fault := faultsServer(t, false)
	reached, aborted := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(reached)
		select {
		case <-r.Context().Done():
			close(aborted)
		case <-time.After(10 * time.Second):
		}
	})
	fault.Store(&h)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := faultsClient(t, srv.URL, 30*time.Second).GetAuthorization(ctx, "0a1b2c3d4e5f6a7b")
		errc <- err
	}()
	<-reached
	cancel()
	select {
	case <-aborted:
	case <-time.After(2 * time.Second):
		t.Fatal("InfluxDB's request was not aborted")
	}
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled inside", err)
	}
}
