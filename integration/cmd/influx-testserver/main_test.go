package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenaudit/influx-token-mcp/integration/testserver"
)

func TestRunPrintsWorkingCredentials(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, done, stderr := startRun(ctx, t, "-addr", "127.0.0.1:0", "-as", "auditor-restricted")

	// The export line.
	var host, token string
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "export "); ok {
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "INFLUX_HOST":
					host = v
				case "INFLUX_TOKEN":
					token = v
				}
			}
		}
	}
	if !strings.HasPrefix(host, "http://127.0.0.1:") || token == "" {
		t.Fatalf("export line missing or incomplete:\n%s", out)
	}

	// The Claude Desktop block is valid JSON with the same values.
	_, after, _ := strings.Cut(out, "# claude_desktop_config.json\n")
	block, _, _ := strings.Cut(after, "\n}\n")
	var cfg struct {
		MCPServers map[string]struct {
			Command string            `json:"command"`
			Env     map[string]string `json:"env"`
		} `json:"mcpServers"`
	}
	if err := json.Unmarshal([]byte(block+"\n}"), &cfg); err != nil {
		t.Fatalf("config block: %v\n%s", err, out)
	}
	srv := cfg.MCPServers["influx-tokens"]
	if srv.Env["INFLUX_HOST"] != host || srv.Env["INFLUX_TOKEN"] != token || !strings.HasPrefix(srv.Command, "/") {
		t.Errorf("config block %+v does not match export line %s %s", srv, host, token)
	}

	// The printed token (the restricted auditor, via -as) works and sees
	// only carol's tokens.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, host+"/api/v2/authorizations", nil)
	req.Header.Set("Authorization", "Token "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Authorizations []struct{ User string } }
	err = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || len(list.Authorizations) == 0 {
		t.Fatalf("list with printed token: %d %v %+v", resp.StatusCode, err, list)
	}
	for _, a := range list.Authorizations {
		if a.User != "carol" {
			t.Errorf("restricted auditor sees a token of %s", a.User)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if stderr.Len() > 0 && !strings.Contains(stderr.String(), "shutting down") {
		t.Errorf("unexpected stderr: %s", stderr.String())
	}
}

// startRun starts run with args and returns its banner, up to the
// "Serving" line.
func startRun(ctx context.Context, t *testing.T, args ...string) (banner string, done <-chan error, stderr *bytes.Buffer) {
	t.Helper()
	outR, outW := io.Pipe()
	stderr = new(bytes.Buffer)
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, args, outW, stderr)
		outW.Close()
	}()
	var b strings.Builder
	sc := bufio.NewScanner(outR)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "Serving until") {
			break
		}
	}
	go io.Copy(io.Discard, outR)
	if !strings.Contains(b.String(), "Serving until") {
		t.Fatalf("no banner; stdout %q, stderr %q, err %v", b.String(), stderr.String(), <-errc)
	}
	return b.String(), errc, stderr
}

// TestRunShowsListedTokenValues checks the banner's account of what
// InfluxDB's token list carries: every value when tokens are unhashed, none
// when hashed, and hashed by default where influxd hashes by default.
func TestRunShowsListedTokenValues(t *testing.T) {
	for _, c := range []struct {
		flag   string
		hashed bool
	}{
		{"-hashed-tokens=false", false},
		{"-hashed-tokens=true", true},
		{"", testserver.HashedTokensByDefault()},
	} {
		t.Run(cmp.Or(c.flag, "default"), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			args := []string{"-addr", "127.0.0.1:0"}
			if c.flag != "" {
				args = append(args, c.flag)
			}
			out, done, _ := startRun(ctx, t, args...)
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
			first, _, _ := strings.Cut(out, "\n")
			if got := strings.Contains(first, "with hashed tokens"); got != c.hashed {
				t.Errorf("hashed = %v, want %v: %s", got, c.hashed, first)
			}
			var listed, values int
			_, line, _ := strings.Cut(out, "# GET /api/v2/authorizations as the operator returns ")
			if _, err := fmt.Sscanf(line, "%d tokens with %d token values", &listed, &values); err != nil {
				t.Fatalf("no count of listed token values: %v\n%s", err, out)
			}
			want := listed
			if c.hashed {
				want = 0
			}
			if listed < 14 || values != want {
				t.Errorf("%d tokens with %d values, want at least 14 (the fixtures) with %d", listed, values, want)
			}
		})
	}
}

func TestRunRejectsUnknownFixture(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-as", "nosuch"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), `"nosuch"`) {
		t.Errorf("err = %v", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q", stdout.String())
	}
}
