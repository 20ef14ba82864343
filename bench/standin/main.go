// Command standin is a local stand-in for InfluxDB's token API, for the
// benchmarks: GET /api/v2/authorizations answers a generated list of -n
// tokens (bench/fixture, formatted as InfluxDB OSS formats it; -allaccess
// for all-access tokens), and
// /api/v2/buckets and /api/v2/orgs answer empty lists. It prints its base URL
// on stdout once it listens and serves until stdin closes or it is killed.
// GET /bench/requests tells how many API requests it has answered, so the
// benchmark can check that the server under test makes none at start-up;
// GET /bench/lists how many of them were token lists.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"

	"github.com/tokenaudit/influx-token-mcp/bench/fixture"
)

func main() {
	n := flag.Int("n", 10, "number of tokens")
	addr := flag.String("addr", "127.0.0.1:0", "`host:port` to listen on")
	compact := flag.Bool("compact", false, "answer compact JSON instead of InfluxDB's tab-indented JSON")
	allAccess := flag.Bool("allaccess", false, "give every token the permissions of an all-access token")
	flag.Parse()

	var list bytes.Buffer
	if err := fixture.Write(&list, *n, *allAccess); err != nil {
		fail(err)
	}
	body := list.Bytes()
	if *compact {
		var b bytes.Buffer
		if err := json.Compact(&b, body); err != nil {
			fail(err)
		}
		body = b.Bytes()
	}
	var requests, lists atomic.Int64
	empty := func(key string) []byte { return []byte(`{"links":{},"` + key + `":[]}`) }
	serve := func(b []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			if r.Header.Get("Authorization") == "" {
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"code":"unauthorized","message":"unauthorized access"}`))
				return
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.Write(b)
		}
	}
	mux := http.NewServeMux()
	listBody := serve(body)
	mux.HandleFunc("GET /api/v2/authorizations", func(w http.ResponseWriter, r *http.Request) {
		lists.Add(1)
		listBody(w, r)
	})
	mux.HandleFunc("GET /api/v2/buckets", serve(empty("buckets")))
	mux.HandleFunc("GET /api/v2/orgs", serve(empty("orgs")))
	mux.HandleFunc("GET /bench/requests", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, requests.Load())
	})
	mux.HandleFunc("GET /bench/lists", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, lists.Load())
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fail(err)
	}
	fmt.Printf("http://%s\n", ln.Addr())
	go func() { // the benchmark closes stdin when it is done
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	fail(http.Serve(ln, mux))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "standin:", err)
	os.Exit(1)
}
