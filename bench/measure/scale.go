package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// sessionCalls are the questions of an audit as the audit_tokens prompt asks
// them (counts first, then one targeted question per finding), plus one
// user's tokens. user names a user of the instance.
func sessionCalls(user string) []string {
	yearAgo := `"2025-06-01T00:00:00Z"`
	return []string{
		`{"limit":0}`,
		`{"action":"write","resourceType":"buckets","limit":0}`,
		`{"createdBefore":` + yearAgo + `,"status":"active","limit":0}`,
		`{"risk":"instance-wide","limit":500}`,
		`{"risk":"can-create-tokens","limit":500}`,
		`{"status":"inactive","limit":100}`,
		`{"risk":"no-description","limit":100}`,
		`{"action":"write","resourceType":"buckets","limit":200}`,
		`{"createdBefore":` + yearAgo + `,"status":"active","limit":100}`,
		`{"user":"` + user + `","limit":100}`,
	}
}

// session runs the audit session in a fresh process with env and returns
// its total time.
func session(server string, env []string, user string) (time.Duration, error) {
	p, err := spawn(server, env)
	if err != nil {
		return 0, err
	}
	defer p.close()
	if err := p.initialize(); err != nil {
		return 0, err
	}
	t0 := time.Now()
	for _, args := range sessionCalls(user) {
		if _, err := p.callTool("list_tokens", args); err != nil {
			return 0, err
		}
	}
	return time.Since(t0), nil
}

// auditSession times the audit session over the big stand-in with the
// token list shared (the default) and with INFLUX_CACHE_TTL=0, counting the
// lists the stand-in served, next to one bare GET: the floor of a session
// that fetches once.
func auditSession(c config, big *standin) error {
	hc := &http.Client{}
	fmt.Printf("== Audit session over %d tokens: %d list_tokens calls as audit_tokens asks them, one process per session\n", c.big, len(sessionCalls("")))
	var tGet []float64
	for range 5 {
		t0 := time.Now()
		if _, err := big.get(hc); err != nil {
			return err
		}
		tGet = append(tGet, ms(time.Since(t0)))
	}
	floor := median(tGet)
	for _, ttl := range []string{"30s (default)", "0"} {
		env := big.env()
		if ttl == "0" {
			env = append(env, "INFLUX_CACHE_TTL=0")
		}
		var ts []float64
		fetches := 0
		runs := max(3, c.runs/5)
		for range runs {
			before, err := big.lists()
			if err != nil {
				return err
			}
			d, err := session(c.server, env, "user007")
			if err != nil {
				return err
			}
			after, err := big.lists()
			if err != nil {
				return err
			}
			ts = append(ts, ms(d))
			fetches = after - before
		}
		fmt.Printf("INFLUX_CACHE_TTL=%-14s %7.1f ms, %2d token lists fetched; floor (one bare GET) %.1f ms: %.1fx\n",
			ttl, median(ts), fetches, floor, median(ts)/floor)
	}
	fmt.Println()
	return nil
}

// realSession times the audit session against the real InfluxDB handlers.
func realSession(c config, host, token string) error {
	env := []string{"INFLUX_HOST=" + host, "INFLUX_TOKEN=" + token}
	hc := &http.Client{}
	var tGet []float64
	for range 5 {
		t0 := time.Now()
		if _, err := get(hc, host, token); err != nil {
			return err
		}
		tGet = append(tGet, ms(time.Since(t0)))
	}
	fmt.Printf("== Audit session, real InfluxDB v2.8.0 handlers, seeded fixtures (%d list_tokens calls)\n", len(sessionCalls("")))
	for _, ttl := range []string{"30s (default)", "0"} {
		e := env
		if ttl == "0" {
			e = append(e, "INFLUX_CACHE_TTL=0")
		}
		var ts []float64
		for range max(3, c.runs/5) {
			d, err := session(c.server, e, "alice")
			if err != nil {
				return err
			}
			ts = append(ts, ms(d))
		}
		fmt.Printf("INFLUX_CACHE_TTL=%-14s %7.1f ms; floor (one bare GET) %.2f ms\n", ttl, median(ts), median(tGet))
	}
	fmt.Println()
	return nil
}

