package tools

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Serve runs srv over stdio with mcp-go's StdioServer until stdin ends or
// ctx is cancelled, and returns nil in both cases.
//
//   - stdin EOF: the requests already read run to the end and are answered,
//     for at most 5 s; then mcp-go cancels what still runs and Serve returns.
//   - ctx cancelled (SIGTERM, SIGINT): mcp-go cancels the calls in flight,
//     and Serve returns within about a second.
//   - At most 8 tool calls run at once, and at most 16 requests are
//     unanswered: past that Serve stops reading stdin until answers are
//     written, so a client that writes faster than it reads cannot grow the
//     server's memory (each request costs a few times its size until
//     answered; a huge line is read whole and answered under its id).
//
// Everything written to stdout is a JSON-RPC message.
func Serve(ctx context.Context, srv *server.MCPServer, stdin io.Reader, stdout io.Writer, log *slog.Logger) error {
	return defaultStdio.serve(ctx, srv, stdin, stdout, log)
}

type stdioLimits struct {
	workers         int           // tool calls running at once
	unanswered      int           // requests read and not answered, at most
	drainTimeout    time.Duration // after stdin ends: how long requests may still take
	shutdownTimeout time.Duration // after cancelling: how long to wait for mcp-go to stop
}

var defaultStdio = stdioLimits{workers: 8, unanswered: 16, drainTimeout: 5 * time.Second, shutdownTimeout: time.Second}

func (l stdioLimits) serve(ctx context.Context, srv *server.MCPServer, stdin io.Reader, stdout io.Writer, log *slog.Logger) error {
	stdio := server.NewStdioServer(srv)
	stdio.SetErrorLogger(slog.NewLogLogger(log.Handler(), slog.LevelWarn))
	server.WithWorkerPoolSize(l.workers)(stdio)
	// Room for every request the gate lets through, so that mcp-go never
	// falls back to running a call on its read loop.
	server.WithQueueSize(l.unanswered)(stdio)

	stop := make(chan struct{})
	defer close(stop)
	g := &gate{in: bufio.NewReader(stdin), out: stdout, limits: l, log: log, stop: stop,
		answered: make(chan struct{}, 1), ended: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- stdio.Listen(ctx, g, g) }()

	select {
	case <-done:
		return nil
	case <-ctx.Done():
	case <-g.ended:
	}
	// mcp-go now cancels what still runs; a handler that ignores its context
	// does not hold up the exit.
	select {
	case <-done:
	case <-time.After(l.shutdownTimeout):
		log.Warn("calls did not stop in time", "waited", l.shutdownTimeout)
	}
	return nil
}

// gate is the stdin and stdout of mcp-go's StdioServer. It counts the
// requests it passes on and the answers written back, holds back the next
// request while too many are unanswered, and at the end of stdin holds
// back EOF (which makes mcp-go cancel every call) until all are answered.
type gate struct {
	in     *bufio.Reader
	out    io.Writer
	limits stdioLimits
	log    *slog.Logger
	stop   <-chan struct{} // Serve returned

	line     []byte // what is left of the line being passed on
	mu       sync.Mutex
	pending  int           // requests passed on and not answered
	answered chan struct{} // a token when an answer was written
	ended    chan struct{} // closed when EOF was passed on
	endOnce  sync.Once
	partial  []byte // an answer written in pieces
}

func (g *gate) Read(p []byte) (int, error) {
	for len(g.line) == 0 {
		line, err := g.in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if line[len(line)-1] != '\n' {
				line = append(line, '\n') // else mcp-go drops a last line
			}
			if isRequest(line) {
				if !g.wait(func(pending int) bool { return pending < g.limits.unanswered }, nil) {
					return 0, io.EOF
				}
				g.mu.Lock()
				g.pending++
				g.mu.Unlock()
			}
			g.line = line // after a last line without newline, EOF comes again on the next read
		} else if err != nil {
			if err != io.EOF {
				g.log.Warn("reading stdin failed; finishing the calls in flight", "err", err)
			}
			if !g.wait(func(pending int) bool { return pending == 0 }, time.After(g.limits.drainTimeout)) {
				g.log.Warn("stdin closed and requests still unanswered; cancelling them", "after", g.limits.drainTimeout)
			}
			g.endOnce.Do(func() { close(g.ended) })
			return 0, io.EOF
		}
	}
	n := copy(p, g.line)
	g.line = g.line[n:]
	if len(g.line) == 0 {
		g.line = nil // a huge line is not kept until the next one
	}
	return n, nil
}

// wait waits until ok(pending) holds, and reports false if the deadline
// passed or Serve returned first.
func (g *gate) wait(ok func(pending int) bool, deadline <-chan time.Time) bool {
	for {
		g.mu.Lock()
		pending := g.pending
		g.mu.Unlock()
		if ok(pending) {
			return true
		}
		select {
		case <-g.answered:
		case <-deadline:
			return false
		case <-g.stop:
			return false
		}
	}
}

func (g *gate) Write(p []byte) (int, error) {
	n, err := g.out.Write(p)
	// Count answers even if they could not be written: the client is gone
	// then, and waiting for it would only hold up the exit.
	g.mu.Lock()
	data := p
	if len(g.partial) > 0 {
		g.partial = append(g.partial, p...)
		data = g.partial
	}
	answers := 0
	for i := bytes.IndexByte(data, '\n'); i >= 0; i = bytes.IndexByte(data, '\n') {
		if isAnswer(data[:i]) {
			answers++
		}
		data = data[i+1:]
	}
	g.partial = append(g.partial[:0], data...)
	g.pending = max(0, g.pending-answers)
	g.mu.Unlock()
	if answers > 0 {
		select {
		case g.answered <- struct{}{}:
		default:
		}
	}
	return n, err
}

// isRequest reports whether mcp-go answers line under an id. It decodes
// these four fields first, the same way (MCPServer.HandleMessage), and
// answers unless the id is missing or null, or the message is a response.
func isRequest(line []byte) bool {
	var m struct {
		JSONRPC string `json:"jsonrpc"`
		Method  string `json:"method"`
		ID      any    `json:"id,omitempty"`
		Result  any    `json:"result,omitempty"`
	}
	return json.Unmarshal(line, &m) == nil && m.ID != nil && (m.JSONRPC != mcp.JSONRPC_VERSION || m.Result == nil)
}

// isAnswer reports whether msg, a message mcp-go wrote, answers a request:
// it has an id other than null and no method. mcp-go writes the id before
// the result, so a large result is not read.
func isAnswer(msg []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(msg))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	id := false
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return false
		}
		switch key {
		case "method":
			return false
		case "result", "error":
			if id {
				return true
			}
		}
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return false
		}
		if key == "id" {
			id = string(v) != "null"
		}
	}
	return id
}
