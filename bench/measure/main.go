// Command measure drives the built binaries for bench/run.sh: it times
// start-up to the answer to initialize against a minimal mcp-go server,
// reads memory from /proc, times list_tokens calls against the stand-in
// InfluxDB next to a bare HTTP GET of the same URL, and sizes the output. It
// prints medians and ratios; it asserts no timing.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const benchToken = "bench-operator-token"

type config struct {
	server, baseline, standin, real string
	runs, calls, big                int
	huge, allAccess                 int
	many                            int
}

func main() {
	var c config
	flag.StringVar(&c.server, "server", "", "influx-token-mcp binary")
	flag.StringVar(&c.baseline, "baseline", "", "minimal mcp-go server binary")
	flag.StringVar(&c.standin, "standin", "", "stand-in InfluxDB binary")
	flag.IntVar(&c.runs, "runs", 15, "processes started per start-up measurement")
	flag.IntVar(&c.calls, "calls", 30, "calls per latency measurement")
	flag.IntVar(&c.big, "big", 10000, "tokens in the large case")
	flag.IntVar(&c.huge, "huge", 300000, "tokens with three permissions in the largest list (0 skips it)")
	flag.IntVar(&c.allAccess, "allaccess", 10000, "all-access tokens in the list of those (0 skips it)")
	flag.StringVar(&c.real, "real", "", "integration/cmd/influx-testserver binary: also time calls against the real InfluxDB handlers")
	flag.IntVar(&c.many, "many", 100000, "tokens for access questions, a deep page and 8 concurrent calls (0 skips them)")
	flag.Parse()
	if c.server == "" || c.baseline == "" || c.standin == "" {
		fmt.Fprintln(os.Stderr, "measure: -server, -baseline and -standin are required")
		os.Exit(2)
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	small, err := startStandin(c.standin, 10)
	if err != nil {
		return err
	}
	defer small.stop()
	big, err := startStandin(c.standin, c.big)
	if err != nil {
		return err
	}
	defer big.stop()

	if err := startup(c, small); err != nil {
		return err
	}
	if err := perCall(c, small.url, benchToken, "10 tokens, stand-in InfluxDB"); err != nil {
		return err
	}
	if c.real != "" {
		host, token, stop, err := startReal(c.real)
		if err != nil {
			return err
		}
		err = perCall(c, host, token, "seeded fixtures, real InfluxDB v2.8.0 handlers (integration/testserver)")
		if err == nil {
			err = realSession(c, host, token)
		}
		stop()
		if err != nil {
			return err
		}
	}
	if err := largeList(c, big); err != nil {
		return err
	}
	if err := auditSession(c, big); err != nil {
		return err
	}
	if err := noSizeCliff(c); err != nil {
		return err
	}
	return manyTokens(c)
}

// noSizeCliff measures page and summary calls on lists far past the 32 MiB
// that once capped an answer, each call kind in a fresh process: time and
// peak RSS, next to a bare GET of the same list.
func noSizeCliff(c config) error {
	fmt.Println()
	for _, tc := range []struct {
		n         int
		allAccess bool
		what      string
	}{
		{c.huge, false, "tokens with 3 permissions each"},
		{c.allAccess, true, "all-access tokens (43 permissions each)"},
	} {
		if tc.n == 0 {
			continue
		}
		args := []string{}
		if tc.allAccess {
			args = append(args, "-allaccess")
		}
		s, err := startStandin(c.standin, tc.n, args...)
		if err != nil {
			return err
		}
		hc := &http.Client{}
		var tGet []float64
		size := 0
		for range 3 {
			t0 := time.Now()
			raw, err := s.get(hc)
			if err != nil {
				s.stop()
				return err
			}
			tGet, size = append(tGet, ms(time.Since(t0))), len(raw)
		}
		fmt.Printf("== %d %s: InfluxDB JSON %.0f MB as OSS sends it; bare GET %.0f ms\n", tc.n, tc.what, mb(size), median(tGet))
		for _, call := range []struct{ what, args string }{
			{"page of 50", `{}`},
			{"summary (limit 0)", `{"limit":0}`},
		} {
			d, hwm, _, err := oneQuery(c.server, s, call.args, 3)
			if err != nil {
				s.stop()
				return err
			}
			fmt.Printf("list_tokens %-18s %7.0f ms, peak RSS %.1f MB (target 40 MB)\n", call.what, d, hwm)
		}
		fmt.Println()
		s.stop()
	}
	return nil
}

// startup starts the baseline and the server alternately, c.runs times each.
func startup(c config, small *standin) error {
	var tBase, tSrv, rssBase, rssSrv, rssBaseList, rssSrvList []float64
	before, err := small.requests()
	if err != nil {
		return err
	}
	for range c.runs {
		for _, which := range []string{"baseline", "server"} {
			bin, env := c.baseline, []string(nil)
			if which == "server" {
				bin, env = c.server, small.env()
			}
			t0 := time.Now()
			p, err := spawn(bin, env)
			if err != nil {
				return err
			}
			if err := p.initialize(); err != nil {
				p.close()
				return fmt.Errorf("%s: %w", which, err)
			}
			d := time.Since(t0)
			rss, _ := p.status("VmRSS")
			if _, err := p.call("tools/list", `{}`); err != nil {
				p.close()
				return fmt.Errorf("%s: %w", which, err)
			}
			rssList, _ := p.status("VmRSS")
			p.close()
			if which == "baseline" {
				tBase, rssBase, rssBaseList = append(tBase, ms(d)), append(rssBase, rss), append(rssBaseList, rssList)
			} else {
				tSrv, rssSrv, rssSrvList = append(tSrv, ms(d)), append(rssSrv, rss), append(rssSrvList, rssList)
			}
		}
	}
	after, err := small.requests()
	if err != nil {
		return err
	}
	fmt.Printf("== Start-up (%d runs each, alternating)\n", c.runs)
	fmt.Printf("time to initialize answer: baseline %.2f ms, influx-token-mcp %.2f ms, ratio %.2fx (target < 1.5x)\n",
		median(tBase), median(tSrv), median(tSrv)/median(tBase))
	fmt.Printf("RSS after initialize:      baseline %.1f MB, influx-token-mcp %.1f MB (target < 15 MB)\n", median(rssBase), median(rssSrv))
	fmt.Printf("RSS after tools/list:      baseline %.1f MB, influx-token-mcp %.1f MB\n", median(rssBaseList), median(rssSrvList))
	fmt.Printf("requests to InfluxDB before the first tool call: %d (want 0)\n\n", after-before)
	return nil
}

// perCall compares list_tokens with a bare GET of the same URL.
func perCall(c config, host, token, what string) error {
	// INFLUX_CACHE_TTL=0: each call asks InfluxDB, so this is the cost of
	// a call, not of reusing a list.
	env := []string{"INFLUX_HOST=" + host, "INFLUX_TOKEN=" + token, "INFLUX_CACHE_TTL=0"}
	p, err := spawn(c.server, env)
	if err != nil {
		return err
	}
	defer p.close()
	if err := p.initialize(); err != nil {
		return err
	}
	hc := &http.Client{}
	var tCall, tGet []float64
	for i := -3; i < c.calls; i++ { // three warm-up rounds
		t0 := time.Now()
		if _, err := p.callTool("list_tokens", `{}`); err != nil {
			return err
		}
		d1 := time.Since(t0)
		t0 = time.Now()
		if _, err := get(hc, host, token); err != nil {
			return err
		}
		d2 := time.Since(t0)
		if i >= 0 {
			tCall, tGet = append(tCall, ms(d1)), append(tGet, ms(d2))
		}
	}
	fmt.Printf("== One list_tokens call, %s (%d calls, alternating with a bare GET; INFLUX_CACHE_TTL=0)\n", what, c.calls)
	fmt.Printf("list_tokens %.3f ms, bare GET %.3f ms, overhead %.3f ms (target < 1 ms)\n\n",
		median(tCall), median(tGet), median(tCall)-median(tGet))
	return nil
}

// startReal starts the real InfluxDB handlers seeded with the audit
// fixtures and reads their URL and operator token from its banner.
func startReal(bin string) (host, token string, stop func(), err error) {
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0") // its stderr is discarded
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", "", nil, err
	}
	stop = func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		for _, f := range strings.Fields(sc.Text()) {
			if v, ok := strings.CutPrefix(f, "INFLUX_HOST="); ok {
				host = v
			} else if v, ok := strings.CutPrefix(f, "INFLUX_TOKEN="); ok {
				token = v
			}
		}
		if host != "" && token != "" {
			go io.Copy(io.Discard, out)
			return host, token, stop, nil
		}
	}
	stop()
	return "", "", nil, errors.New("influx-testserver printed no INFLUX_HOST and INFLUX_TOKEN")
}