// manyTokens measures the calls that once kept every candidate token
// (access to one named resource, a deep page) and 8 concurrent access
// questions, each kind in a fresh process, next to a bare GET.
func manyTokens(c config) error {
	if c.many == 0 {
		return nil
	}
	s, err := startStandin(c.standin, c.many)
	if err != nil {
		return err
	}
	defer s.stop()
	hc := &http.Client{}
	var tGet []float64
	size := 0
	for range 3 {
		t0 := time.Now()
		b, err := s.get(hc)
		if err != nil {
			return err
		}
		tGet, size = append(tGet, ms(time.Since(t0))), len(b)
	}
	floor := median(tGet)
	fmt.Printf("== %d tokens with 3 permissions each (%.0f MB of JSON), each call kind in a fresh process; bare GET %.0f ms\n", c.many, mb(size), floor)
	for _, args := range []string{
		`{"action":"write","resourceType":"buckets","resourceName":"bucket3"}`,
		`{"resourceType":"buckets","resourceID":"0c00000000000022"}`,
		fmt.Sprintf(`{"offset":%d}`, c.many-50),
	} {
		d, hwm, _, err := oneQuery(c.server, s, args, 3)
		if err != nil {
			return err
		}
		fmt.Printf("  %-70s %7.0f ms (%.1fx the GET), peak RSS %.1f MB (target 48 MB)\n", args, d, d/floor, hwm)
	}
	if err := concurrent(c, s, floor); err != nil {
		return err
	}
	fmt.Println()
	return nil
}

// concurrent sends 8 different access questions at once to one process,
// with the token list shared (default) and not (INFLUX_CACHE_TTL=0): access
// to 8 named buckets, and 8 type-wide access questions.
func concurrent(c config, s *standin, floor float64) error {
	var named, typeWide []string
	for b := range 8 {
		named = append(named, fmt.Sprintf(`{"action":"write","resourceType":"buckets","resourceName":"bucket%d"}`, b))
	}
	for _, typ := range []string{"buckets", "dashboards", "tasks", "authorizations"} {
		for _, action := range []string{"read", "write"} {
			typeWide = append(typeWide, fmt.Sprintf(`{"action":%q,"resourceType":%q}`, action, typ))
		}
	}
	for _, set := range []struct {
		what  string
		calls []string
	}{{"named buckets", named}, {"type-wide", typeWide}} {
		for _, ttl := range []string{"30s (default)", "0"} {
			env := s.env()
			if ttl == "0" {
				env = append(env, "INFLUX_CACHE_TTL=0")
			}
			p, err := spawn(c.server, env)
			if err != nil {
				return err
			}
			if err := p.initialize(); err != nil {
				p.close()
				return err
			}
			before, _ := s.lists()
			t0 := time.Now()
			errs, err := p.callAll("list_tokens", set.calls)
			d := time.Since(t0)
			after, _ := s.lists()
			hwm, _ := p.status("VmHWM")
			p.close()
			if err != nil {
				return err
			}
			fmt.Printf("  8 concurrent access questions (%s), INFLUX_CACHE_TTL=%-14s %7.0f ms (%.1fx one GET), peak RSS %.1f MB (target 96 MB), %d lists fetched, %d tool errors\n",
				set.what, ttl, ms(d), ms(d)/floor, hwm, after-before, errs)
		}
	}
	return nil
}

// callAll sends one tools/call per args at once and waits for every answer;
// it returns how many were tool errors.
func (p *proc) callAll(tool string, args []string) (toolErrors int, err error) {
	ids := map[int]bool{}
	for _, a := range args {
		p.next++
		ids[p.next] = true
		if _, err := fmt.Fprintf(p.in, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":%s}}`+"\n", p.next, tool, a); err != nil {
			return 0, err
		}
	}
	for len(ids) > 0 {
		line, err := p.out.ReadBytes('\n')
		if err != nil {
			return 0, fmt.Errorf("tools/call: %w", err)
		}
		var msg struct {
			ID     *int `json:"id"`
			Result struct {
				IsError bool `json:"isError"`
			} `json:"result"`
			Error json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(line, &msg); err != nil {
			return 0, err
		}
		if msg.ID == nil || !ids[*msg.ID] {
			continue
		}
		delete(ids, *msg.ID)
		if msg.Error != nil {
			return 0, fmt.Errorf("tools/call: %s", strings.TrimSpace(string(msg.Error)))
		}
		if msg.Result.IsError {
			toolErrors++
		}
	}
	return toolErrors, nil
}
