package main

// These tests build the server once and drive the binary over stdio, the way
// an MCP client does: start-up failures, stdin EOF, signals, 200 concurrent
// calls, cancellation, malformed and oversized input, huge upstream answers
// and, at every log level, that no token ever shows up anywhere.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// binDir holds the binaries built for the tests.
var binDir string

var (
	buildMu sync.Mutex
	built   = map[bool]string{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "influx-token-mcp-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// raceEnabled reports whether these tests run under the race detector; the
// binary is then built with it too.
func raceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}

// binary builds the server (once per flavour) and returns its path.
func binary(t *testing.T, race bool) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[race]; ok {
		return p
	}
	p := filepath.Join(binDir, "influx-token-mcp")
	args := []string{"build", "-o"}
	if race {
		p += "-race"
		args = append(args, p, "-race", ".")
	} else {
		args = append(args, p, ".")
	}
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	built[race] = p
	return p
}

// The configured token and the token values the fake InfluxDB returns are
// canaries: none may appear in stdout, stderr or any result.
const (
	canaryToken  = "CANARY-configured-0f1e2d3c4b5a69788796a5b4c3d2e1f0=="
	canaryPrefix = "CANARY-returned-"
)

func returnedToken(id string) string { return canaryPrefix + id + "-Zq8_x-Pw==" }

// ---------------------------------------------------------------------------
// A fake InfluxDB. Authorization IDs choose the answer: a normal token, or a
// fault (see faultIDs); user names do the same for the list.

type fakeInflux struct {
	srv      *httptest.Server
	requests atomic.Int64
	delay    func(id string) time.Duration
	// hook, when set, sees each request first and answers it if it returns true.
	hook atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
}

func newFakeInflux(t *testing.T) *fakeInflux {
	f := &fakeInflux{}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeInflux) setHook(h func(w http.ResponseWriter, r *http.Request) bool) { f.hook.Store(&h) }

func authJSON(id string) map[string]any {
	return map[string]any{
		"id": id, "token": returnedToken(id), "status": "active", "description": "token " + id,
		"orgID": "2ee51bdadf9c0ae1", "org": "acme", "userID": "11b2f4c47da08000", "user": "alice",
		"permissions": []any{map[string]any{"action": "write", "resource": map[string]any{
			"type": "buckets", "id": "1b8b4c1613714666", "name": "telegraf", "orgID": "2ee51bdadf9c0ae1", "org": "acme"}}},
		"createdAt": "2025-01-15T09:30:00Z", "updatedAt": "2025-01-15T09:30:00Z",
	}
}

