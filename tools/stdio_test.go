package tools

// Serve in process, with small limits: draining on stdin EOF and its bound,
// cancellation of calls still waiting for a worker, shutdown, oversized
// lines, id bookkeeping, concurrency, and a stdout that carries JSON-RPC only.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenaudit/influx-token-mcp/influx"
)

// stdioStub is a Client whose answers the tests control.
type stdioStub struct {
	delay   time.Duration
	block   func(id string) bool // GetAuthorization waits for release or the call's end
	release chan struct{}
	stuck   bool // a blocked call ignores its context
	panicID string

	mu   sync.Mutex
	seen []string
	hits chan string // every GetAuthorization id, if not nil
}

func (s *stdioStub) GetAuthorization(ctx context.Context, id string) (*influx.Authorization, error) {
	s.mu.Lock()
	s.seen = append(s.seen, id)
	s.mu.Unlock()
	if s.hits != nil {
		s.hits <- id
	}
	if id == s.panicID {
		panic("stub panic for " + id)
	}
	if s.block != nil && s.block(id) {
		if s.stuck {
			<-s.release
		} else {
			select {
			case <-s.release:
			case <-ctx.Done():
				return nil, &influx.TransportError{Host: "stub:8086", Err: ctx.Err()}
			}
		}
	}
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	return &influx.Authorization{ID: id, Description: "token " + id, Status: "active"}, nil
}

func (s *stdioStub) ListAuthorizations(ctx context.Context, _ influx.ListFilter, fn func(*influx.Authorization) error) error {
	return fn(&influx.Authorization{ID: "0a00000000000001", Description: "listed", Status: "active"})
}

func (s *stdioStub) FindBuckets(context.Context, string, string) ([]influx.Bucket, error) {
	return nil, nil
}

func (s *stdioStub) FindOrgs(context.Context, string) ([]influx.Organization, error) { return nil, nil }
func (s *stdioStub) FindUsers(context.Context, string) ([]influx.User, error)        { return nil, nil }
func (s *stdioStub) Exists(context.Context, string, string) (bool, error)            { return true, nil }

func (s *stdioStub) sawID(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.seen {
		if x == id {
			return true
		}
	}
	return false
}

// stdout collects Serve's output, line by line.
type stdioOutput struct {
	mu      sync.Mutex
	buf     []byte
	answers map[string][]json.RawMessage // by the id's JSON
	bad     []string
	arrived chan struct{}
}

func (o *stdioOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = append(o.buf, p...)
	for {
		i := bytes.IndexByte(o.buf, '\n')
		if i < 0 {
			break
		}
		line := append([]byte(nil), o.buf[:i]...)
		o.buf = o.buf[i+1:]
		var m struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Method  string          `json:"method"`
			Result  json.RawMessage `json:"result"`
			Error   json.RawMessage `json:"error"`
		}
		if json.Unmarshal(line, &m) != nil || m.JSONRPC != "2.0" || (m.Method == "" && m.Result == nil && m.Error == nil) {
			o.bad = append(o.bad, string(line))
			continue
		}
		if m.Method == "" {
			o.answers[string(m.ID)] = append(o.answers[string(m.ID)], line)
		}
	}
	close(o.arrived)
	o.arrived = make(chan struct{})
	return len(p), nil
}

type stdioRun struct {
	t      *testing.T
	stdin  *io.PipeWriter
	out    *stdioOutput
	logs   *syncBuffer
	done   chan error
	cancel context.CancelFunc
	dupIDs bool // the test sends ids more than once
}

func startServe(t *testing.T, cfg stdioConfig, c Client) *stdioRun {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := NewServer(c, Settings{Host: "http://stub:8086", Timeout: 5 * time.Second}, "test", logger)
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	r := &stdioRun{t: t, stdin: pw, logs: logs, done: make(chan error, 1), cancel: cancel,
		out: &stdioOutput{answers: map[string][]json.RawMessage{}, arrived: make(chan struct{})}}
	go func() { r.done <- cfg.serve(ctx, srv, pr, r.out, logger) }()
	t.Cleanup(func() {
		cancel()
		pw.Close()
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after the test")
		}
		r.out.mu.Lock()
		defer r.out.mu.Unlock()
		for _, l := range r.out.bad {
			t.Errorf("stdout carried something that is not JSON-RPC: %.200q", l)
		}
		for id, as := range r.out.answers {
			if len(as) > 1 && id != "null" && !r.dupIDs {
				t.Errorf("%d answers to id %s", len(as), id)
			}
		}
	})
	return r
}

