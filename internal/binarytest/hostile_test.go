package binarytest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenaudit/influx-token-mcp/internal/mcpstdio"
)

// Hostile input from the client and from InfluxDB: the session goes on and
// memory stays bounded.

// Malformed, huge and unknown input gets a proper answer under its id each
// time, and the session goes on.
func TestHostileInputKeepsTheSession(t *testing.T) {
	f := newFake(t)
	var seenMu sync.Mutex
	var seen []*http.Request
	f.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		seenMu.Lock()
		seen = append(seen, r.Clone(context.Background()))
		seenMu.Unlock()
		return false
	})
	p := mcpstdio.Start(t, raceBinary(t), baseEnv(t, f.URL))
	p.Initialize(t)
	mega := strings.Repeat("a", 1<<20)
	weird := "ctl\x00\x01\x1b[31m\u202e\u200bñ名前🔑\ufffd" + strings.Repeat("é", 1000)

	type expect int
	const (
		rpcError expect = iota
		toolError
		toolOK
		toolAny // a name InfluxDB may not know: 404
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
		// That user and org do not exist, so InfluxDB's 404 ends the call
		// above before the bucket is looked up.
		{"control characters and Unicode in a bucket name", mustJSON(toolCall(18, "list_tokens", map[string]any{"description": weird, "resourceType": "buckets", "resourceName": weird})), 18, toolAny, 0, ""},
		{"control characters in an ID", mustJSON(toolCall(13, "get_token", map[string]any{"authID": "0a000000\x00000001"})), 13, toolError, 0, "not an InfluxDB ID"},
		{"path in an ID", mustJSON(toolCall(14, "get_token", map[string]any{"authID": "../../../api/v2"})), 14, toolError, 0, "not an InfluxDB ID"},
		{"9 MB line", mustJSON(toolCall(15, "list_tokens", map[string]any{"description": strings.Repeat("b", 9<<20)})), 15, toolOK, 0, "No token matches"},
		{"9 MB line, id at the end", []byte(`{"jsonrpc":"2.0","params":{"x":"` + strings.Repeat("c", 9<<20) + `"},"id":16}`), 16, rpcError, -32601, ""},
		{"unknown prompt", mustJSON(request(17, "prompts/get", map[string]any{"name": "nope"})), 17, rpcError, 0, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.SendRaw(t, tc.line)
			m := p.Await(t, tc.id, time.Minute) // a 9 MB line takes seconds under the race detector
			switch tc.want {
			case rpcError:
				if m.Error == nil {
					t.Fatalf("want a JSON-RPC error, got %.300s", m.Raw)
				}
				if tc.code != 0 && m.Error.Code != tc.code {
					t.Errorf("code %d, want %d (%s)", m.Error.Code, tc.code, m.Error.Message)
				}
				if !strings.Contains(m.Error.Message, tc.text) {
					t.Errorf("message %.300q lacks %q", m.Error.Message, tc.text)
				}
			case toolError, toolOK, toolAny:
				res := m.Tool(t)
				if tc.want != toolAny && res.IsError != (tc.want == toolError) || !strings.Contains(res.Text(), tc.text) {
					t.Errorf("isError=%v %.300q, want isError=%v with %q", res.IsError, res.Text(), tc.want == toolError, tc.text)
				}
				if len(m.Raw) > 64<<10 {
					t.Errorf("the answer is %d bytes: it echoes the input", len(m.Raw))
				}
			}
			// The session goes on.
			pingID := fmt.Sprintf("ping-%d", i)
			p.Send(t, request(pingID, "ping", nil))
			if m := p.Await(t, pingID, 10*time.Second); m.Error != nil {
				t.Fatalf("ping after %s: %s", tc.name, m.Raw)
			}
		})
	}
	p.Send(t, toolCall(99, "get_token", map[string]any{"authID": "0a00000000000001"}))
	if res := p.Await(t, 99, 10*time.Second).Tool(t); res.IsError {
		t.Errorf("a normal call after all that failed: %s", res.Text())
	}

	// Names reach InfluxDB intact, as escaped query parameters only; IDs
	// that failed validation never reach it.
	seenMu.Lock()
	defer seenMu.Unlock()
	var gotUser, gotOrg, gotBucket bool
	for _, r := range seen {
		q := r.URL.Query()
		switch f.APIPath(r) {
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

// A 400 MB answer from InfluxDB: the server stops reading at the 4 MiB
// limit on one token, answers with a tool error and stays under 256 MB of
// memory.
func TestHugeResponseKeepsMemoryBounded(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc")
	}
	const total = 400 << 20
	var sent atomic.Int64
	f := newFake(t)
	f.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		head := `{"authorizations":[{"id":"0a00000000000001","description":"`
		if f.APIPath(r) != "/api/v2/authorizations" {
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
	env := baseEnv(t, f.URL)
	env["INFLUX_TIMEOUT"] = "20s"
	env["INFLUX_LOG_LEVEL"] = "error"
	p := mcpstdio.Start(t, binary(t, false), env) // the race detector's own memory would swamp the measurement
	p.Initialize(t)
	for i, c := range []struct {
		call map[string]any
		want string
	}{
		{toolCall(1, "list_tokens", map[string]any{}), "one element of the list is larger than 4 MiB"},
		{toolCall(2, "get_token", map[string]any{"authID": "0a00000000000001"}), "the answer is larger than 4 MiB"},
	} {
		before := sent.Load()
		p.Send(t, c.call)
		res := p.Await(t, i+1, 20*time.Second).Tool(t)
		if !res.IsError || !strings.Contains(res.Text(), c.want) {
			t.Errorf("call %d: isError=%v %q, want the size limit named", i+1, res.IsError, res.Text())
		}
		// Not more than the cap plus what the socket buffers hold.
		if read := sent.Load() - before; read > 64<<20 {
			t.Errorf("call %d: InfluxDB wrote %d MiB before the server hung up", i+1, read>>20)
		}
	}
	hwm := vmHWM(t, p.Pid())
	t.Logf("peak RSS (VmHWM) %d MiB", hwm>>20)
	if hwm > 256<<20 {
		t.Errorf("peak RSS %d MiB, want under 256 MiB", hwm>>20)
	}
	p.Stdin.Close()
	if code, _ := p.WaitExit(t, 5*time.Second); code != 0 {
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
	f := newFake(t)
	upstream := make(chan struct{})
	f.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		select { // hold every request until the client reads again
		case <-upstream:
		case <-r.Context().Done():
		}
		return false
	})
	env := baseEnv(t, f.URL)
	env["INFLUX_TIMEOUT"] = "2m"
	env["INFLUX_LOG_LEVEL"] = "error"
	reading := make(chan struct{})
	var once sync.Once
	readAgain := func() { once.Do(func() { close(upstream); close(reading) }) }
	t.Cleanup(readAgain)
	p := mcpstdio.StartReadingAfter(t, binary(t, false), env, reading) // the race detector's memory would swamp the measurement

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
			if _, err := p.Stdin.Write(append(l, '\n')); err != nil {
				writerDone <- err
				return
			}
		}
		for i := range n {
			if _, err := p.Stdin.Write(append(mustJSON(toolCall(i, "list_tokens", map[string]any{"description": description})), '\n')); err != nil {
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
	hwm := vmHWM(t, p.Pid())
	t.Logf("%d of %d requests of 1 MiB read while none was answered; peak RSS (VmHWM) %d MiB", written.Load(), n, hwm>>20)
	if hwm > 128<<20 {
		t.Errorf("peak RSS %d MiB with the answers unread, want under 128 MiB", hwm>>20)
	}

	readAgain()
	if err := <-writerDone; err != nil {
		t.Fatalf("writing: %v", err)
	}
	p.Await(t, "init", 30*time.Second)
	for i := range n {
		if res := p.Await(t, i, 60*time.Second).Tool(t); res.IsError || !strings.Contains(res.Text(), "No token matches") {
			t.Fatalf("call %d: isError=%v %.300q", i, res.IsError, res.Text())
		}
	}
	p.Stdin.Close()
	if code, _ := p.WaitExit(t, 5*time.Second); code != 0 {
		t.Errorf("exit status %d; stderr:\n%s", code, p.Stderr())
	}
}
