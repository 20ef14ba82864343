package tools

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Serve runs srv over stdio until stdin ends or ctx is cancelled, and returns
// nil in both cases. It wraps mcp-go's StdioServer, which on its own cancels
// every call in flight the moment stdin ends, runs a few tool calls at a time
// with the rest queued where notifications/cancelled cannot reach them, and
// buffers input lines of any length. Here:
//
//   - stdin EOF: calls already read run to the end and are answered; then
//     Serve returns (after at most 5 s, when calls in flight are cancelled
//     and answered as such);
//   - ctx cancelled (SIGTERM, SIGINT): calls in flight are cancelled and
//     Serve returns within about a second;
//   - at most 16 tool calls run at once; the others wait here, in order, and
//     a notifications/cancelled for one of them answers it at once without
//     asking InfluxDB;
//   - a line over 8 MiB is answered with a JSON-RPC error instead of being
//     buffered, and the session goes on.
//
// Everything written to stdout is a JSON-RPC message.
func Serve(ctx context.Context, srv *server.MCPServer, stdin io.Reader, stdout io.Writer, log *slog.Logger) error {
	return defaultStdio.serve(ctx, srv, stdin, stdout, log)
}

type stdioConfig struct {
	workers         int           // tool calls running at once
	drainTimeout    time.Duration // after stdin ends: how long calls in flight may still take
	shutdownTimeout time.Duration // after cancelling: how long to wait for mcp-go to stop
	maxMessage      int           // bytes in one input line, newline excluded
}

var defaultStdio = stdioConfig{
	workers:         16,
	drainTimeout:    5 * time.Second,
	shutdownTimeout: time.Second,
	maxMessage:      8 << 20,
}

// idPrefix is how much of an oversized line is kept to find its id.
const idPrefix = 64 << 10

// relay sits between the client and mcp-go's StdioServer: it reads the
// client's lines, passes them to mcp-go through a pipe, and watches the
// answers mcp-go writes, so that it knows which requests are still open.
// Requests are matched to answers by their JSON-RPC id, in canonical form
// (see canonicalID).
type relay struct {
	cfg stdioConfig
	log *slog.Logger

	mu        sync.Mutex
	changed   *sync.Cond
	toServer  [][]byte       // lines to write into the pipe, in order
	waiting   []heldCall     // tool calls beyond cfg.workers, oldest first
	open      map[string]int // requests read and not answered yet
	running   map[string]int // tool calls handed to mcp-go and not answered yet
	nrunning  int
	inputDone bool // stdin ended
	closing   bool // the pipe is to be closed once toServer is written
	drained   chan struct{}
	ended     chan struct{}

	outMu   sync.Mutex // one message at a time on stdout
	out     io.Writer
	partial []byte // the start of a message mcp-go has not finished writing
}

type heldCall struct {
	key  string
	id   json.RawMessage
	line []byte
}

func (c stdioConfig) serve(ctx context.Context, srv *server.MCPServer, stdin io.Reader, stdout io.Writer, log *slog.Logger) error {
	r := &relay{
		cfg:     c,
		log:     log,
		open:    map[string]int{},
		running: map[string]int{},
		drained: make(chan struct{}),
		ended:   make(chan struct{}),
		out:     stdout,
	}
	r.changed = sync.NewCond(&r.mu)

	stdio := server.NewStdioServer(srv)
	stdio.SetErrorLogger(slog.NewLogLogger(log.Handler(), slog.LevelWarn))
	server.WithWorkerPoolSize(c.workers)(stdio)
	// Only admitted calls reach mcp-go's queue, so it never fills up (when it
	// does, mcp-go runs the call on its read loop, which then stops reading).
	server.WithQueueSize(2 * c.workers)(stdio)

	pr, pw := io.Pipe()
	listenDone := make(chan error, 1)
	go func() { listenDone <- stdio.Listen(ctx, pr, (*answerTap)(r)) }()
	go r.forward(pw)
	go r.readInput(stdin)

	select {
	case <-ctx.Done():
		return r.shutdown(pw, listenDone)
	case err := <-listenDone:
		pw.CloseWithError(io.ErrClosedPipe)
		return err
	case <-r.ended:
	}

	timer := time.NewTimer(c.drainTimeout)
	defer timer.Stop()
	select {
	case <-r.drained:
	case <-timer.C:
		r.mu.Lock()
		n := len(r.open)
		r.mu.Unlock()
		log.Warn("stdin closed and calls still unanswered; cancelling them", "calls", n, "after", c.drainTimeout)
	case <-ctx.Done():
		return r.shutdown(pw, listenDone)
	}
	r.refuseWaiting("The server is shutting down (its input was closed) before this call could start.")
	r.mu.Lock()
	r.closing = true
	r.changed.Broadcast()
	r.mu.Unlock()

	// Closing the pipe makes mcp-go cancel what still runs; a handler that
	// ignores its context does not hold up the exit.
	select {
	case err := <-listenDone:
		return err
	case <-ctx.Done():
		return r.shutdown(pw, listenDone)
	case <-time.After(c.shutdownTimeout):
		log.Warn("calls did not stop after stdin closed", "waited", c.shutdownTimeout)
		return nil
	}
}

