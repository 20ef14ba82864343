package binarytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenaudit/influx-token-mcp/internal/mcpstdio"
)

// The life of a server process: start-up failures, stdin EOF, signals,
// concurrent calls and cancellation.

func TestStartupFailureWritesNothingToStdout(t *testing.T) {
	bin := raceBinary(t)
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no configuration", map[string]string{}, "INFLUX_HOST"},
		{"bad host", map[string]string{"INFLUX_HOST": "localhost:8086", "INFLUX_TOKEN": canaryToken}, "INFLUX_HOST"},
		{"bad timeout", map[string]string{"INFLUX_HOST": "http://localhost:8086", "INFLUX_TOKEN": canaryToken, "INFLUX_TIMEOUT": "soon"}, "INFLUX_TIMEOUT"},
		{"bad log level", map[string]string{"INFLUX_HOST": "http://localhost:8086", "INFLUX_TOKEN": canaryToken, "INFLUX_LOG_LEVEL": "loud"}, "INFLUX_LOG_LEVEL"},
		{"token file missing", map[string]string{"INFLUX_HOST": "http://localhost:8086", "INFLUX_TOKEN_FILE": "/nonexistent/token"}, "INFLUX_TOKEN_FILE"},
		{"unknown argument", nil, "unknown argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin)
			cmd.Env = []string{"HOME=" + t.TempDir(), "GORACE=atexit_sleep_ms=0"}
			for k, v := range tc.env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			if tc.env == nil {
				cmd.Args = append(cmd.Args, "--serve")
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.Stdin = strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}` + "\n")
			err := cmd.Run()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 1 {
				t.Errorf("exit: %v, want status 1", err)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr = %q, want it to name %s", stderr.String(), tc.want)
			}
			if strings.Contains(stderr.String(), canaryToken) {
				t.Errorf("stderr holds the token: %q", stderr.String())
			}
		})
	}
}

// On stdin EOF, calls already sent are answered in full before the server
// exits with 0.
func TestStdinEOFFinishesCallsInFlight(t *testing.T) {
	const n = 20
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf("0b%014x", i))
	}
	f := newFake(t, ids...)
	delaying(f, func(string) time.Duration { return 400 * time.Millisecond })
	p := mcpstdio.Start(t, raceBinary(t), baseEnv(t, f.URL))
	p.Initialize(t)
	for i := range n {
		p.Send(t, toolCall(i, "get_token", map[string]any{"authID": fmt.Sprintf("0b%014x", i)}))
	}
	p.Send(t, toolCall("list", "list_tokens", map[string]any{}))
	p.Stdin.Close()

	code, _ := p.WaitExit(t, 5*time.Second)
	if code != 0 {
		t.Errorf("exit status %d, want 0; stderr:\n%s", code, p.Stderr())
	}
	for i := range n {
		res := p.Await(t, i, 0).Tool(t)
		if want := fmt.Sprintf("token 0b%014x", i); res.IsError || !strings.Contains(res.Text(), want) {
			t.Errorf("call %d: isError=%v %q, want the token's details (%s)", i, res.IsError, res.Text(), want)
		}
	}
	if res := p.Await(t, "list", 0).Tool(t); res.IsError {
		t.Errorf("list_tokens: %s", res.Text())
	}
}

func TestSignalsStopPromptly(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			f := newFake(t)
			reached := make(chan struct{}, 1)
			f.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
				reached <- struct{}{}
				<-r.Context().Done() // hangs until the server gives up
				return true
			})
			env := baseEnv(t, f.URL)
			env["INFLUX_TIMEOUT"] = "1m"
			p := mcpstdio.Start(t, raceBinary(t), env)
			p.Initialize(t)
			p.Send(t, toolCall(1, "list_tokens", map[string]any{}))
			select {
			case <-reached:
			case <-time.After(5 * time.Second):
				t.Fatal("the call did not reach InfluxDB")
			}
			if err := p.Cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			code, took := p.WaitExit(t, 2*time.Second)
			if code != 0 {
				t.Errorf("exit status %d, want 0; stderr:\n%s", code, p.Stderr())
			}
			t.Logf("exited %s after %s", sig, took)
		})
	}
}

// 200 calls at once on one session: each answer is the right one for its id.
func TestConcurrentCallsMatchTheirIDs(t *testing.T) {
	const n = 200
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf("0c%014x", i*7919))
	}
	f := newFake(t, ids...)
	delaying(f, func(id string) time.Duration {
		n, _ := strconv.ParseUint(id, 16, 64)
		return time.Duration(n%7) * 3 * time.Millisecond
	})
	p := mcpstdio.Start(t, raceBinary(t), baseEnv(t, f.URL))
	p.Initialize(t)
	want := map[any]string{}
	for i := range n {
		var id any = i
		if i%3 == 0 {
			id = fmt.Sprintf("req-%d", i) // string ids too
		}
		if i%10 == 9 {
			want[id] = "list"
			p.Send(t, toolCall(id, "list_tokens", map[string]any{"limit": 1 + i%3}))
			continue
		}
		authID := fmt.Sprintf("0c%014x", i*7919)
		want[id] = "token " + authID
		p.Send(t, toolCall(id, "get_token", map[string]any{"authID": authID}))
	}
	for id, w := range want {
		res := p.Await(t, id, 30*time.Second).Tool(t)
		switch {
		case res.IsError:
			t.Errorf("id %v: tool error %q", id, res.Text())
		case w == "list":
			var l struct{ Count int }
			if err := json.Unmarshal(res.Structured, &l); err != nil || l.Count == 0 {
				t.Errorf("id %v: list answer %s", id, res.Structured)
			}
		case !strings.Contains(res.Text(), w) || strings.Count(res.Text(), "token 0c") != 1:
			t.Errorf("id %v: got %q, want only %q", id, res.Text(), w)
		}
	}
	p.Stdin.Close()
	if code, _ := p.WaitExit(t, 5*time.Second); code != 0 {
		t.Errorf("exit status %d; stderr:\n%s", code, p.Stderr())
	}
}

// notifications/cancelled aborts the HTTP request to InfluxDB, and the
// session goes on.
func TestCancelledNotificationAbortsTheUpstreamRequest(t *testing.T) {
	f := newFake(t)
	reached := make(chan struct{}, 1)
	aborted := make(chan struct{}, 1)
	f.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Query().Get("user") != "slow" {
			return false
		}
		reached <- struct{}{}
		select {
		case <-r.Context().Done():
			aborted <- struct{}{}
		case <-time.After(20 * time.Second):
		}
		return true
	})
	env := baseEnv(t, f.URL)
	env["INFLUX_TIMEOUT"] = "30s"
	p := mcpstdio.Start(t, raceBinary(t), env)
	p.Initialize(t)
	p.Send(t, toolCall(7, "list_tokens", map[string]any{"user": "slow"}))
	select {
	case <-reached:
	case <-time.After(5 * time.Second):
		t.Fatal("the call did not reach InfluxDB")
	}
	p.Send(t, map[string]any{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": map[string]any{"requestId": 7, "reason": "user abort"}})
	select {
	case <-aborted:
	case <-time.After(3 * time.Second):
		t.Fatal("the request to InfluxDB was not aborted")
	}
	if res := p.Await(t, 7, 5*time.Second).Tool(t); !res.IsError || !strings.Contains(res.Text(), "cancelled") {
		t.Errorf("cancelled call answered %q", res.Text())
	}
	p.Send(t, toolCall(8, "get_token", map[string]any{"authID": "0a00000000000001"}))
	if res := p.Await(t, 8, 5*time.Second).Tool(t); res.IsError {
		t.Errorf("the next call failed: %s", res.Text())
	}
}