// faults answer like a broken or hostile InfluxDB; every one of them echoes
// the configured token somewhere.
var faults = map[string]func(w http.ResponseWriter){
	"unauthorized": func(w http.ResponseWriter) {
		jsonError(w, 401, "unauthorized", "token "+canaryToken+" is not valid")
	},
	"forbidden": func(w http.ResponseWriter) { jsonError(w, 403, "forbidden", "User is inactive; token "+canaryToken) },
	"notfound":  func(w http.ResponseWriter) { jsonError(w, 404, "not found", "authorization not found") },
	"invalid":   func(w http.ResponseWriter) { jsonError(w, 400, "invalid", "bad request for "+canaryToken) },
	"ratelimit": func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "3600")
		jsonError(w, 429, "too many requests", "quota exceeded for "+canaryToken)
	},
	"html": func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(502)
		fmt.Fprintf(w, "<html><body>Bad gateway for Token %s</body></html>", canaryToken)
	},
	"badjson": func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"0a00000000000001","token":"%s",`, canaryToken)
	},
	"badtime": func(w http.ResponseWriter) {
		a := authJSON("0a00000000000001")
		a["createdAt"] = canaryToken
		writeJSON(w, a)
	},
	"badtime2": func(w http.ResponseWriter) { // a value the server cannot know to scrub
		a := authJSON("0a00000000000001")
		a["updatedAt"] = returnedToken("0a00000000000001")
		writeJSON(w, a)
	},
	"badshape": func(w http.ResponseWriter) { writeJSON(w, []string{canaryToken}) },
}

// faultIDs are the get_token IDs that trigger each fault.
var faultIDs = map[string]string{
	"unauthorized": "0f00000000000401", "forbidden": "0f00000000000403", "notfound": "0f00000000000404",
	"invalid": "0f00000000000400", "ratelimit": "0f00000000000429", "html": "0f00000000000502",
	"badjson": "0f0000000000bad0", "badtime": "0f0000000000bad1", "badshape": "0f0000000000bad2", "badtime2": "0f0000000000bad3",
}

func jsonError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Platform-Error-Code", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeInflux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	if r.Header.Get("Authorization") != "Token "+canaryToken {
		jsonError(w, 401, "unauthorized", "unauthorized access")
		return
	}
	if h := f.hook.Load(); h != nil && (*h)(w, r) {
		return
	}
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, "/api/v2/authorizations/"):
		id := strings.TrimPrefix(path, "/api/v2/authorizations/")
		for name, fid := range faultIDs {
			if id == fid {
				faults[name](w)
				return
			}
		}
		if f.delay != nil {
			time.Sleep(f.delay(id))
		}
		writeJSON(w, authJSON(id))
	case path == "/api/v2/authorizations":
		if fault, ok := faults[r.URL.Query().Get("user")]; ok {
			fault(w)
			return
		}
		list := []any{}
		for i := range 3 {
			list = append(list, authJSON(fmt.Sprintf("0a0000000000000%d", i+1)))
		}
		writeJSON(w, map[string]any{"links": map[string]string{"self": "/api/v2/authorizations"}, "authorizations": list})
	case path == "/api/v2/buckets":
		writeJSON(w, map[string]any{"buckets": []any{map[string]any{"id": "1b8b4c1613714666", "name": "telegraf", "orgID": "2ee51bdadf9c0ae1"}}})
	case path == "/api/v2/orgs":
		writeJSON(w, map[string]any{"orgs": []any{map[string]any{"id": "2ee51bdadf9c0ae1", "name": "acme"}}})
	default:
		jsonError(w, 404, "not found", "path not found")
	}
}

// ---------------------------------------------------------------------------
// The server process and a minimal MCP client for it.

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type message struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Result  json.RawMessage `json:"result"`
	Error   *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	raw []byte
}

type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *lockedBuffer
	stdout *lockedBuffer // everything, for the secret checks

	mu      sync.Mutex
	answers map[string]message // by the id's JSON
	arrived chan struct{}      // closed and replaced on every answer
	bad     []string           // stdout lines that are not JSON-RPC
	exited  chan struct{}
	exitErr error
}

func baseEnv(t *testing.T, host string) map[string]string {
	return map[string]string{
		"HOME":             t.TempDir(), // no influx CLI profile
		"INFLUX_HOST":      host,
		"INFLUX_TOKEN":     canaryToken,
		"INFLUX_LOG_LEVEL": "debug",
		"INFLUX_TIMEOUT":   "5s",
		"GORACE":           "atexit_sleep_ms=0", // a race binary sleeps 1 s at exit by default
	}
}

// startServer runs the binary with exactly env as its environment.
func startServer(t *testing.T, bin string, env map[string]string) *proc {
	t.Helper()
	return startServerReadingAfter(t, bin, env, nil)
}

// startServerReadingAfter is startServer for a client that reads nothing
// from the server's stdout until readFrom is closed (nil: at once).
func startServerReadingAfter(t *testing.T, bin string, env map[string]string, readFrom <-chan struct{}) *proc {
	t.Helper()
	cmd := exec.Command(bin)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{t: t, cmd: cmd, stderr: &lockedBuffer{}, stdout: &lockedBuffer{},
		answers: map[string]message{}, arrived: make(chan struct{}), exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		if readFrom != nil {
			<-readFrom // the test must close it, also when it fails
		}
		p.readStdout(out)
	}()
	go func() {
		<-readDone
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, l := range p.bad {
			t.Errorf("stdout carried something that is not a JSON-RPC message: %.200q", l)
		}
		if strings.Contains(p.stderr.String(), "DATA RACE") {
			t.Errorf("the race detector fired:\n%s", p.stderr.String())
		}
	})
	return p
}

func (p *proc) readStdout(r io.Reader) {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			_, _ = p.stdout.Write(line)
			p.record(bytes.TrimRight(line, "\n"))
		}
		if err != nil {
			return
		}
	}
}

func (p *proc) record(line []byte) {
	var m message
	err := json.Unmarshal(line, &m)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil || m.JSONRPC != "2.0" || (m.Method == "" && m.Result == nil && m.Error == nil) {
		p.bad = append(p.bad, string(line))
		return
	}
	if m.Method != "" {
		return // a notification from the server
	}
	m.raw = line
	key := string(m.ID)
	if _, dup := p.answers[key]; dup && key != "null" {
		p.bad = append(p.bad, "second answer to id "+key)
	}
	p.answers[key] = m
	close(p.arrived)
	p.arrived = make(chan struct{})
}

func (p *proc) send(v any) {
	p.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		p.t.Fatal(err)
	}
	p.sendRaw(b)
}

func (p *proc) sendRaw(b []byte) {
	p.t.Helper()
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.t.Fatalf("writing to the server: %v", err)
	}
}

func request(id any, method string, params any) map[string]any {
	m := map[string]any{"jsonrpc": "2.0", "id": id, "method": method}
	if params != nil {
		m["params"] = params
	}
	return m
}

func toolCall(id any, tool string, args any) map[string]any {
	return request(id, "tools/call", map[string]any{"name": tool, "arguments": args})
}

func (p *proc) initialize() {
	p.t.Helper()
	p.send(request("init", "initialize", map[string]any{
		"protocolVersion": "2025-06-18", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "test", "version": "1"},
	}))
	if m := p.await("init", 10*time.Second); m.Error != nil {
		p.t.Fatalf("initialize: %s", m.raw)
	}
	p.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
}

// await waits for the answer to id (any JSON value; "null" for id null).
// minWait is the least time await and waitExit allow: their bounds only
// catch a server that hangs, and a 2-core machine under a load of 30 can
// take seconds for what takes milliseconds when idle.
const minWait = 30 * time.Second

func (p *proc) await(id any, within time.Duration) message {
	p.t.Helper()
	within = max(within, minWait)
	raw, _ := json.Marshal(id)
	key := string(raw)
	deadline := time.After(within)
	for {
		p.mu.Lock()
		m, ok := p.answers[key]
		if ok && key == "null" {
			delete(p.answers, key)
		}
		arrived := p.arrived
		p.mu.Unlock()
		if ok {
			return m
		}
		select {
		case <-arrived:
		case <-p.exited:
			p.t.Fatalf("the server exited (%v) without answering %s; stderr:\n%s", p.exitErr, key, p.stderr.String())
		case <-deadline:
			p.t.Fatalf("no answer to %s within %s; stderr:\n%s", key, within, p.stderr.String())
		}
	}
}

// toolResult is the tool result of an answer, failing on a protocol error.
type toolResult struct {
	IsError bool `json:"isError"`
	Content []struct {
		Text string `json:"text"`
	} `json:"content"`
	Structured json.RawMessage `json:"structuredContent"`
}

func (m message) tool(t *testing.T) toolResult {
	t.Helper()
	if m.Error != nil {
		t.Fatalf("protocol error instead of a tool result: %s", m.raw)
	}
	var r toolResult
	if err := json.Unmarshal(m.Result, &r); err != nil || len(r.Content) == 0 {
		t.Fatalf("not a tool result: %s", m.raw)
	}
	return r
}

func (r toolResult) text() string { return r.Content[0].Text }

// waitExit waits for the process to end and returns its exit code.
func (p *proc) waitExit(within time.Duration) (int, time.Duration) {
	p.t.Helper()
	within = max(within, minWait)
	start := time.Now()
	select {
	case <-p.exited:
	case <-time.After(within):
		p.t.Fatalf("the server did not exit within %s; stderr:\n%s", within, p.stderr.String())
	}
	code := 0
	if p.exitErr != nil {
		ee, ok := p.exitErr.(*exec.ExitError)
		if !ok {
			p.t.Fatalf("wait: %v", p.exitErr)
		}
		code = ee.ExitCode()
	}
	return code, time.Since(start)
}

// ---------------------------------------------------------------------------

func TestStartupFailureWritesNothingToStdout(t *testing.T) {
	bin := binary(t, raceEnabled())
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
	f := newFakeInflux(t)
	f.delay = func(string) time.Duration { return 400 * time.Millisecond }
	p := startServer(t, binary(t, raceEnabled()), baseEnv(t, f.srv.URL))
	p.initialize()
	const n = 20
	for i := range n {
		p.send(toolCall(i, "get_token", map[string]any{"authID": fmt.Sprintf("0b%014x", i)}))
	}
	p.send(toolCall("list", "list_tokens", map[string]any{}))
	p.stdin.Close()

	code, _ := p.waitExit(5 * time.Second)
	if code != 0 {
		t.Errorf("exit status %d, want 0; stderr:\n%s", code, p.stderr.String())
	}
	for i := range n {
		res := p.await(i, 0).tool(t)
		if want := fmt.Sprintf("token 0b%014x", i); res.IsError || !strings.Contains(res.text(), want) {
			t.Errorf("call %d: isError=%v %q, want the token's details (%s)", i, res.IsError, res.text(), want)
		}
	}
	if res := p.await("list", 0).tool(t); res.IsError {
		t.Errorf("list_tokens: %s", res.text())
	}
}

func TestSignalsStopPromptly(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			f := newFakeInflux(t)
			reached := make(chan struct{}, 1)
			f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
				reached <- struct{}{}
				<-r.Context().Done() // hangs until the server gives up
				return true
			})
			env := baseEnv(t, f.srv.URL)
			env["INFLUX_TIMEOUT"] = "1m"
			p := startServer(t, binary(t, raceEnabled()), env)
			p.initialize()
			p.send(toolCall(1, "list_tokens", map[string]any{}))
			select {
			case <-reached:
			case <-time.After(5 * time.Second):
				t.Fatal("the call did not reach InfluxDB")
			}
			if err := p.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			code, took := p.waitExit(2 * time.Second)
			if code != 0 {
				t.Errorf("exit status %d, want 0; stderr:\n%s", code, p.stderr.String())
			}
			t.Logf("exited %s after %s", sig, took)
		})
	}
}

// 200 calls at once on one session: each answer is the right one for its id.
func TestConcurrentCallsMatchTheirIDs(t *testing.T) {
	f := newFakeInflux(t)
	f.delay = func(id string) time.Duration {
		n, _ := strconv.ParseUint(id, 16, 64)
		return time.Duration(n%7) * 3 * time.Millisecond
	}
	p := startServer(t, binary(t, raceEnabled()), baseEnv(t, f.srv.URL))
	p.initialize()
	const n = 200
	want := map[any]string{}
	for i := range n {
		var id any = i
		if i%3 == 0 {
			id = fmt.Sprintf("req-%d", i) // string ids too
		}
		if i%10 == 9 {
			want[id] = "list"
			p.send(toolCall(id, "list_tokens", map[string]any{"limit": 1 + i%3}))
			continue
		}
		authID := fmt.Sprintf("0c%014x", i*7919)
		want[id] = "token " + authID
		p.send(toolCall(id, "get_token", map[string]any{"authID": authID}))
	}
	for id, w := range want {
		res := p.await(id, 30*time.Second).tool(t)
		switch {
		case res.IsError:
			t.Errorf("id %v: tool error %q", id, res.text())
		case w == "list":
			var l struct{ Count int }
			if err := json.Unmarshal(res.Structured, &l); err != nil || l.Count == 0 {
				t.Errorf("id %v: list answer %s", id, res.Structured)
			}
		case !strings.Contains(res.text(), w) || strings.Count(res.text(), "token 0c") != 1:
			t.Errorf("id %v: got %q, want only %q", id, res.text(), w)
		}
	}
	p.stdin.Close()
	if code, _ := p.waitExit(5 * time.Second); code != 0 {
		t.Errorf("exit status %d; stderr:\n%s", code, p.stderr.String())
	}
}

// notifications/cancelled aborts the HTTP request to InfluxDB, and the
// session goes on.
func TestCancelledNotificationAbortsTheUpstreamRequest(t *testing.T) {
	f := newFakeInflux(t)
	reached := make(chan struct{}, 1)
	aborted := make(chan struct{}, 1)
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
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
	env := baseEnv(t, f.srv.URL)
	env["INFLUX_TIMEOUT"] = "30s"
	p := startServer(t, binary(t, raceEnabled()), env)
	p.initialize()
	p.send(toolCall(7, "list_tokens", map[string]any{"user": "slow"}))
	select {
	case <-reached:
	case <-time.After(5 * time.Second):
		t.Fatal("the call did not reach InfluxDB")
	}
	p.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": map[string]any{"requestId": 7, "reason": "user abort"}})
	select {
	case <-aborted:
	case <-time.After(3 * time.Second):
		t.Fatal("the request to InfluxDB was not aborted")
	}
	if res := p.await(7, 5*time.Second).tool(t); !res.IsError || !strings.Contains(res.text(), "cancelled") {
		t.Errorf("cancelled call answered %q", res.text())
	}
	p.send(toolCall(8, "get_token", map[string]any{"authID": "0a00000000000001"}))
	if res := p.await(8, 5*time.Second).tool(t); res.IsError {
		t.Errorf("the next call failed: %s", res.text())
	}
}

// Malformed, huge and unknown input gets a proper answer under its id each
// time, and the session goes on.
func TestHostileInputKeepsTheSession(t *testing.T) {
	f := newFakeInflux(t)
	var seenMu sync.Mutex
	var seen []*http.Request
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		seenMu.Lock()
		seen = append(seen, r.Clone(context.Background()))
		seenMu.Unlock()
		return false
	})
	p := startServer(t, binary(t, raceEnabled()), baseEnv(t, f.srv.URL))
	p.initialize()
	parent := t
	mega := strings.Repeat("a", 1<<20)
	weird := "ctl\x00\x01\x1b[31m\u202e\u200bñ名前🔑\ufffd" + strings.Repeat("é", 1000)

	type expect int
	const (
		rpcError expect = iota
		toolError
		toolOK
		toolAny // this fake InfluxDB knows no names; the real one answers 404
	)
	for i, tc := range []struct {
		name string
		line []byte
		id   any // of the answer; nil for id null
		want expect
		code int
		text string
	}{
		{"not JSON", []byte(`{"jsonrpc":"2.0","id":1,"method":`), nil, rpcError, -32700, ""},
		{"a batch", []byte(`[{"jsonrpc":"2.0","id":2,"method":"ping"}]`), nil, rpcError, -32700, ""},
		{"a JSON string", []byte(`"ping"`), nil, rpcError, -32700, ""},
		{"wrong version", []byte(`{"jsonrpc":"1.0","id":"v","method":"ping"}`), "v", rpcError, -32600, ""},
		{"unknown method", []byte(`{"jsonrpc":"2.0","id":3,"method":"tokens/delete"}`), 3, rpcError, -32601, ""},
		{"unknown tool", mustJSON(toolCall(4, "delete_token", map[string]any{"authID": "0a00000000000001"})), 4, rpcError, 0, "delete_token"},
		{"unknown argument", mustJSON(toolCall(5, "list_tokens", map[string]any{"usr": "alice"})), 5, toolError, 0, "usr"},
		{"arguments not an object", mustJSON(toolCall(6, "get_token", []int{1})), 6, toolError, 0, ""},
		{"1 MB description filter", mustJSON(toolCall(7, "list_tokens", map[string]any{"description": mega})), 7, toolOK, 0, "No token matches"},
		{"1 MB authID", mustJSON(toolCall(8, "get_token", map[string]any{"authID": mega})), 8, toolError, 0, "not an InfluxDB ID"},
		{"1 MB user name", mustJSON(toolCall(9, "list_tokens", map[string]any{"user": mega})), 9, toolAny, 0, ""},
		{"1 MB status", mustJSON(toolCall(10, "list_tokens", map[string]any{"status": mega})), 10, toolError, 0, "status"},
		{"1 MB unknown argument name", mustJSON(toolCall(11, "list_tokens", map[string]any{mega: 1})), 11, toolError, 0, "unknown argument"},
		{"control characters and Unicode in names", mustJSON(toolCall(12, "list_tokens", map[string]any{"user": weird, "org": weird, "description": weird, "resourceType": "buckets", "resourceName": weird})), 12, toolAny, 0, ""},
		{"control characters in an ID", mustJSON(toolCall(13, "get_token", map[string]any{"authID": "0a000000\x00000001"})), 13, toolError, 0, "not an InfluxDB ID"},
		{"path in an ID", mustJSON(toolCall(14, "get_token", map[string]any{"authID": "../../../api/v2"})), 14, toolError, 0, "not an InfluxDB ID"},
		{"9 MB line", mustJSON(toolCall(15, "list_tokens", map[string]any{"description": strings.Repeat("b", 9<<20)})), 15, toolOK, 0, "No token matches"},
		{"9 MB line, id at the end", []byte(`{"jsonrpc":"2.0","params":{"x":"` + strings.Repeat("c", 9<<20) + `"},"id":16}`), 16, rpcError, -32601, ""},
		{"unknown prompt", mustJSON(request(17, "prompts/get", map[string]any{"name": "nope"})), 17, rpcError, 0, "nope"},
	} {
		t.Run(tc.name, func(sub *testing.T) {
			t := sub
			p.t = t // so that a failed wait ends this subtest, not its parent
			defer func() { p.t = parent }()
			p.sendRaw(tc.line)
			m := p.await(tc.id, time.Minute) // a 9 MB line takes seconds under the race detector
			switch tc.want {
			case rpcError:
				if m.Error == nil {
					t.Fatalf("want a JSON-RPC error, got %.300s", m.raw)
				}
				if tc.code != 0 && m.Error.Code != tc.code {
					t.Errorf("code %d, want %d (%s)", m.Error.Code, tc.code, m.Error.Message)
				}
				if !strings.Contains(m.Error.Message, tc.text) {
					t.Errorf("message %.300q lacks %q", m.Error.Message, tc.text)
				}
			case toolError, toolOK, toolAny:
				res := m.tool(t)
				if tc.want != toolAny && res.IsError != (tc.want == toolError) || !strings.Contains(res.text(), tc.text) {
					t.Errorf("isError=%v %.300q, want isError=%v with %q", res.IsError, res.text(), tc.want == toolError, tc.text)
				}
				if len(m.raw) > 64<<10 {
					t.Errorf("the answer is %d bytes: it echoes the input", len(m.raw))
				}
			}
			// The session goes on.
			pingID := fmt.Sprintf("ping-%d", i)
			p.send(request(pingID, "ping", nil))
			if m := p.await(pingID, 10*time.Second); m.Error != nil {
				t.Fatalf("ping after %s: %s", tc.name, m.raw)
			}
		})
	}
	p.send(toolCall(99, "get_token", map[string]any{"authID": "0a00000000000001"}))
	if res := p.await(99, 10*time.Second).tool(t); res.IsError {
		t.Errorf("a normal call after all that failed: %s", res.text())
	}

	// Names reach InfluxDB intact, as escaped query parameters only; IDs
	// that failed validation never reach it.
	seenMu.Lock()
	defer seenMu.Unlock()
	var gotUser, gotOrg, gotBucket bool
	for _, r := range seen {
		q := r.URL.Query()
		switch r.URL.Path {
		case "/api/v2/authorizations":
			gotUser = gotUser || q.Get("user") == weird
			gotOrg = gotOrg || q.Get("org") == weird
		case "/api/v2/buckets":
			gotBucket = gotBucket || q.Get("name") == weird
		case "/api/v2/authorizations/0a00000000000001":
		default:
			t.Errorf("unexpected request to InfluxDB: %.200s", r.URL.RequestURI())
		}
		if strings.ContainsAny(r.URL.RawQuery, "\x00\x1b ") {
			t.Errorf("unescaped query: %.200q", r.URL.RawQuery)
		}
	}
	if !gotUser || !gotOrg || !gotBucket {
		t.Errorf("names with control characters and Unicode did not arrive intact: user %v, org %v, bucket %v", gotUser, gotOrg, gotBucket)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Canary tokens, as the configured token and as every token InfluxDB
// returns, never reach stdout, stderr or a result: every tool, every error
// path, every log level.
func TestSecretsNeverLeak(t *testing.T) {
	bin := binary(t, raceEnabled())
	f := newFakeInflux(t)
	tlsSrv := httptest.NewUnstartedServer(f)
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failures are expected
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	hang := hangingListener(t)
	refused := closedPort(t)

	hosts := map[string]string{
		"fake":    f.srv.URL,
		"refused": refused,
		"dns":     "http://influxdb.example.invalid:8086",
		"tls":     tlsSrv.URL,
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
				p := startServer(t, bin, env)
				p.initialize()
				calls := secretProbeCalls(hostName == "fake")
				for i, c := range calls {
					p.send(toolCall(i, c.tool, c.args))
				}
				p.send(request("tools", "tools/list", nil))
				p.send(request("prompt", "prompts/get", map[string]any{"name": "audit_tokens", "arguments": map[string]string{"org": "acme", "user": "alice"}}))
				for i, c := range calls {
					res := p.await(i, 10*time.Second).tool(t)
					if c.wantErr != res.IsError {
						t.Errorf("%s %v: isError=%v: %s", c.tool, c.args, res.IsError, res.text())
					}
				}
				p.await("tools", 5*time.Second)
				p.await("prompt", 5*time.Second)
				p.stdin.Close()
				if code, _ := p.waitExit(5 * time.Second); code != 0 {
					t.Errorf("exit status %d", code)
				}
				for where, s := range map[string]string{"stdout": p.stdout.String(), "stderr": p.stderr.String()} {
					if i := strings.Index(s, canaryToken); i >= 0 {
						t.Errorf("%s holds the configured token: …%s…", where, s[max(0, i-300):min(len(s), i+100)])
					}
					if strings.Contains(s, canaryPrefix) {
						t.Errorf("%s holds a token InfluxDB returned", where)
					}
				}
				if level == "debug" && !strings.Contains(p.stderr.String(), "level=DEBUG") {
					t.Errorf("no debug log written; the test would not see a leak there:\n%s", p.stderr.String())
				}
			})
		}
	}
	if f.requests.Load() == 0 {
		t.Fatal("the fake InfluxDB saw no request")
	}
}

type probeCall struct {
	tool    string
	args    map[string]any
	wantErr bool
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

func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// A 400 MB answer from InfluxDB: the server stops reading at the 4 MiB
// limit on one token, answers with a tool error and stays under 256 MB of
// memory.
func TestHugeResponseKeepsMemoryBounded(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc")
	}
	const total = 400 << 20
	var sent atomic.Int64
	f := newFakeInflux(t)
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		head := `{"authorizations":[{"id":"0a00000000000001","description":"`
		if r.URL.Path != "/api/v2/authorizations" {
			head = `{"id":"0a00000000000001","description":"`
		}
		n, _ := io.WriteString(w, head)
		chunk := bytes.Repeat([]byte("x"), 256<<10)
		for written := n; written < total; {
			m, err := w.Write(chunk)
			written += m
			sent.Add(int64(m))
			if err != nil {
				break // the client hung up
			}
		}
		return true
	})
	env := baseEnv(t, f.srv.URL)
	env["INFLUX_TIMEOUT"] = "20s"
	env["INFLUX_LOG_LEVEL"] = "error"
	p := startServer(t, binary(t, false), env) // the race detector's own memory would swamp the measurement
	p.initialize()
	for i, c := range []struct {
		call map[string]any
		want string
	}{
		{toolCall(1, "list_tokens", map[string]any{}), "one element of the list is larger than 4 MiB"},
		{toolCall(2, "get_token", map[string]any{"authID": "0a00000000000001"}), "the answer is larger than 4 MiB"},
	} {
		before := sent.Load()
		p.send(c.call)
		res := p.await(i+1, 20*time.Second).tool(t)
		if !res.IsError || !strings.Contains(res.text(), c.want) {
			t.Errorf("call %d: isError=%v %q, want the size limit named", i+1, res.IsError, res.text())
		}
		// Not more than the cap plus what the socket buffers hold.
		if read := sent.Load() - before; read > 64<<20 {
			t.Errorf("call %d: InfluxDB wrote %d MiB before the server hung up", i+1, read>>20)
		}
	}
	hwm := vmHWM(t, p.cmd.Process.Pid)
	t.Logf("peak RSS (VmHWM) %d MiB", hwm>>20)
	if hwm > 256<<20 {
		t.Errorf("peak RSS %d MiB, want under 256 MiB", hwm>>20)
	}
	p.stdin.Close()
	if code, _ := p.waitExit(5 * time.Second); code != 0 {
		t.Errorf("exit status %d", code)
	}
}

func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// A client that writes requests faster than it reads the answers, with
// InfluxDB slow to answer: the server stops reading once enough requests
// are unanswered, so its memory stays bounded however much the client
// writes, and every request is answered once the client reads again.
func TestUnreadRequestsKeepMemoryBounded(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc")
	}
	f := newFakeInflux(t)
	upstream := make(chan struct{})
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		select { // hold every request until the client reads again
		case <-upstream:
		case <-r.Context().Done():
		}
		return false
	})
	env := baseEnv(t, f.srv.URL)
	env["INFLUX_TIMEOUT"] = "2m"
	env["INFLUX_LOG_LEVEL"] = "error"
	reading := make(chan struct{})
	var once sync.Once
	readAgain := func() { once.Do(func() { close(upstream); close(reading) }) }
	t.Cleanup(readAgain)
	p := startServerReadingAfter(t, binary(t, false), env, reading) // the race detector's memory would swamp the measurement

	const n = 300
	description := strings.Repeat("d", 1<<20)
	var written atomic.Int64
	writerDone := make(chan error, 1)
	go func() {
		lines := [][]byte{
			mustJSON(request("init", "initialize", map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "test", "version": "1"}})),
			mustJSON(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"}),
		}
		for _, l := range lines {
			if _, err := p.stdin.Write(append(l, '\n')); err != nil {
				writerDone <- err
				return
			}
		}
		for i := range n {
			if _, err := p.stdin.Write(append(mustJSON(toolCall(i, "list_tokens", map[string]any{"description": description})), '\n')); err != nil {
				writerDone <- err
				return
			}
			written.Add(1)
		}
		writerDone <- nil
	}()

	// Wait until the server has read all the requests or has stopped
	// reading for a while.
	last, still := int64(-1), 0
	for still < 8 {
		select {
		case err := <-writerDone:
			if err != nil {
				t.Fatalf("writing: %v", err)
			}
			writerDone <- nil
			still = 8
		case <-time.After(250 * time.Millisecond):
			if now := written.Load(); now == last {
				still++
			} else {
				last, still = now, 0
			}
		}
	}
	hwm := vmHWM(t, p.cmd.Process.Pid)
	t.Logf("%d of %d requests of 1 MiB read while none was answered; peak RSS (VmHWM) %d MiB", written.Load(), n, hwm>>20)
	if hwm > 128<<20 {
		t.Errorf("peak RSS %d MiB with the answers unread, want under 128 MiB", hwm>>20)
	}

	readAgain()
	if err := <-writerDone; err != nil {
		t.Fatalf("writing: %v", err)
	}
	p.await("init", 30*time.Second)
	for i := range n {
		if res := p.await(i, 60*time.Second).tool(t); res.IsError || !strings.Contains(res.text(), "No token matches") {
			t.Fatalf("call %d: isError=%v %.300q", i, res.IsError, res.text())
		}
	}
	p.stdin.Close()
	if code, _ := p.waitExit(5 * time.Second); code != 0 {
		t.Errorf("exit status %d; stderr:\n%s", code, p.stderr.String())
	}
}