func (r *stdioRun) send(msgs ...any) {
	r.t.Helper()
	for _, m := range msgs {
		var b []byte
		switch v := m.(type) {
		case string:
			b = []byte(v)
		default:
			var err error
			if b, err = json.Marshal(v); err != nil {
				r.t.Fatal(err)
			}
		}
		if _, err := r.stdin.Write(append(b, '\n')); err != nil {
			r.t.Fatal(err)
		}
	}
}

func stdioCall(id any, tool string, args map[string]any) map[string]any {
	return map[string]any{"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": map[string]any{"name": tool, "arguments": args}}
}

func getCall(id any, authID string) map[string]any {
	return stdioCall(id, "get_token", map[string]any{"authID": authID})
}

func cancelNote(id any) map[string]any {
	return map[string]any{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": map[string]any{"requestId": id}}
}

// answer waits for the answer to id and returns it.
func (r *stdioRun) answer(id any, within time.Duration) string {
	r.t.Helper()
	raw, _ := json.Marshal(id)
	deadline := time.After(within)
	for {
		r.out.mu.Lock()
		as := r.out.answers[string(raw)]
		arrived := r.out.arrived
		r.out.mu.Unlock()
		if len(as) > 0 {
			return string(as[0])
		}
		select {
		case <-arrived:
		case <-deadline:
			r.t.Fatalf("no answer to %s within %s; logs:\n%s", raw, within, r.logs.String())
		}
	}
}

// ended waits for Serve to return and returns how long that took.
func (r *stdioRun) ended(within time.Duration) time.Duration {
	r.t.Helper()
	start := time.Now()
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("Serve returned %v, want nil", err)
		}
		r.done <- err // for the cleanup
	case <-time.After(within):
		r.t.Fatalf("Serve did not return within %s", within)
	}
	return time.Since(start)
}

func wantAnswer(t *testing.T, answer string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(answer, w) {
			t.Errorf("answer %.300s lacks %q", answer, w)
		}
	}
}

func authID(i int) string { return fmt.Sprintf("0d%014x", i) }

var authIDPattern = regexp.MustCompile(`0d[0-9a-f]{14}`)

func TestServeFinishesCallsAfterStdinEOF(t *testing.T) {
	t.Parallel()
	stub := &stdioStub{delay: 300 * time.Millisecond}
	r := startServe(t, stdioConfig{workers: 2, drainTimeout: 5 * time.Second, shutdownTimeout: time.Second, maxMessage: 1 << 20}, stub)
	for i := range 6 { // three rounds on two workers
		r.send(getCall(i, authID(i)))
	}
	r.send(`{"jsonrpc":"2.0","id":"last","method":"ping"}`) // no newline at the end either
	r.stdin.Close()
	took := r.ended(4 * time.Second)
	for i := range 6 {
		a := r.answer(i, 0)
		wantAnswer(t, a, "token "+authID(i))
		if strings.Contains(a, `"isError":true`) {
			t.Errorf("call %d: %s", i, a)
		}
	}
	r.answer("last", 0)
	if took < 800*time.Millisecond {
		t.Errorf("returned after %s, before the calls could have run", took)
	}
}

func TestServeDrainIsBounded(t *testing.T) {
	t.Parallel()
	for _, stuck := range []bool{false, true} {
		t.Run(fmt.Sprintf("handler stuck %v", stuck), func(t *testing.T) {
			t.Parallel()
			stub := &stdioStub{block: func(string) bool { return true }, release: make(chan struct{}), stuck: stuck}
			t.Cleanup(func() { close(stub.release) })
			r := startServe(t, stdioConfig{workers: 1, drainTimeout: 300 * time.Millisecond, shutdownTimeout: 300 * time.Millisecond, maxMessage: 1 << 20}, stub)
			r.send(getCall(1, authID(1)), getCall(2, authID(2)), getCall(3, authID(3)))
			r.stdin.Close()
			if took := r.ended(2 * time.Second); took > 1500*time.Millisecond {
				t.Errorf("took %s", took)
			}
			if !stuck {
				wantAnswer(t, r.answer(1, 0), "cancelled", `"isError":true`)
			}
			for _, id := range []int{2, 3} {
				wantAnswer(t, r.answer(id, 0), "shutting down", `"isError":true`)
				if stub.sawID(authID(id)) {
					t.Errorf("call %d reached InfluxDB after the input was closed", id)
				}
			}
		})
	}
}