// shutdown stops serving after ctx was cancelled: mcp-go cancels the calls in
// flight, and Serve does not wait for them longer than shutdownTimeout.
func (r *relay) shutdown(pw *io.PipeWriter, listenDone <-chan error) error {
	pw.CloseWithError(context.Canceled)
	r.mu.Lock()
	r.closing = true
	r.changed.Broadcast()
	r.mu.Unlock()
	select {
	case <-listenDone:
	case <-time.After(r.cfg.shutdownTimeout):
		r.log.Warn("calls did not stop in time after cancellation", "waited", r.cfg.shutdownTimeout)
	}
	return nil
}

// readInput reads the client's lines until stdin ends.
func (r *relay) readInput(stdin io.Reader) {
	br := bufio.NewReaderSize(stdin, 64<<10)
	for {
		line, tooLong, err := readLine(br, r.cfg.maxMessage)
		switch {
		case tooLong:
			r.refuseOversized(line)
		case len(bytes.TrimSpace(line)) > 0:
			r.fromClient(line)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				r.log.Warn("reading stdin failed; finishing calls in flight", "err", err)
			}
			r.mu.Lock()
			r.inputDone = true
			r.checkDrained()
			r.mu.Unlock()
			close(r.ended)
			return
		}
	}
}

// readLine returns the next line without its line end. For a line longer
// than limit it returns tooLong and only the line's first idPrefix bytes;
// the rest is read and dropped.
func readLine(br *bufio.Reader, limit int) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			line = append(line, chunk...)
			if n := len(bytes.TrimRight(line, "\r\n")); n > limit {
				tooLong = true
				line = line[:min(len(line), idPrefix)]
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimRight(line, "\r\n"), tooLong, err
	}
}

// clientMessage is how mcp-go reads a message (MCPServer.HandleMessage): it
// answers one with a non-null id and no result, under that id, if these
// four fields decode; otherwise with id null, or not at all. Classifying
// with the same rules keeps the bookkeeping here in step with mcp-go.
type clientMessage struct {
	JSONRPC string `json:"jsonrpc"`
	Method  string `json:"method"`
	ID      any    `json:"id,omitempty"`
	Result  any    `json:"result,omitempty"`
}

// fromClient books one line from the client and passes it on, or holds it
// back if it is a tool call and every worker is busy.
func (r *relay) fromClient(line []byte) {
	var m clientMessage
	decoded := json.Unmarshal(line, &m) == nil
	if !decoded || m.ID == nil || m.Result != nil {
		var answer []byte
		if decoded && m.ID == nil && m.Method == string(mcp.MethodNotificationCancelled) {
			var n struct {
				Params struct {
					RequestID any `json:"requestId"`
				} `json:"params"`
			}
			if json.Unmarshal(line, &n) == nil && n.Params.RequestID != nil {
				r.mu.Lock()
				answer = r.dropWaiting(canonicalID(n.Params.RequestID))
				r.mu.Unlock()
			}
		}
		r.pass(line)
		if answer != nil {
			r.writeOwn(answer)
		}
		return
	}
	key := canonicalID(m.ID)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.open[key]++
	if m.Method == string(mcp.MethodToolsCall) {
		raw, _ := json.Marshal(m.ID)
		r.waiting = append(r.waiting, heldCall{key: key, id: raw, line: withNewline(line)})
		r.admit()
		return
	}
	r.toServer = append(r.toServer, withNewline(line))
	r.changed.Broadcast()
}

func (r *relay) pass(line []byte) {
	r.mu.Lock()
	r.toServer = append(r.toServer, withNewline(line))
	r.changed.Broadcast()
	r.mu.Unlock()
}

// admit hands waiting tool calls to mcp-go while workers are free. r.mu is held.
func (r *relay) admit() {
	for r.nrunning < r.cfg.workers && len(r.waiting) > 0 && !r.closing {
		c := r.waiting[0]
		r.waiting = r.waiting[1:]
		r.running[c.key]++
		r.nrunning++
		r.toServer = append(r.toServer, c.line)
	}
	r.changed.Broadcast()
}

// dropWaiting removes the waiting tool call with key, if there is one, and
// returns its answer. r.mu is held.
func (r *relay) dropWaiting(key string) []byte {
	for i, c := range r.waiting {
		if c.key == key {
			r.waiting = append(r.waiting[:i], r.waiting[i+1:]...)
			r.answered(key)
			return toolErrorAnswer(c.id, "The call was cancelled before it started; InfluxDB was not asked.")
		}
	}
	return nil
}

// refuseWaiting answers every tool call that has not started with text.
func (r *relay) refuseWaiting(text string) {
	r.mu.Lock()
	held := r.waiting
	r.waiting = nil
	for _, c := range held {
		r.answered(c.key)
	}
	r.mu.Unlock()
	for _, c := range held {
		r.writeOwn(toolErrorAnswer(c.id, text))
	}
}