// largeList measures the big instance in fresh processes: per-call times,
// peak RSS, and output size against the raw JSON of the same tokens.
func largeList(c config, big *standin) error {
	hc := &http.Client{}
	raw, err := big.get(hc)
	if err != nil {
		return err
	}
	procs := max(3, c.runs/3)
	callsEach := max(3, c.calls/procs)
	filtered := `{"description":"backup job"}`
	var tAll, tFilt, tGet, peak []float64
	var page json.RawMessage
	var text string
	var total int
	for range procs {
		p, err := spawn(c.server, append(big.env(), "INFLUX_CACHE_TTL=0")) // every call decodes the list
		if err != nil {
			return err
		}
		if err := p.initialize(); err != nil {
			p.close()
			return err
		}
		for i := -1; i < callsEach; i++ { // one warm-up round
			t0 := time.Now()
			res, err := p.callTool("list_tokens", `{}`)
			if err != nil {
				p.close()
				return err
			}
			d1 := time.Since(t0)
			t0 = time.Now()
			if _, err := p.callTool("list_tokens", filtered); err != nil {
				p.close()
				return err
			}
			d2 := time.Since(t0)
			t0 = time.Now()
			if _, err := big.get(hc); err != nil {
				p.close()
				return err
			}
			d3 := time.Since(t0)
			if i >= 0 {
				tAll, tFilt, tGet = append(tAll, ms(d1)), append(tFilt, ms(d2)), append(tGet, ms(d3))
			}
			page, text, total = res.Structured, res.Text, res.Total
		}
		hwm, _ := p.status("VmHWM")
		peak = append(peak, hwm)
		p.close()
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return err
	}
	fmt.Printf("== %d tokens, %d permissions each: InfluxDB JSON %.1f MB as OSS sends it (tab-indented), %.1f MB compact\n",
		c.big, 3, mb(len(raw)), mb(compact.Len()))
	fmt.Printf("(%d processes x %d calls of each, INFLUX_CACHE_TTL=0)\n", procs, callsEach)
	fmt.Printf("unfiltered list_tokens (page of 50, total %d): %.1f ms (target < 100 ms)\n", total, median(tAll))
	fmt.Printf("filtered list_tokens %s:  %.1f ms (target < 100 ms)\n", filtered, median(tFilt))
	fmt.Printf("bare GET of the same URL:                     %.1f ms\n", median(tGet))
	fmt.Printf("peak RSS (VmHWM) after all calls: %.1f MB (target < 32 MB)\n", median(peak))
	fmt.Printf("other calls, each in a fresh process (%d calls):\n", callsEach)
	for _, args := range []string{
		`{"action":"write","resourceType":"buckets","resourceName":"bucket3"}`, // decided after the list: candidates are kept
		`{"offset":9950}`, // the last page: the 10,000 oldest are kept
		`{"limit":500}`,   // the largest page
	} {
		d, hwm, size, err := oneQuery(c.server, big, args, callsEach)
		if err != nil {
			return err
		}
		fmt.Printf("  %-70s %6.1f ms, peak RSS %.1f MB, answer %d KB\n", args, d, hwm, size/1000)
	}
	fmt.Println()

	perRaw, perCompact, n, err := rawSizes(raw, page)
	if err != nil {
		return err
	}
	structured := len(page)
	fmt.Printf("== Output size, page of %d tokens out of %d\n", n, c.big)
	fmt.Printf("text: %d characters (%.0f per token); structured content: %d characters (%.0f per token)\n",
		utf8.RuneCountInString(text), float64(utf8.RuneCountInString(text))/float64(n), structured, float64(structured)/float64(n))
	fmt.Printf("InfluxDB JSON for the same tokens: %.0f characters per token as sent, %.0f compact\n", perRaw, perCompact)
	fmt.Printf("ratio: text %.2f, structured %.2f of the compact JSON\n", float64(utf8.RuneCountInString(text))/float64(n)/perCompact, float64(structured)/float64(n)/perCompact)
	return nil
}