// --version names the version, commit and date a release build stamps, under
// the variable names .goreleaser.yaml sets.
func TestVersionOfAReleaseBuild(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "influx-token-mcp")
	ldflags := "-X main.version=9.8.7 -X main.commit=0123456789abcdef0123456789abcdef01234567 -X main.date=2026-01-02T03:04:05Z"
	if out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "influx-token-mcp 9.8.7 (commit 0123456789abcdef0123456789abcdef01234567, 2026-01-02T03:04:05Z, go"
	if !strings.HasPrefix(string(out), want) {
		t.Errorf("--version = %q, want it to start with %q", out, want)
	}
}

// A build from a git checkout has no release version: --version names the
// commit and its time from the build info, and says when the tree had local
// changes.
func TestVersionOfASourceBuild(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/tokenaudit/influx-token-mcp", Version: "(devel)"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "89decbbef26b0d3abeab7650185c5c6f2e6e9e76"},
			{Key: "vcs.time", Value: "2026-11-30T01:21:25Z"},
			{Key: "vcs.modified", Value: "true"},
		}}
	want := "influx-token-mcp (devel) (commit 89decbbef26b0d3abeab7650185c5c6f2e6e9e76, 2026-11-30T01:21:25Z, with local changes, go1.26.8)"
	if got := versionLine(bi); got != want {
		t.Errorf("versionLine = %q, want %q", got, want)
	}
	bi.Settings = nil // built with -buildvcs=false, or outside a checkout
	if got, want := versionLine(bi), "influx-token-mcp (devel) (go1.26.8)"; got != want {
		t.Errorf("without VCS info: %q, want %q", got, want)
	}
	bi.Main.Version = "v1.2.3" // go install …@v1.2.3
	if got, want := versionLine(bi), "influx-token-mcp v1.2.3 (go1.26.8)"; got != want {
		t.Errorf("go install: %q, want %q", got, want)
	}
}

