package binarytest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenaudit/influx-token-mcp/internal/mcpstdio"
)

// A proxy from HTTP_PROXY is used for INFLUX_HOST, and the start-up log
// says so, naming the proxy without its credentials and warning that over
// plain http it sees the token.
func TestProxyInUseIsLogged(t *testing.T) {
	fake := newFake(t)
	var proxied, sawToken atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A forward proxy gets the absolute URL; this one is InfluxDB itself.
		if r.URL.Host == "influx.invalid:8086" {
			proxied.Add(1)
			if strings.Contains(r.Header.Get("Authorization"), canaryToken) {
				sawToken.Add(1)
			}
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	proxyHost := strings.TrimPrefix(proxy.URL, "http://")

	env := baseEnv(t, "http://influx.invalid:8086"+prefix)
	env["HTTP_PROXY"] = "http://proxyuser:proxy-s3cret@" + proxyHost
	p := mcpstdio.Start(t, raceBinary(t), env)
	p.Initialize(t)
	p.Send(t, toolCall(1, "get_token", map[string]any{"authID": "0a00000000000001"}))
	if r := p.Await(t, 1, 10*time.Second).Tool(t); r.IsError {
		t.Fatalf("the call through the proxy failed: %s", r.Text())
	}
	if proxied.Load() == 0 || sawToken.Load() == 0 {
		t.Errorf("the proxy saw %d requests, %d with the token; want the call to go through it", proxied.Load(), sawToken.Load())
	}
	logs := p.Stderr()
	if !strings.Contains(logs, "proxy=http://"+proxyHost) || !strings.Contains(logs, "the proxy sees the token") {
		t.Errorf("the start-up log does not name the proxy and warn about plain http:\n%s", logs)
	}
	if strings.Contains(logs, "proxy-s3cret") || strings.Contains(logs, "proxyuser") {
		t.Errorf("the log holds the proxy's credentials:\n%s", logs)
	}
}