// oneQuery makes calls calls of list_tokens with args in a fresh process and
// returns their median time, the process's peak RSS and the answer's size.
func oneQuery(server string, big *standin, args string, calls int) (ms_, hwm float64, size int, err error) {
	p, err := spawn(server, big.env())
	if err != nil {
		return 0, 0, 0, err
	}
	defer p.close()
	if err := p.initialize(); err != nil {
		return 0, 0, 0, err
	}
	var ts []float64
	for range calls {
		t0 := time.Now()
		res, err := p.callTool("list_tokens", args)
		if err != nil {
			return 0, 0, 0, err
		}
		ts = append(ts, ms(time.Since(t0)))
		size = len(res.Text) + len(res.Structured)
	}
	hwm, err = p.status("VmHWM")
	return median(ts), hwm, size, err
}

// rawSizes finds the tokens of a list_tokens page in the raw InfluxDB answer
// and returns their mean size as sent and compacted.
func rawSizes(raw, page json.RawMessage) (asSent, compact float64, n int, err error) {
	var list struct {
		Authorizations []json.RawMessage `json:"authorizations"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return 0, 0, 0, err
	}
	byID := map[string]json.RawMessage{}
	for _, a := range list.Authorizations {
		var head struct{ ID string }
		if err := json.Unmarshal(a, &head); err != nil {
			return 0, 0, 0, err
		}
		byID[head.ID] = a
	}
	var res struct {
		Tokens []struct{ ID string }
	}
	if err := json.Unmarshal(page, &res); err != nil {
		return 0, 0, 0, err
	}
	if len(res.Tokens) == 0 {
		return 0, 0, 0, errors.New("empty page")
	}
	var sent, packed int
	for _, t := range res.Tokens {
		a, ok := byID[t.ID]
		if !ok {
			return 0, 0, 0, fmt.Errorf("token %s is not in the raw list", t.ID)
		}
		// One element of the tab-indented array, with its indentation.
		var indented bytes.Buffer
		if err := json.Indent(&indented, a, "\t\t", "\t"); err != nil {
			return 0, 0, 0, err
		}
		sent += indented.Len() + len("\t\t,\n")
		var c bytes.Buffer
		if err := json.Compact(&c, a); err != nil {
			return 0, 0, 0, err
		}
		packed += c.Len() + 1
	}
	n = len(res.Tokens)
	return float64(sent) / float64(n), float64(packed) / float64(n), n, nil
}

// standin is a running bench/standin process.
type standin struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	url string
}

func startStandin(bin string, n int, args ...string) (*standin, error) {
	cmd := exec.Command(bin, append([]string{"-n", strconv.Itoa(n)}, args...)...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("standin: %w", err)
	}
	return &standin{cmd: cmd, in: in, url: strings.TrimSpace(line)}, nil
}

func (s *standin) stop() {
	s.in.Close()
	s.cmd.Wait()
}

func (s *standin) env() []string {
	return []string{"INFLUX_HOST=" + s.url, "INFLUX_TOKEN=" + benchToken}
}

func (s *standin) get(hc *http.Client) ([]byte, error) { return get(hc, s.url, benchToken) }

// get is the bare GET of the token list that list_tokens is compared with.
func get(hc *http.Client, host, token string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, host+"/api/v2/authorizations", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Token "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/api/v2/authorizations: %s", host, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

func (s *standin) requests() (int, error) { return s.counter("requests") }

// lists is how many token lists the stand-in has served.
func (s *standin) lists() (int, error) { return s.counter("lists") }

func (s *standin) counter(name string) (int, error) {
	resp, err := http.Get(s.url + "/bench/" + name)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(b))
}

// proc is a running MCP server spoken to over stdio.
type proc struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	next int
}

func spawn(bin string, env []string) (*proc, error) {
	cmd := exec.Command(bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &proc{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20)}, nil
}

func (p *proc) close() {
	p.in.Close()
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

func (p *proc) initialize() error {
	_, err := p.call("initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}`)
	if err != nil {
		return err
	}
	_, err = io.WriteString(p.in, `{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n")
	return err
}

// call sends one request and returns its result, skipping notifications.
func (p *proc) call(method, params string) (json.RawMessage, error) {
	p.next++
	id := p.next
	if _, err := fmt.Fprintf(p.in, `{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`+"\n", id, method, params); err != nil {
		return nil, err
	}
	for {
		line, err := p.out.ReadBytes('\n')
		if err != nil {
			return nil, fmt.Errorf("%s: %w", method, err)
		}
		var msg struct {
			ID     *int            `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(line, &msg); err != nil {
			return nil, fmt.Errorf("%s: %w", method, err)
		}
		if msg.ID == nil || *msg.ID != id {
			continue
		}
		if msg.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, msg.Error)
		}
		return msg.Result, nil
	}
}

type toolResult struct {
	Text       string
	Structured json.RawMessage
	Total      int
}

func (p *proc) callTool(name, args string) (*toolResult, error) {
	raw, err := p.call("tools/call", fmt.Sprintf(`{"name":%q,"arguments":%s}`, name, args))
	if err != nil {
		return nil, err
	}
	var res struct {
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
		StructuredContent json.RawMessage `json:"structuredContent"`
		IsError           bool            `json:"isError"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, err
	}
	if res.IsError || len(res.Content) == 0 {
		return nil, fmt.Errorf("%s: tool error: %s", name, raw)
	}
	var head struct{ Total int }
	json.Unmarshal(res.StructuredContent, &head)
	return &toolResult{Text: res.Content[0].Text, Structured: res.StructuredContent, Total: head.Total}, nil
}

// status reads a size field of /proc/<pid>/status (in KiB there), in MB
// (10^6 bytes), the unit of the targets.
func (p *proc) status(field string) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) * 1024 / 1e6, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, p.cmd.Process.Pid)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func mb(n int) float64           { return float64(n) / 1e6 }