// A tool call waiting for a worker is answered at once when cancelled, and
// InfluxDB never hears of it.
func TestServeCancelsWaitingCalls(t *testing.T) {
	t.Parallel()
	stub := &stdioStub{block: func(id string) bool { return id == authID(1) }, release: make(chan struct{}), hits: make(chan string, 10)}
	r := startServe(t, stdioConfig{workers: 1, drainTimeout: 5 * time.Second, shutdownTimeout: time.Second, maxMessage: 1 << 20}, stub)
	r.send(getCall(1, authID(1)))
	if id := <-stub.hits; id != authID(1) {
		t.Fatalf("first call to InfluxDB for %s", id)
	}
	r.send(getCall("two", authID(2)), getCall(3, authID(3)), cancelNote("two"))
	wantAnswer(t, r.answer("two", 2*time.Second), "cancelled before it started", `"isError":true`)
	close(stub.release)
	wantAnswer(t, r.answer(1, 2*time.Second), "token "+authID(1))
	wantAnswer(t, r.answer(3, 2*time.Second), "token "+authID(3))
	if stub.sawID(authID(2)) {
		t.Error("the cancelled call reached InfluxDB")
	}
	r.stdin.Close()
	r.ended(time.Second)
}

func TestServeStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	for _, stuck := range []bool{false, true} {
		t.Run(fmt.Sprintf("handler stuck %v", stuck), func(t *testing.T) {
			t.Parallel()
			stub := &stdioStub{block: func(string) bool { return true }, release: make(chan struct{}), stuck: stuck, hits: make(chan string, 1)}
			t.Cleanup(func() { close(stub.release) })
			r := startServe(t, stdioConfig{workers: 4, drainTimeout: 5 * time.Second, shutdownTimeout: 300 * time.Millisecond, maxMessage: 1 << 20}, stub)
			r.send(getCall(1, authID(1)))
			<-stub.hits
			r.cancel()
			if took := r.ended(time.Second); took > 700*time.Millisecond {
				t.Errorf("took %s to stop", took)
			}
		})
	}
}

func TestServeRefusesOversizedLines(t *testing.T) {
	t.Parallel()
	r := startServe(t, stdioConfig{workers: 2, drainTimeout: 5 * time.Second, shutdownTimeout: time.Second, maxMessage: 1 << 10}, &stdioStub{})
	big := strings.Repeat("x", 2<<10)
	r.send(stdioCall(1, "list_tokens", map[string]any{"description": big}))
	wantAnswer(t, r.answer(1, 2*time.Second), `"code":-32600`, "larger than")
	// The id comes after the first 64 KiB: the answer cannot name it.
	huge := strings.Repeat("z", idPrefix)
	r.send(`{"jsonrpc":"2.0","method":"tools/call","params":{"name":"list_tokens","arguments":{"description":"` + huge + `"}},"id":2}`)
	wantAnswer(t, r.answer(nil, 2*time.Second), `"code":-32600`)
	// Within them, it can.
	r.send(`{"jsonrpc":"2.0","method":"tools/call","params":{"name":"list_tokens","arguments":{"description":"` + big + `"}},"id":4}`)
	wantAnswer(t, r.answer(4, 2*time.Second), `"code":-32600`)
	r.send(stdioCall(3, "list_tokens", map[string]any{"description": strings.Repeat("y", 900)}))
	wantAnswer(t, r.answer(3, 2*time.Second), "No token matches")
	r.stdin.Close()
	r.ended(time.Second)
}

// Whatever the form of the ids, answers are matched to requests: stdin EOF
// ends the session at once instead of waiting out the drain time.
func TestServeMatchesAnswersToAnyID(t *testing.T) {
	t.Parallel()
	r := startServe(t, stdioConfig{workers: 2, drainTimeout: 10 * time.Second, shutdownTimeout: time.Second, maxMessage: 1 << 20}, &stdioStub{})
	r.dupIDs = true
	ids := []string{`1`, `1.0`, `"1"`, `-0`, `1e2`, `12345678901234567890`, `"\u00e9\u003c"`, `"é<"`, `{"a":[1,2]}`, `[1]`, `true`, `0.1`}
	for _, id := range ids {
		r.send(`{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"get_token","arguments":{"authID":"0a00000000000001"}}}`)
		r.send(`{"jsonrpc":"2.0","id":` + id + `,"method":"ping"}`)
	}
	r.send(
		`{"jsonrpc":"2.0","id":50,"method":"tools/call","result":{}}`,             // a response, not a request: never answered
		`{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{}}`,           // a notification
		`{"jsonrpc":"2.0","method":"tools/call","params":{"name":"list_tokens"}}`, // likewise
		`{"jsonrpc":"2.0","id":51,"method":5}`,                                    // answered with id null
		`{"jsonrpc":"1.0","id":52,"method":"tools/call"}`,                         // answered with id 52
		`{"jsonrpc":"2.0","id":53,"method":"tools/call","params":[1,2]}`,          // answered with id 53
		`[{"jsonrpc":"2.0","id":54,"method":"ping"}]`,                             // a batch: id null
		`not json at all`,
	)
	r.stdin.Close()
	if took := r.ended(3 * time.Second); took > 2*time.Second {
		t.Errorf("Serve waited %s after EOF: an answer was not matched to its request", took)
	}
	for _, id := range []string{"1", `"1"`, "100", `{"a":[1,2]}`, "52", "53"} {
		r.out.mu.Lock()
		n := len(r.out.answers[id])
		r.out.mu.Unlock()
		if n == 0 {
			t.Errorf("no answer to id %s", id)
		}
	}
}

