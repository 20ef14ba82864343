package tools

import (
	"cmp"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenaudit/influx-token-mcp/bench/fixture"
)

// TestListTokensLargeList: a token list larger than any whole-answer cap
// (over 32 MiB, where list_tokens once failed) is answered, page and
// summary alike. The fake InfluxDB generates the list as it sends it, so the
// test holds no copy of it; the expected answer comes from the generator.
// bench/run.sh measures larger lists: 300,000 tokens (347 MB) and 10,000
// all-access tokens (68 MB).
func TestListTokensLargeList(t *testing.T) {
	const n = 30000 // 34.7 MB
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/authorizations" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fixture.Write(&countingWriter{w, &sent}, n, false)
	}))
	t.Cleanup(srv.Close)
	// A long timeout: the race detector makes decoding 10 times slower.
	h := newHarnessAt(t, srv.URL, nil, Settings{Timeout: time.Minute})

	res := h.call(t, "list_tokens", map[string]any{})
	r := structured[ListTokensResult](t, res)
	if sent.Load() <= 32<<20 {
		t.Fatalf("the list was %d bytes, want over 32 MiB", sent.Load())
	}

	var all []*fixture.Authorization
	var active, inactive, noDescription int
	fixture.Each(n, false, func(_ int, a *fixture.Authorization) error {
		all = append(all, &fixture.Authorization{ID: a.ID, CreatedAt: a.CreatedAt})
		if a.Status == "active" {
			active++
		} else {
			inactive++
		}
		if a.Description == "" {
			noDescription++
		}
		return nil
	})
	slices.SortFunc(all, func(a, b *fixture.Authorization) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	var oldest []string
	for _, a := range all[:50] {
		oldest = append(oldest, a.ID)
	}

	if r.Total != n || r.Count != 50 || !r.Truncated {
		t.Errorf("total %d count %d truncated %v, want %d, 50, true", r.Total, r.Count, r.Truncated, n)
	}
	if got := ids(r); !slices.Equal(got, oldest) {
		t.Errorf("page %q,\nwant the 50 oldest %q", got, oldest)
	}
	s := r.Summary
	if s.Active != active || s.Inactive != inactive || s.Risks.Inactive != inactive || s.Risks.NoDescription != noDescription {
		t.Errorf("summary %+v; want %d active, %d inactive, %d without description", s, active, inactive, noDescription)
	}
	if strings.Contains(text(t, res), fixture.SecretPrefix) {
		t.Error("the answer holds a token secret")
	}
}

// countingWriter counts the bytes written to w.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p))) // before they can reach the reader
	return c.w.Write(p)
}
