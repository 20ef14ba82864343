package influx

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/tokenaudit/influx-token-mcp/bench/fixture"
)

// benchSizes are the token counts every benchmark runs at.
var benchSizes = []int{10, 1000, 10000}

// BenchmarkDecodeList decodes a whole token list, as InfluxDB OSS formats it,
// from memory: the decoder alone.
func BenchmarkDecodeList(b *testing.B) { benchDecode(b, decodeList[Authorization]) }

// BenchmarkDecodeListEncodingJSON is the same work done by encoding/json's
// streaming Decoder: the yardstick.
func BenchmarkDecodeListEncodingJSON(b *testing.B) {
	benchDecode(b, referenceDecodeList[Authorization])
}

func benchDecode(b *testing.B, decode func(io.Reader, string, func(*Authorization) error) error) {
	for _, n := range benchSizes {
		body := fixture.List(n)
		b.Run("tokens="+strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				count := 0
				err := decode(bytes.NewReader(body), "authorizations", func(a *Authorization) error {
					count++
					return nil
				})
				if err != nil || count != n {
					b.Fatalf("decoded %d of %d: %v", count, n, err)
				}
			}
		})
	}
}

// BenchmarkListAuthorizations is one ListAuthorizations call against a local
// HTTP server: request, streaming decode, callback.
func BenchmarkListAuthorizations(b *testing.B) {
	for _, n := range benchSizes {
		body := fixture.List(n)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
		}))
		c, err := New(Options{Host: srv.URL, Token: "bench-token"})
		if err != nil {
			b.Fatal(err)
		}
		b.Run("tokens="+strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				count := 0
				err := c.ListAuthorizations(context.Background(), ListFilter{}, func(*Authorization) error {
					count++
					return nil
				})
				if err != nil || count != n {
					b.Fatalf("listed %d of %d: %v", count, n, err)
				}
			}
		})
		srv.Close()
	}
}
