package tools

// Serve in process, with small limits: draining on stdin EOF and its bound,
// shutdown, huge lines, the bounds on running and unanswered requests,
// matching answers to requests, and a stdout that carries JSON-RPC only.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
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

	mu         sync.Mutex
	seen       []string
	hits       chan string // every GetAuthorization id, if not nil
	running    int
	maxRunning int
}

func (s *stdioStub) GetAuthorization(ctx context.Context, id string) (*influx.Authorization, error) {
	s.mu.Lock()
	s.seen = append(s.seen, id)
	s.running++
	s.maxRunning = max(s.maxRunning, s.running)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running--
		s.mu.Unlock()
	}()
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
		select {
		case <-time.After(s.delay):
		case <-ctx.Done():
			return nil, &influx.TransportError{Host: "stub:8086", Err: ctx.Err()}
		}
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

func startServe(t *testing.T, cfg stdioLimits, c Client) *stdioRun {
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

// minWait is the least time answer and ended allow: their bounds only
// catch a Serve that hangs, and a 2-core machine under a load of 30 can take
// seconds for what takes milliseconds when idle.
const minWait = 30 * time.Second

// answer waits for the answer to id and returns it.
func (r *stdioRun) answer(id any, within time.Duration) string {
	r.t.Helper()
	within = max(within, minWait)
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
	within = max(within, minWait)
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
	r := startServe(t, stdioLimits{workers: 2, unanswered: 4, drainTimeout: 5 * time.Second, shutdownTimeout: time.Second}, stub)
	for i := range 6 { // three rounds on two workers
		r.send(getCall(i, authID(i)))
	}
	if _, err := io.WriteString(r.stdin, `{"jsonrpc":"2.0","id":"last","method":"ping"}`); err != nil { // no newline at the end
		t.Fatal(err)
	}
	r.stdin.Close()
	r.ended(4 * time.Second)
	for i := range 6 {
		a := r.answer(i, 0)
		wantAnswer(t, a, "token "+authID(i))
		if strings.Contains(a, `"isError":true`) {
			t.Errorf("call %d: %s", i, a)
		}
	}
	r.answer("last", 0)
}

func TestServeDrainIsBounded(t *testing.T) {
	t.Parallel()
	for _, stuck := range []bool{false, true} {
		t.Run(fmt.Sprintf("handler stuck %v", stuck), func(t *testing.T) {
			t.Parallel()
			stub := &stdioStub{block: func(string) bool { return true }, release: make(chan struct{}), stuck: stuck, hits: make(chan string, 10)}
			t.Cleanup(func() { close(stub.release) })
			r := startServe(t, stdioLimits{workers: 1, unanswered: 4, drainTimeout: 300 * time.Millisecond, shutdownTimeout: 300 * time.Millisecond}, stub)
			r.send(getCall(1, authID(1)), getCall(2, authID(2)), getCall(3, authID(3)))
			<-stub.hits
			r.stdin.Close()
			r.ended(2 * time.Second)
			if !stuck {
				wantAnswer(t, r.answer(1, 0), "cancelled", `"isError":true`)
			}
			// Calls that had not started may be answered, as cancelled, or not.
			for _, id := range []int{2, 3} {
				r.out.mu.Lock()
				as := r.out.answers[fmt.Sprint(id)]
				r.out.mu.Unlock()
				for _, a := range as {
					wantAnswer(t, string(a), "cancelled", `"isError":true`)
				}
			}
		})
	}
}

func TestServeStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	for _, stuck := range []bool{false, true} {
		t.Run(fmt.Sprintf("handler stuck %v", stuck), func(t *testing.T) {
			t.Parallel()
			stub := &stdioStub{block: func(string) bool { return true }, release: make(chan struct{}), stuck: stuck, hits: make(chan string, 1)}
			t.Cleanup(func() { close(stub.release) })
			r := startServe(t, stdioLimits{workers: 4, unanswered: 8, drainTimeout: 5 * time.Second, shutdownTimeout: 300 * time.Millisecond}, stub)
			r.send(getCall(1, authID(1)))
			<-stub.hits
			r.cancel()
			r.ended(time.Second)
		})
	}
}

// Lines of any size are read whole and answered under their id, wherever
// the id is, and the session goes on.
func TestServeAnswersHugeLines(t *testing.T) {
	t.Parallel()
	r := startServe(t, stdioLimits{workers: 2, unanswered: 4, drainTimeout: 5 * time.Second, shutdownTimeout: time.Second}, &stdioStub{})
	huge := strings.Repeat("z", 2<<20)
	r.send(stdioCall(1, "list_tokens", map[string]any{"description": huge}))
	wantAnswer(t, r.answer(1, time.Minute), "No token matches") // slow only under the race detector
	r.send(`{"jsonrpc":"2.0","method":"tools/call","params":{"name":"list_tokens","arguments":{"description":"` + huge + `"}},"id":2}`)
	wantAnswer(t, r.answer(2, time.Minute), "No token matches")
	r.send(`{"jsonrpc":"2.0","id":3,"method":"ping"}`)
	r.answer(3, 2*time.Second)
	r.stdin.Close()
	r.ended(time.Second)
}

// While InfluxDB does not answer, no more tool calls run than there are
// workers, and Serve reads no more requests than it may leave unanswered
// (plus the one it holds back); once InfluxDB answers, every call is
// answered.
func TestServeBoundsRunningAndUnansweredCalls(t *testing.T) {
	t.Parallel()
	const workers, unanswered, calls = 2, 4, 12
	stub := &stdioStub{block: func(string) bool { return true }, release: make(chan struct{}), hits: make(chan string, calls)}
	r := startServe(t, stdioLimits{workers: workers, unanswered: unanswered, drainTimeout: 5 * time.Second, shutdownTimeout: time.Second}, stub)
	var read atomic.Int64
	go func() {
		for i := range calls {
			// An io.Pipe write returns once Serve has read it all.
			if _, err := r.stdin.Write(append(mustMarshal(getCall(i, authID(i))), '\n')); err != nil {
				return
			}
			read.Add(1)
		}
	}()
	for range workers {
		<-stub.hits
	}
	for deadline := time.Now().Add(500 * time.Millisecond); read.Load() < calls && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := read.Load(); n > unanswered+1 {
		t.Errorf("Serve read %d calls while none was answered; want at most %d", n, unanswered+1)
	}
	close(stub.release)
	for i := range calls {
		wantAnswer(t, r.answer(i, 5*time.Second), "token "+authID(i))
	}
	stub.mu.Lock()
	if stub.maxRunning > workers {
		t.Errorf("%d calls ran at once; want at most %d", stub.maxRunning, workers)
	}
	stub.mu.Unlock()
	r.stdin.Close()
	r.ended(time.Second)
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestServeMatchesAnswersToAnyID(t *testing.T) {
	t.Parallel()
	r := startServe(t, stdioLimits{workers: 2, unanswered: 4, drainTimeout: 10 * time.Second, shutdownTimeout: time.Second}, &stdioStub{})
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
	if took := r.ended(3 * time.Second); took > 8*time.Second { // well under the 10 s drain
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
