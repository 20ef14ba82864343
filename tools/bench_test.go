package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tokenaudit/influx-token-mcp/bench/fixture"
	"github.com/tokenaudit/influx-token-mcp/influx"
)

// Benchmarks of list_tokens' own work at 10, 1,000 and 10,000 tokens:
// filtering and permission evaluation, collecting the page and the summary,
// rendering; and the whole handler over HTTP. The token lists come from
// bench/fixture (InfluxDB OSS's format, three permissions a token).

var benchSizes = []int{10, 1000, 10000}

var (
	benchMu    sync.Mutex
	benchCache = map[int][]influx.Authorization{}
)

// benchAuths is fixture.List(n) decoded, once per n.
func benchAuths(tb testing.TB, n int) []influx.Authorization {
	benchMu.Lock()
	defer benchMu.Unlock()
	if a, ok := benchCache[n]; ok {
		return a
	}
	var list struct{ Authorizations []influx.Authorization }
	if err := json.Unmarshal(fixture.List(n), &list); err != nil {
		tb.Fatal(err)
	}
	benchCache[n] = list.Authorizations
	return list.Authorizations
}

// benchClient serves decoded authorizations from memory, a fresh copy of
// each per call as the real client decodes a fresh one, and finds the
// fixture's buckets and orgs by name.
type benchClient struct{ auths []influx.Authorization }

func (c benchClient) ListAuthorizations(_ context.Context, _ influx.ListFilter, fn func(*influx.Authorization) error) error {
	for i := range c.auths {
		a := c.auths[i]
		if err := fn(&a); err != nil {
			return err
		}
	}
	return nil
}

func (c benchClient) GetAuthorization(context.Context, string) (*influx.Authorization, error) {
	return nil, &influx.APIError{StatusCode: http.StatusNotFound}
}

func (c benchClient) FindBuckets(_ context.Context, name, id string) ([]influx.Bucket, error) {
	var out []influx.Bucket
	for o := range fixture.Orgs {
		for b := range fixture.BucketsOrg {
			if (name == "" || fixture.BucketName(b) == name) && (id == "" || fixture.BucketID(o, b) == id) {
				out = append(out, influx.Bucket{ID: fixture.BucketID(o, b), Name: fixture.BucketName(b), OrgID: fixture.OrgID(o)})
			}
		}
	}
	return out, nil
}

func (c benchClient) FindOrgs(_ context.Context, name string) ([]influx.Organization, error) {
	var out []influx.Organization
	for o := range fixture.Orgs {
		if name == "" || fixture.OrgName(o) == name {
			out = append(out, influx.Organization{ID: fixture.OrgID(o), Name: fixture.OrgName(o)})
		}
	}
	return out, nil
}

func intPtr(n int) *int { return &n }

// benchQueries are the list_tokens calls the benchmarks make.
var benchQueries = []struct {
	name string
	in   ListTokensInput
}{
	{"unfiltered", ListTokensInput{}},
	{"description", ListTokensInput{Description: fixture.RareDescription}},
	{"write-bucket-by-name", ListTokensInput{Action: "write", ResourceType: "buckets", ResourceName: fixture.BucketName(3)}},
	{"counts-only", ListTokensInput{Limit: intPtr(0)}},
	{"last-page", ListTokensInput{Offset: 9950}},
}

// BenchmarkListTokens is the handler's work on already decoded tokens:
// filters, risk flags, effective access, page and summary, text rendering.
func BenchmarkListTokens(b *testing.B) {
	for _, q := range benchQueries {
		for _, n := range benchSizes {
			c := benchClient{benchAuths(b, n)}
			b.Run(q.name+"/tokens="+strconv.Itoa(n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if res := listTokens(context.Background(), c, Settings{}, q.in); res.IsError {
						b.Fatal(res.Content)
					}
				}
			})
		}
	}
}

// FindUsers finds no user: the fixture's permissions name none by id.
func (c benchClient) FindUsers(context.Context, string) ([]influx.User, error) { return nil, nil }

// Exists says every id exists: the fixture names no deleted resource.
func (c benchClient) Exists(context.Context, string, string) (bool, error) { return true, nil }

// BenchmarkPermissionEvaluation is risk flags and effective access alone,
// over every token.
func BenchmarkPermissionEvaluation(b *testing.B) {
	for _, n := range benchSizes {
		auths := benchAuths(b, n)
		byType := &accessQuery{Action: "write", Type: "buckets"}
		byName := &accessQuery{Action: "write", Type: "buckets", Name: fixture.BucketName(3)}
		resolveTargets(context.Background(), benchClient{}, Settings{}, byName)
		b.Run("tokens="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				granted := 0
				for i := range auths {
					risksOf(context.Background(), &auths[i], nil)
					if byType.grantedBy(&auths[i]) {
						granted++
					}
					if byName.grantedBy(&auths[i]) {
						granted++
					}
				}
			}
		})
	}
}

// BenchmarkRender is the answer to one call: a page of 50 (or all of 10)
// with the summary over every token, as text and as the JSON of the whole
// tool result.
func BenchmarkRender(b *testing.B) {
	for _, n := range benchSizes {
		res := listTokens(context.Background(), benchClient{benchAuths(b, n)}, Settings{}, ListTokensInput{})
		list := res.StructuredContent.(ListTokensResult)
		q := &listQuery{limit: defaultLimit}
		b.Run("tokens="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = renderList(&list, q)
				if _, err := json.Marshal(res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkListTokensHTTP is the whole handler against a local HTTP server:
// request, streaming decode, filters, page, summary, text, and the JSON of
// the tool result.
func BenchmarkListTokensHTTP(b *testing.B) {
	for _, n := range benchSizes {
		body := fixture.List(n)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, "/api/v2/authorizations") {
				w.Write([]byte(`{"buckets":[],"orgs":[]}`))
				return
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
		}))
		c, err := influx.New(influx.Options{Host: srv.URL, Token: "bench-token"})
		if err != nil {
			b.Fatal(err)
		}
		for _, q := range benchQueries[:2] {
			b.Run(q.name+"/tokens="+strconv.Itoa(n), func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					res := listTokens(context.Background(), c, Settings{}, q.in)
					if res.IsError {
						b.Fatal(res.Content)
					}
					if _, err := json.Marshal(res); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		srv.Close()
	}
}

// BenchmarkCallTool is one tools/call of list_tokens through the MCP server
// as main.go builds it (argument and result schema validation, hooks), from
// the JSON-RPC request to the JSON of the answer, with tokens in memory.
func BenchmarkCallTool(b *testing.B) {
	req := json.RawMessage(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_tokens","arguments":{}}}`)
	for _, n := range benchSizes {
		srv := NewServer(benchClient{benchAuths(b, n)}, Settings{}, "bench", slog.New(slog.DiscardHandler))
		b.Run("tokens="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out, err := json.Marshal(srv.HandleMessage(context.Background(), req))
				if err != nil || !bytes.Contains(out, []byte(`"structuredContent"`)) {
					b.Fatalf("%v: %.300s", err, out)
				}
			}
		})
	}
}