// refuseOversized answers a line over the size limit, with its id when the
// line's start shows it.
func (r *relay) refuseOversized(prefix []byte) {
	id := json.RawMessage("null")
	if raw := idFromPrefix(prefix); raw != nil {
		id = raw
	}
	msg := fmt.Sprintf("Invalid Request: the message is larger than %d MiB; send smaller arguments", r.cfg.maxMessage>>20)
	b, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}{JSONRPC: mcp.JSONRPC_VERSION, ID: id, Error: struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{mcp.INVALID_REQUEST, msg}})
	r.writeOwn(append(b, '\n'))
}

// idFromPrefix finds the id of a JSON-RPC message from the start of it, when
// the id comes before anything too long to fit. Only a string or number is
// an id.
func idFromPrefix(prefix []byte) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(prefix))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil
		}
		if tok != "id" {
			continue
		}
		var id any
		if json.Unmarshal(v, &id) != nil {
			return nil
		}
		switch id.(type) {
		case string, float64:
			out, _ := json.Marshal(id)
			return out
		}
		return nil
	}
	return nil
}

// answered books the answer to the request with key. r.mu is held.
func (r *relay) answered(key string) {
	if n := r.open[key]; n > 1 {
		r.open[key] = n - 1
	} else {
		delete(r.open, key)
	}
	if n := r.running[key]; n > 0 {
		if n > 1 {
			r.running[key] = n - 1
		} else {
			delete(r.running, key)
		}
		r.nrunning--
		r.admit()
	}
	r.checkDrained()
}

// checkDrained closes r.drained once stdin has ended and every request is
// answered. r.mu is held.
func (r *relay) checkDrained() {
	if r.inputDone && len(r.open) == 0 {
		select {
		case <-r.drained:
		default:
			close(r.drained)
		}
	}
}

// forward writes lines into the pipe mcp-go reads, and closes it once told to.
func (r *relay) forward(pw *io.PipeWriter) {
	for {
		r.mu.Lock()
		for len(r.toServer) == 0 && !r.closing {
			r.changed.Wait()
		}
		if len(r.toServer) == 0 {
			r.mu.Unlock()
			pw.Close()
			return
		}
		line := r.toServer[0]
		r.toServer[0] = nil
		r.toServer = r.toServer[1:]
		r.mu.Unlock()
		if _, err := pw.Write(line); err != nil {
			return
		}
	}
}

// writeOwn writes an answer made here, not by mcp-go.
func (r *relay) writeOwn(msg []byte) {
	r.outMu.Lock()
	defer r.outMu.Unlock()
	if _, err := r.out.Write(msg); err != nil {
		r.log.Warn("writing to stdout failed", "err", err)
	}
}

// answerTap is the stdout mcp-go writes to: it passes every message on and
// books the answers.
type answerTap relay

func (t *answerTap) Write(p []byte) (int, error) {
	r := (*relay)(t)
	r.outMu.Lock()
	defer r.outMu.Unlock()
	n, err := r.out.Write(p)
	// Book the answer even if it could not be written: the client is gone
	// then, and waiting for it would only hold up the exit.
	data := p
	if len(r.partial) > 0 {
		r.partial = append(r.partial, p...)
		data = r.partial
	}
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		r.sawAnswer(data[:i])
		data = data[i+1:]
	}
	r.partial = append(r.partial[:0], data...)
	return n, err
}

// sawAnswer books one message mcp-go wrote, if it answers a request.
func (r *relay) sawAnswer(msg []byte) {
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method *string         `json:"method"`
	}
	if json.Unmarshal(msg, &m) != nil || m.Method != nil || len(m.ID) == 0 {
		return
	}
	var id any
	if json.Unmarshal(m.ID, &id) != nil || id == nil {
		return
	}
	r.mu.Lock()
	r.answered(canonicalID(id))
	r.mu.Unlock()
}

// canonicalID is the form of a decoded JSON-RPC id that a request and its
// answer share: mcp-go decodes the id into an any and encodes that value
// again in the answer.
func canonicalID(id any) string {
	b, err := json.Marshal(id)
	if err != nil {
		return fmt.Sprint(id)
	}
	return string(b)
}

func withNewline(line []byte) []byte {
	out := make([]byte, len(line)+1)
	copy(out, line)
	out[len(line)] = '\n'
	return out
}

// toolErrorAnswer is a tools/call answer with a tool error, for calls
// answered here.
func toolErrorAnswer(id json.RawMessage, text string) []byte {
	b, _ := json.Marshal(struct {
		JSONRPC string             `json:"jsonrpc"`
		ID      json.RawMessage    `json:"id"`
		Result  mcp.CallToolResult `json:"result"`
	}{mcp.JSONRPC_VERSION, id, *mcp.NewToolResultError(text)})
	return append(b, '\n')
}
