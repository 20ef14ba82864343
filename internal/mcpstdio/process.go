package mcpstdio

import (
	"bytes"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

// Build compiles the server (the root module's main package) into dir, with
// the race detector when race is set, and returns the binary's path.
func Build(dir string, race bool, extraArgs ...string) (string, error) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(dir, "influx-token-mcp")
	args := []string{"build", "-o"}
	if race {
		bin += "-race"
		args = append(args, bin, "-race")
	} else {
		args = append(args, bin)
	}
	args = append(append(args, extraArgs...), ".")
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", &buildError{err, out}
	}
	return bin, nil
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + string(e.out) }

// RaceEnabled reports whether the running test binary was built with the
// race detector; the server is then built with it too.
func RaceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}

// Process is the server binary running with a Client on its stdio.
type Process struct {
	*Client
	Cmd    *exec.Cmd
	Stdin  io.WriteCloser
	stderr Buffer

	exited  chan struct{}
	exitErr error
}

// Start runs bin with exactly env as its environment.
func Start(t testing.TB, bin string, env map[string]string) *Process {
	t.Helper()
	return StartReadingAfter(t, bin, env, nil)
}

// StartReadingAfter is Start for a client that reads nothing from the
// server's stdout until readFrom is closed (nil: at once) or the test ends.
func StartReadingAfter(t testing.TB, bin string, env map[string]string, readFrom <-chan struct{}) *Process {
	t.Helper()
	cmd := exec.Command(bin)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &Process{Cmd: cmd, exited: make(chan struct{})}
	cmd.Stderr = &p.stderr
	var err error
	if p.Stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.Client = New(t, p.Stdin)
	p.Client.Diagnostics = func() string { return "stderr:\n" + p.Stderr() }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{}) // the test is over: read, whatever readFrom says
	go func() {
		if readFrom != nil {
			select {
			case <-readFrom:
			case <-ended:
			}
		}
		_, _ = io.Copy(p.Client, out)
		p.Client.Close()
		p.exitErr = cmd.Wait() // only once stdout is read to its end
		close(p.exited)
	}()
	t.Cleanup(func() {
		close(ended)
		_ = cmd.Process.Kill()
		<-p.exited
		if strings.Contains(p.Stderr(), "DATA RACE") {
			t.Errorf("the race detector fired:\n%s", p.Stderr())
		}
	})
	return p
}

// Stderr is what the server has logged.
func (p *Process) Stderr() string { return p.stderr.String() }

// Pid is the server's process id.
func (p *Process) Pid() int { return p.Cmd.Process.Pid }

// WaitExit waits (for at least MinWait) for the server to end and returns
// its exit code and how long that took.
func (p *Process) WaitExit(t testing.TB, within time.Duration) (int, time.Duration) {
	t.Helper()
	within = max(within, MinWait)
	start := time.Now()
	select {
	case <-p.exited:
	case <-time.After(within):
		t.Fatalf("the server did not exit within %s; stderr:\n%s", within, p.Stderr())
	}
	if p.exitErr == nil {
		return 0, time.Since(start)
	}
	ee, ok := p.exitErr.(*exec.ExitError)
	if !ok {
		t.Fatalf("wait: %v", p.exitErr)
	}
	return ee.ExitCode(), time.Since(start)
}

// Buffer is a bytes.Buffer that one goroutine may write while another
// reads it: a server's log, for tests to search.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
