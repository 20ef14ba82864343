package influx

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenaudit/influx-token-mcp/internal/fakeinflux"
)

const untrustedToken = "untrusted-test-token-Q9xZ_vB1uN7mK2/+=="

// tokenSeen counts requests that reached a server and those that carried
// the token.
type tokenSeen struct{ requests, withToken atomic.Int32 }

func (s *tokenSeen) record(r *http.Request) {
	s.requests.Add(1)
	if strings.Contains(r.Header.Get("Authorization"), untrustedToken) {
		s.withToken.Add(1)
	}
}

// quietServer is the fake InfluxDB answering every request with h, whatever
// its token (the tests check where the token goes), over TLS if asked.
func quietServer(t *testing.T, h http.HandlerFunc, tlsServer bool) *httptest.Server {
	t.Helper()
	var s *fakeinflux.Server
	if tlsServer {
		s = fakeinflux.StartTLS(t, fakeinflux.World{}, "")
	} else {
		s = fakeinflux.Start(t, fakeinflux.World{})
	}
	s.Token = ""
	s.Intercept(func(w http.ResponseWriter, r *http.Request) bool { h(w, r); return true })
	return s.HTTP
}

func authorizationJSON(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"id":"0a1b2c3d4e5f6a7b","status":"active"}`)
}

// A redirect that leaves INFLUX_HOST's scheme, host or port is refused: the
// token does not go there, and the error names the status and the target's
// origin, without its path or query.
func TestRedirectToAnotherOriginIsRefused(t *testing.T) {
	var elsewhere tokenSeen
	other := quietServer(t, func(w http.ResponseWriter, r *http.Request) {
		elsewhere.record(r)
		authorizationJSON(w)
	}, false)
	otherTLS := quietServer(t, func(w http.ResponseWriter, r *http.Request) {
		elsewhere.record(r)
		authorizationJSON(w)
	}, true)

	for _, tc := range []struct {
		name      string
		status    int
		target    string
		tlsOrigin bool
	}{
		{"302 to another port", http.StatusFound, other.URL, false},
		{"301 to another port", http.StatusMovedPermanently, other.URL, false},
		{"307 to another port", http.StatusTemporaryRedirect, other.URL, false},
		{"308 to another port", http.StatusPermanentRedirect, other.URL, false},
		{"https to plain http on the same host", http.StatusFound, other.URL, true},
		{"to another host name", http.StatusFound, strings.Replace(other.URL, "127.0.0.1", "localhost", 1), false},
		{"to https on another port", http.StatusFound, otherTLS.URL, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			elsewhere.requests.Store(0)
			elsewhere.withToken.Store(0)
			origin := quietServer(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, tc.target+"/secret/path?q="+untrustedToken, tc.status)
			}, tc.tlsOrigin)
			// Test certificates: verification is not what this is about.
			c, err := New(Options{Host: origin.URL, Token: untrustedToken, SkipVerify: true, Retry: RetryPolicy{MaxAttempts: 1}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetAuthorization(context.Background(), "0a1b2c3d4e5f6a7b")
			if n := elsewhere.withToken.Load(); n > 0 {
				t.Errorf("the token was sent to the redirect target %d times", n)
			}
			if n := elsewhere.requests.Load(); n > 0 {
				t.Errorf("the redirect was followed (%d requests)", n)
			}
			var re *RedirectError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a RedirectError", err)
			}
			target, _ := url.Parse(tc.target)
			if re.StatusCode != tc.status || re.To != originOf(target) || re.TooMany {
				t.Errorf("RedirectError = %+v, want status %d to %s", re, tc.status, originOf(target))
			}
			if msg := err.Error(); strings.Contains(msg, "secret/path") || strings.Contains(msg, untrustedToken) {
				t.Errorf("error names the target's path or query: %s", msg)
			}
		})
	}
}

// Redirects within the origin are followed, a few of them.
func TestRedirectWithinTheOrigin(t *testing.T) {
	var hops atomic.Int32
	srv := quietServer(t, func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscanf(r.URL.Query().Get("hop"), "%d", &n)
		if r.URL.Query().Get("hop") == "" || n < int(hops.Load()) {
			http.Redirect(w, r, fmt.Sprintf("%s?hop=%d", r.URL.Path, n+1), http.StatusTemporaryRedirect)
			return
		}
		if r.Header.Get("Authorization") != "Token "+untrustedToken {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		authorizationJSON(w)
	}, false)
	c, err := New(Options{Host: srv.URL, Token: untrustedToken, Retry: RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	hops.Store(MaxRedirects - 1) // MaxRedirects redirects in all
	if _, err := c.GetAuthorization(context.Background(), "0a1b2c3d4e5f6a7b"); err != nil {
		t.Fatalf("%d redirects within the origin: %v", MaxRedirects, err)
	}
	hops.Store(50) // a chain, or a loop
	_, err = c.GetAuthorization(context.Background(), "0a1b2c3d4e5f6a7b")
	var re *RedirectError
	if !errors.As(err, &re) || !re.TooMany {
		t.Fatalf("a long chain: err = %v, want a RedirectError with TooMany", err)
	}
}

func TestOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"http://Example.com":           "http://example.com:80",
		"http://example.com:80/x?y":    "http://example.com:80",
		"https://example.com":          "https://example.com:443",
		"https://example.com:8086/api": "https://example.com:8086",
		"http://[::1]:8086":            "http://[::1]:8086",
	} {
		u, _ := url.Parse(in)
		if got := originOf(u); got != want {
			t.Errorf("originOf(%s) = %s, want %s", in, got, want)
		}
	}
}

// rawServer answers every connection with reply(token), token being what
// followed "Authorization: Token " in the request: a server that echoes the
// token into a malformed answer.
func rawServer(t *testing.T, reply func(token string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				token := ""
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if v, ok := strings.CutPrefix(line, "Authorization: Token "); ok {
						token = strings.TrimSpace(v)
					}
					if line == "\r\n" {
						break
					}
				}
				conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
				io.WriteString(conn, reply(token))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// Malformed answers that quote the token back: the transport's error names
// the server's bytes, and must reach nobody with the token in it.
func TestMalformedAnswersDoNotLeakTheToken(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for name, reply := range map[string]func(string) string{
		"unparsable Location": func(tok string) string {
			return "HTTP/1.1 302 Found\r\nLocation: http://[" + tok + "\r\nContent-Length: 0\r\n\r\n"
		},
		"4 MiB Location": func(tok string) string {
			return "HTTP/1.1 302 Found\r\nLocation: http://[" + strings.Repeat(tok+"%", 100_000) + "\r\nContent-Length: 0\r\n\r\n"
		},
		"malformed status line": func(tok string) string {
			return "HTTP/1.1 2x0 " + tok + "\r\nContent-Length: 0\r\n\r\n"
		},
		"malformed status code": func(tok string) string { return "HTTP/1.1 " + tok + " OK\r\n\r\n" },
		"malformed header line": func(tok string) string {
			return "HTTP/1.1 200 OK\r\n" + tok + " " + b64(tok) + " " + url.QueryEscape(tok) + "\r\nContent-Length: 0\r\n\r\n"
		},
		"not HTTP at all": func(tok string) string { return tok + "\n" + b64("x:"+tok) + "\n" },
	} {
		t.Run(name, func(t *testing.T) {
			host := rawServer(t, reply)
			c, err := New(Options{Host: host, Token: untrustedToken, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetAuthorization(context.Background(), "0a1b2c3d4e5f6a7b")
			var te *TransportError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v, want a TransportError", err)
			}
			for _, form := range []string{untrustedToken, url.QueryEscape(untrustedToken), b64(untrustedToken)[:40]} {
				if strings.Contains(te.Detail, form) || strings.Contains(te.Error(), form) {
					t.Errorf("the error holds the token (as %q): %.300s", form, te.Error())
				}
			}
			if len(te.Detail) > maxDetail+len(Clipped) {
				t.Errorf("Detail is %d bytes long", len(te.Detail))
			}
		})
	}
}

// What a kept token costs is bounded by MaxField per string, not by what
// the server sent: 60 tokens with 400 KB descriptions (24 MB) are kept in a
// few hundred KiB.
func TestLongStringsAreClippedAtDecode(t *testing.T) {
	const tokens, descLen = 60, 400_000
	desc := strings.Repeat("d", descLen)
	srv := quietServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"authorizations":[`)
		for i := range tokens {
			if i > 0 {
				io.WriteString(w, ",")
			}
			fmt.Fprintf(w, `{"id":"0a1b2c3d4e5f%04x","description":"%s","user":"%s","permissions":[{"action":"read","resource":{"type":"buckets","name":"%s"}}]}`, i, desc, desc[:8000], desc[:9000])
		}
		io.WriteString(w, `]}`)
	}, false)
	c, err := New(Options{Host: srv.URL, Token: untrustedToken})
	if err != nil {
		t.Fatal(err)
	}
	var kept []*Authorization
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err = c.ListAuthorizations(context.Background(), ListFilter{}, func(a *Authorization) error {
		kept = append(kept, a)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	retained := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d tokens kept, %d KiB retained", len(kept), retained>>10)
	if retained > 4<<20 {
		t.Errorf("keeping %d tokens retains %d MiB", len(kept), retained>>20)
	}
	for _, a := range kept {
		for _, s := range []string{a.Description, a.User, a.Permissions[0].Resource.Name} {
			if len(s) != MaxField+len(Clipped) || !strings.HasSuffix(s, Clipped) {
				t.Fatalf("a %d-byte string, want %d ending in %q", len(s), MaxField+len(Clipped), Clipped)
			}
		}
	}
	runtime.KeepAlive(kept)
}
