package tools

// Serve in process, with small limits: draining on stdin EOF and its bound,
// shutdown, huge lines, the bounds on running and unanswered requests,
// matching answers to requests, and a stdout that carries JSON-RPC only.

import (
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
	"github.com/tokenaudit/influx-token-mcp/internal/mcpstdio"
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

type stdioRun struct {
	t      *testing.T
	stdin  *io.PipeWriter
	client *mcpstdio.Client // Serve writes its stdout to it
	logs   *mcpstdio.Buffer
	done   chan error
	cancel context.CancelFunc
}

func startServe(t *testing.T, cfg stdioLimits, c Client) *stdioRun {
	t.Helper()
	logs := &mcpstdio.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := NewServer(c, Settings{Host: "http://stub:8086", Timeout: 5 * time.Second}, "test", logger)
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	r := &stdioRun{t: t, stdin: pw, client: mcpstdio.New(t, pw), logs: logs, done: make(chan error, 1), cancel: cancel}
	r.client.Diagnostics = func() string { return "logs:\n" + logs.String() }
	go func() {
		err := cfg.serve(ctx, srv, pr, r.client, logger)
		r.client.Close()
		r.done <- err
	}()
	t.Cleanup(func() {
		cancel()
		pw.Close()
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after the test")
		}
	})
	return r
}

// send writes each message, a string as it is, anything else as JSON.
func (r *stdioRun) send(msgs ...any) {
	r.t.Helper()
	for _, m := range msgs {
		if s, ok := m.(string); ok {
			r.client.SendRaw(r.t, []byte(s))
		} else {
			r.client.Send(r.t, m)
		}
	}
}

func stdioCall(id any, tool string, args map[string]any) map[string]any {
	return mcpstdio.ToolCall(id, tool, args)
}

func getCall(id any, authID string) map[string]any {
	return stdioCall(id, "get_token", map[string]any{"authID": authID})
}

// answer waits for the answer to id and returns it.
func (r *stdioRun) answer(id any, within time.Duration) string {
	r.t.Helper()
	return string(r.client.Await(r.t, id, within).Raw)
}

// answers are the answers so far to the id whose JSON is rawID.
func (r *stdioRun) answers(rawID string) []string {
	var out []string
	for _, m := range r.client.AnswersTo(rawID) {
		out = append(out, string(m.Raw))
	}
	return out
}

// ended waits (for at least mcpstdio.MinWait) for Serve to return and
// returns how long that took.
func (r *stdioRun) ended(within time.Duration) time.Duration {
	r.t.Helper()
	within = max(within, mcpstdio.MinWait)
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
				for _, a := range r.answers(fmt.Sprint(id)) {
					wantAnswer(t, a, "cancelled", `"isError":true`)
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
	r.client.AllowDuplicateIDs = true
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
		if len(r.answers(id)) == 0 {
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
		r.send(mcpstdio.Cancel(i))
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
