package binarytest

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenaudit/influx-token-mcp/internal/fakeinflux"
	"github.com/tokenaudit/influx-token-mcp/internal/mcpstdio"
)

// No token in any output, through every tool, fault and log level.

// Canary tokens, as the configured token and as every token InfluxDB
// returns, never reach stdout, stderr or a result: every tool, every error
// path, every log level.
func TestSecretsNeverLeak(t *testing.T) {
	bin := raceBinary(t)
	f := newFake(t)
	injectFaults(f)
	untrusted := fakeinflux.StartTLS(t, world(), prefix) // a certificate the server does not trust
	hang := hangingListener(t)
	refused := fakeinflux.ClosedPortURL(t)

	hosts := map[string]string{
		"fake":    f.URL,
		"refused": refused,
		"dns":     "http://influxdb.example.invalid:8086",
		"tls":     untrusted.URL,
		"hang":    "http://" + hang,
	}
	for _, level := range []string{"debug", "info", "warn", "error"} {
		for _, hostName := range []string{"fake", "refused", "dns", "tls", "hang"} {
			t.Run(level+"/"+hostName, func(t *testing.T) {
				env := baseEnv(t, hosts[hostName])
				env["INFLUX_LOG_LEVEL"] = level
				// A short timeout where every call must fail anyway (no DNS
				// answer may come in the sandbox; the hanging host only
				// ends by it), so that the test stays quick; elsewhere a
				// generous one, so that a loaded machine cannot turn a
				// success into a timeout.
				env["INFLUX_TIMEOUT"] = "30s"
				if hostName == "dns" || hostName == "hang" {
					env["INFLUX_TIMEOUT"] = "300ms"
				}
				p := mcpstdio.Start(t, bin, env)
				p.Initialize(t)
				calls := secretProbeCalls(hostName == "fake")
				for i, c := range calls {
					p.Send(t, toolCall(i, c.tool, c.args))
				}
				p.Send(t, request("tools", "tools/list", nil))
				p.Send(t, request("prompt", "prompts/get", map[string]any{"name": "audit_tokens", "arguments": map[string]string{"org": "acme", "user": "alice"}}))
				for i, c := range calls {
					res := p.Await(t, i, 10*time.Second).Tool(t)
					if c.wantErr != res.IsError {
						t.Errorf("%s %v: isError=%v: %s", c.tool, c.args, res.IsError, res.Text())
					}
				}
				p.Await(t, "tools", 5*time.Second)
				p.Await(t, "prompt", 5*time.Second)
				p.Stdin.Close()
				if code, _ := p.WaitExit(t, 5*time.Second); code != 0 {
					t.Errorf("exit status %d", code)
				}
				for where, s := range map[string]string{"stdout": p.Output(), "stderr": p.Stderr()} {
					if i := strings.Index(s, canaryToken); i >= 0 {
						t.Errorf("%s holds the configured token: …%s…", where, s[max(0, i-300):min(len(s), i+100)])
					}
					if strings.Contains(s, fakeinflux.CanaryPrefix) {
						t.Errorf("%s holds a token InfluxDB returned", where)
					}
				}
				if level == "debug" && !strings.Contains(p.Stderr(), "level=DEBUG") {
					t.Errorf("no debug log written; the test would not see a leak there:\n%s", p.Stderr())
				}
			})
		}
	}
	if f.Requests.Load() == 0 {
		t.Fatal("the fake InfluxDB saw no request")
	}
}

// secretProbeCalls exercise every tool and every error path of the fake.
func secretProbeCalls(reachable bool) []probeCall {
	ok := !reachable
	calls := []probeCall{
		{"list_tokens", map[string]any{}, ok},
		{"list_tokens", map[string]any{"org": "acme", "status": "active", "risk": "can-create-tokens"}, ok},
		{"list_tokens", map[string]any{"action": "write", "resourceType": "buckets", "resourceName": "telegraf"}, ok},
		{"list_tokens", map[string]any{"resourceType": "orgs", "resourceName": "acme"}, ok},
		{"get_token", map[string]any{"authID": "0a00000000000001"}, ok},
		{"get_token", map[string]any{"authID": "not-an-id"}, true},
	}
	if ok { // unreachable host: every call fails the same way
		for i := range calls {
			calls[i].wantErr = true
		}
		return calls
	}
	for name, id := range faultIDs {
		calls = append(calls, probeCall{"get_token", map[string]any{"authID": id}, true})
		calls = append(calls, probeCall{"list_tokens", map[string]any{"user": name}, true})
	}
	return calls
}

// hangingListener accepts connections and never answers.
func hangingListener(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

type probeCall struct {
	tool    string
	args    map[string]any
	wantErr bool
}