// What a client shows: the server's title, description and website, each
// tool's title, and completions of the audit_tokens prompt's arguments from
// InfluxDB's names, or none when InfluxDB is unreachable.
func TestDiscoverableInClients(t *testing.T) {
	f := newFakeInflux(t)
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/api/v2/users" {
			return false
		}
		writeJSON(w, map[string]any{"users": []any{
			map[string]any{"id": "11b2f4c47da08000", "name": "alice"},
			map[string]any{"id": "11b2f4c47da08001", "name": "Albert"},
			map[string]any{"id": "11b2f4c47da08002", "name": "bob"},
			map[string]any{"id": "11b2f4c47da08003", "name": "al\x1b]0;pwned\x07"},
		}})
		return true
	})
	complete := func(p *proc, id any, arg, typed string) []string {
		t.Helper()
		p.send(request(id, "completion/complete", map[string]any{
			"ref":      map[string]any{"type": "ref/prompt", "name": "audit_tokens"},
			"argument": map[string]any{"name": arg, "value": typed},
		}))
		m := p.await(id, 10*time.Second)
		var res struct{ Completion struct{ Values []string } }
		if m.Error != nil || json.Unmarshal(m.Result, &res) != nil || res.Completion.Values == nil {
			t.Fatalf("completion/complete %s %q: %s", arg, typed, m.raw)
		}
		return res.Completion.Values
	}

	p := startServer(t, binary(t, raceEnabled()), baseEnv(t, f.srv.URL))
	p.send(request("init", "initialize", map[string]any{
		"protocolVersion": "2025-06-18", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "test", "version": "1"},
	}))
	var init struct {
		Capabilities map[string]json.RawMessage
		ServerInfo   struct{ Name, Title, Description, WebsiteURL string }
	}
	if m := p.await("init", 10*time.Second); m.Error != nil || json.Unmarshal(m.Result, &init) != nil {
		t.Fatalf("initialize: %s", m.raw)
	}
	if s := init.ServerInfo; s.Name != "influx-token-mcp" || s.Title == "" || s.Description == "" || s.WebsiteURL != "https://github.com/tokenaudit/influx-token-mcp" {
		t.Errorf("serverInfo %+v: want a name, title, description and the website", s)
	}
	if _, ok := init.Capabilities["completions"]; !ok {
		t.Errorf("capabilities %v lack completions", init.Capabilities)
	}
	p.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})

	p.send(request("tools", "tools/list", nil))
	var list struct {
		Tools []struct{ Name, Title string }
	}
	if m := p.await("tools", 10*time.Second); json.Unmarshal(m.Result, &list) != nil || len(list.Tools) == 0 {
		t.Fatalf("tools/list: %s", m.raw)
	}
	for _, tool := range list.Tools {
		if tool.Title == "" {
			t.Errorf("tool %s has no title", tool.Name)
		}
	}

	if got := complete(p, "c1", "org", "a"); strings.Join(got, ",") != "acme" {
		t.Errorf("org completions %q, want acme", got)
	}
	if got := complete(p, "c2", "user", "AL"); strings.Join(got, ",") != "Albert,alice" {
		t.Errorf("user completions %q, want Albert and alice (not the name with control characters)", got)
	}

	down := startServer(t, binary(t, raceEnabled()), baseEnv(t, closedPort(t)))
	down.initialize()
	for i, arg := range []string{"org", "user"} {
		if got := complete(down, i, arg, ""); len(got) != 0 {
			t.Errorf("%s completions with InfluxDB unreachable: %q, want none", arg, got)
		}
	}
}