func TestServeManyConcurrentCalls(t *testing.T) {
	t.Parallel()
	stub := &stdioStub{delay: 2 * time.Millisecond}
	r := startServe(t, defaultStdio, stub)
	const n = 200
	for i := range n {
		if i%2 == 0 {
			r.send(getCall(i, authID(i)))
		} else {
			r.send(getCall(fmt.Sprintf("s%d", i), authID(i)))
		}
	}
	// cancel a few: they are answered either way
	for i := 150; i < 160; i += 2 {
		r.send(cancelNote(i))
	}
	for i := range n {
		var id any = i
		if i%2 == 1 {
			id = fmt.Sprintf("s%d", i)
		}
		a := r.answer(id, 10*time.Second)
		if i >= 150 && i < 160 && i%2 == 0 && strings.Contains(a, "cancelled") {
			continue
		}
		wantAnswer(t, a, "token "+authID(i))
		for _, other := range authIDPattern.FindAllString(a, -1) {
			if other != authID(i) {
				t.Errorf("answer to %v holds another call's token %s", id, other)
			}
		}
	}
	r.stdin.Close()
	r.ended(2 * time.Second)
}

// A panicking handler: the answer is a tool error, stdout stays JSON-RPC,
// and the session goes on.
func TestServePanicKeepsStdoutClean(t *testing.T) {
	t.Parallel()
	stub := &stdioStub{panicID: "0badbadbadbadbad"}
	r := startServe(t, defaultStdio, stub)
	r.send(getCall(1, "0badbadbadbadbad"), getCall(2, authID(2)))
	wantAnswer(t, r.answer(1, 2*time.Second), "internal error in get_token", `"isError":true`)
	wantAnswer(t, r.answer(2, 2*time.Second), "token "+authID(2))
	r.stdin.Close()
	r.ended(2 * time.Second)
	if !strings.Contains(r.logs.String(), "stub panic") {
		t.Errorf("the panic is not in the log:\n%s", r.logs.String())
	}
}

func TestReadLine(t *testing.T) {
	t.Parallel()
	in := "short\r\n" + strings.Repeat("a", 100) + "\n" + `{"id":7,"x":"` + strings.Repeat("b", 200) + "\"}\nlast"
	br := bufio.NewReaderSize(strings.NewReader(in), 16) // small: lines span many reads
	for _, want := range []struct {
		line    string
		tooLong bool
		err     bool
	}{
		{"short", false, false},
		{strings.Repeat("a", 100), false, false},
		{`{"id":7,"x":"` + strings.Repeat("b", 200) + `"}`, true, false},
		{"last", false, true},
	} {
		line, tooLong, err := readLine(br, 100)
		if tooLong != want.tooLong || (err != nil) != want.err {
			t.Fatalf("readLine = %.40q, %v, %v; want tooLong %v", line, tooLong, err, want.tooLong)
		}
		if !tooLong && string(line) != want.line {
			t.Errorf("line %.40q, want %.40q", line, want.line)
		}
		if tooLong && !strings.HasPrefix(want.line, string(line)) {
			t.Errorf("prefix %.40q is not the line's start", line)
		}
		if tooLong {
			if id := idFromPrefix(line); string(id) != "7" {
				t.Errorf("id from prefix = %s, want 7", id)
			}
		}
	}
}

func TestIDFromPrefix(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"x":"`: `12`,
		`{"id":"abc","params":`:                                `"abc"`,
		`{"params":{"arguments":{"a":"`:                        ``,
		`{"jsonrpc":"2.0","params":{"a":1},"id":"after","x":"`: `"after"`,
		`{"id":{"a":1},"params":"`:                             ``,
		`{"id":null,"params":"`:                                ``,
		`[{"id":1}`:                                            ``,
		`{"id":1.5e3,"params":"`:                               `1500`,
		``:                                                     ``,
	} {
		if got := string(idFromPrefix([]byte(in))); got != want {
			t.Errorf("idFromPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}
