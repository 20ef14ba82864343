package tools

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

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
	for o := range fixture.Orgs {
		if fixture.OrgName(o) == name {
			return []influx.Organization{{ID: fixture.OrgID(o), Name: name}}, nil
		}
	}
	return nil, nil
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

// BenchmarkPermissionEvaluation is risk flags and effective access alone,
// over every token.
func BenchmarkPermissionEvaluation(b *testing.B) {
	for _, n := range benchSizes {
		auths := benchAuths(b, n)
		byType := &accessQuery{Action: "write", Type: "buckets"}
		byName := &accessQuery{Action: "write", Type: "buckets", Name: fixture.BucketName(3)}
		for i := range auths {
			for _, p := range auths[i].Permissions {
				byName.learn(p)
			}
		}
		b.Run("tokens="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				granted := 0
				for i := range auths {
					risksOf(&auths[i])
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

// referenceListTokens is list_tokens' selection done the plain way: keep
// every match, filter on access once every permission has been seen, sort
// all, cut the page. listTokens must answer exactly as it does.
func referenceListTokens(ctx context.Context, c Client, s Settings, in ListTokensInput) *mcp.CallToolResult {
	q, bad := parseListInput(in, s)
	if bad != nil {
		return bad
	}
	var matches []match
	if err := c.ListAuthorizations(ctx, q.filter, func(a *influx.Authorization) error {
		if q.access != nil && q.access.specific() {
			for _, p := range a.Permissions {
				q.access.learn(p)
			}
		}
		if risks := risksOf(a); q.keeps(a, risks) {
			matches = append(matches, match{auth: a, risks: risks})
		}
		return nil
	}); err != nil {
		return upstreamError(err, s, describeFilter(q.filter))
	}
	notes := []string{visibilityNote}
	if q.access != nil {
		if q.access.specific() {
			notes = append(notes, resolveTargets(ctx, c, q.access, q.filter)...)
		}
		matches = slices.DeleteFunc(matches, func(m match) bool { return !q.access.grantedBy(m.auth) })
	}
	slices.SortFunc(matches, func(a, b match) int {
		return cmp.Or(a.auth.CreatedAt.Compare(b.auth.CreatedAt), strings.Compare(a.auth.ID, b.auth.ID))
	})
	res := ListTokensResult{Tokens: []Token{}, Total: len(matches), Offset: q.offset, Summary: summarize(matches), Notes: notes}
	if q.offset < len(matches) {
		for _, m := range matches[q.offset:min(len(matches), q.offset+q.limit)] {
			t := newToken(m.auth)
			t.Risks = m.risks
			res.Tokens = append(res.Tokens, t)
		}
	}
	res.Count = len(res.Tokens)
	res.Truncated = q.offset+res.Count < res.Total
	return mcp.NewToolResultStructured(res, renderList(&res, q))
}

// TestListTokensSelectsAsReference compares listTokens with the plain
// selection above over a generated instance, for filters, access queries
// and pages at the start, middle, end and past the end.
func TestListTokensSelectsAsReference(t *testing.T) {
	const n = 700
	c := benchClient{benchAuths(t, n)}
	var inputs []ListTokensInput
	for _, page := range []struct{ limit, offset int }{{50, 0}, {0, 0}, {0, 30}, {1, 0}, {7, 13}, {50, 101}, {500, 0}, {500, 250}, {3, n - 2}, {50, n}, {50, n + 1}, {500, 1 << 62}} {
		for _, f := range []ListTokensInput{
			{},
			{Status: "inactive"},
			{Description: "TELEGRAF writer 1"},
			{Risk: riskNoDescription},
			{Risk: riskInstanceWide},
			{CreatedAfter: "2024-06-01T00:00:00Z", CreatedBefore: "2025-06-01T00:00:00Z"},
			{ResourceType: "buckets"},
			{Action: "write", ResourceType: "authorizations"},
			{Action: "read", ResourceType: "dashboards", ResourceName: "nothing by that name"},
			{Action: "write", ResourceType: "buckets", ResourceName: fixture.BucketName(3)},
			{ResourceType: "buckets", ResourceID: fixture.BucketID(4, 2)},
			{ResourceType: "orgs", ResourceName: "org07"},
		} {
			f.Limit, f.Offset = intPtr(page.limit), page.offset
			inputs = append(inputs, f)
		}
	}
	for _, in := range inputs {
		got := listTokens(context.Background(), c, Settings{}, in)
		want := referenceListTokens(context.Background(), c, Settings{}, in)
		if got.IsError || want.IsError {
			t.Fatalf("%+v: error %v / %v", in, got.Content, want.Content)
		}
		if !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			t.Errorf("limit %d offset %d %+v:\n got %.600s\nwant %.600s", *in.Limit, in.Offset, in, g, w)
		}
	}
	// The grid is worth something only if it has pages and non-empty answers.
	res := listTokens(context.Background(), c, Settings{}, ListTokensInput{Action: "write", ResourceType: "buckets", ResourceName: fixture.BucketName(3)})
	if r := res.StructuredContent.(ListTokensResult); r.Total < 10 || r.Total == n || r.Summary.Active == 0 {
		t.Errorf("the access query matched %d of %d tokens; the fixture no longer exercises it", r.Total, n)
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
