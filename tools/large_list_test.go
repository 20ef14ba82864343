package tools

import (
	"cmp"
	"encoding/json"
	"errors"
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
// test holds no copy; the expected answer comes from a second generation of
// the same list, decoded by encoding/json. bench/run.sh measures 300,000
// tokens (347 MB) and 10,000 all-access tokens (68 MB).
func TestListTokensLargeList(t *testing.T) {
	for _, tc := range []struct {
		name      string
		n         int
		allAccess bool
	}{
		{"3 permissions each", 30000, false}, // 34.7 MB
		{"all-access tokens", 5400, true},    // 36.5 MB
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The fake sends the list to the server and to the reference
			// decoder at once.
			pr, pw := io.Pipe()
			reference := make(chan referenceAnswer, 1)
			go func() {
				ref := referenceList(pr)
				pr.Close() // a reference that failed early must not block the fake
				reference <- ref
			}()
			var sent atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				if r.URL.Path != "/api/v2/authorizations" || sent.Load() > 0 {
					http.NotFound(w, r)
					return
				}
				cw := &countingWriter{w: w}
				pw.CloseWithError(fixture.Write(io.MultiWriter(cw, pw), tc.n, tc.allAccess))
				sent.Store(cw.n)
			}))
			t.Cleanup(srv.Close)
			h := newHarnessAt(t, srv.URL, nil, Settings{Timeout: time.Minute})

			res := h.call(t, "list_tokens", map[string]any{})
			if sent.Load() <= 32<<20 {
				t.Fatalf("the list was %d bytes, want over 32 MiB", sent.Load())
			}
			want := <-reference
			if want.err != nil {
				t.Fatal(want.err)
			}
			r := structured[ListTokensResult](t, res)
			if r.Total != tc.n || r.Count != 50 || !r.Truncated {
				t.Errorf("total %d count %d truncated %v, want %d, 50, true", r.Total, r.Count, r.Truncated, tc.n)
			}
			if got := ids(r); !slices.Equal(got, want.oldest[:50]) {
				t.Errorf("page %q,\nwant the 50 oldest %q", got, want.oldest[:50])
			}
			s := r.Summary
			if s.Active != want.active || s.Inactive != want.inactive || s.Risks.Inactive != want.inactive || s.Risks.NoDescription != want.noDescription {
				t.Errorf("summary %+v; want %d active, %d inactive, %d without description", s, want.active, want.inactive, want.noDescription)
			}
			if strings.Contains(text(t, res), fixture.SecretPrefix) {
				t.Error("the answer holds a token secret")
			}
		})
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// referenceAnswer is what list_tokens must say about a generated list.
type referenceAnswer struct {
	oldest                          []string // IDs, oldest first, ties by ID
	active, inactive, noDescription int
	err                             error
}

// referenceList reads a generated list with encoding/json, one token at a
// time.
func referenceList(r io.Reader) (ref referenceAnswer) {
	dec := json.NewDecoder(r)
	// {"links":{…},"authorizations":[ as the fixture writes it
	var links any
	_, err1 := dec.Token()
	_, err2 := dec.Token()
	err3 := dec.Decode(&links)
	_, err4 := dec.Token()
	_, err5 := dec.Token()
	if ref.err = errors.Join(err1, err2, err3, err4, err5); ref.err != nil {
		return ref
	}
	type token struct {
		ID          string
		Status      string
		Description string
		CreatedAt   time.Time
	}
	var tokens []token
	for dec.More() {
		var tok token
		if ref.err = dec.Decode(&tok); ref.err != nil {
			return ref
		}
		tokens = append(tokens, token{ID: tok.ID, CreatedAt: tok.CreatedAt})
		if tok.Status == "active" {
			ref.active++
		} else {
			ref.inactive++
		}
		if tok.Description == "" {
			ref.noDescription++
		}
	}
	io.Copy(io.Discard, r) // the rest, so that the writer does not block
	slices.SortFunc(tokens, func(a, b token) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	for _, tok := range tokens {
		ref.oldest = append(ref.oldest, tok.ID)
	}
	return ref
}
