package influx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/tokenaudit/influx-token-mcp/bench/fixture"
)

// These tests check decodeList against encoding/json: where both accept an
// input they must hand over the same elements. decodeList keeps the JSON
// library's stricter defaults: it rejects duplicate names (including names
// that differ only in case, which match the same field), invalid UTF-8 and
// times not in strict RFC 3339 form. And it reads a time from the JSON
// string's value, where encoding/json reads it from the raw text, so that it
// accepts a time with escapes ("…\u005a") that encoding/json rejects.

// referenceDecodeList is decodeList written with encoding/json's streaming
// Decoder.
func referenceDecodeList[T any](r io.Reader, key string, fn func(*T) error) error {
	dec := json.NewDecoder(r)
	delim := func(want json.Delim) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); !ok || d != want {
			return fmt.Errorf("expected %q, found %v", want, tok)
		}
		return nil
	}
	if err := delim('{'); err != nil {
		return err
	}
	found := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if name, _ := tok.(string); name != key {
			var discard json.RawMessage
			if err := dec.Decode(&discard); err != nil {
				return err
			}
			continue
		}
		found = true
		if err := delim('['); err != nil {
			return err
		}
		for dec.More() {
			item := new(T)
			if err := dec.Decode(item); err != nil {
				return err
			}
			if err := fn(item); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	if !found {
		return errors.New("no list")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

// sameAsEncodingJSON decodes body as a list of T under key with both
// decoders and reports any difference in the elements handed over or in
// whether the input was accepted that the rules above do not explain.
func sameAsEncodingJSON[T Authorization | Bucket | Organization](t *testing.T, key string, body []byte, oneByte bool) {
	t.Helper()
	var want, got []T
	wantErr := referenceDecodeList(bytes.NewReader(body), key, func(v *T) error {
		clipAll(reflect.ValueOf(v).Elem()) // the decoder clips every string at MaxField
		want = append(want, *v)
		return nil
	})
	var r io.Reader = bytes.NewReader(body)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	gotErr := decodeList(r, key, func(v *T) error { got = append(got, *v); return nil })
	stricter := stricterRule(gotErr)
	var timeErr *time.ParseError
	// encoding/json refuses a time with an escape in it (\u005A for Z),
	// which the decoder reads: elements from there on are not compared.
	escapedTime := errors.As(wantErr, &timeErr) && bytes.ContainsRune(body, '\\')
	switch {
	case gotErr == nil && wantErr != nil && !escapedTime:
		t.Errorf("%T from %q:\naccepted, encoding/json: %v", *new(T), clipBody(body), wantErr)
	case gotErr != nil && wantErr == nil && !stricter:
		t.Errorf("%T from %q:\nerror %v, encoding/json accepts it", *new(T), clipBody(body), gotErr)
	}
	// Where one decoder stops earlier, the other handed over the same
	// elements before that.
	if stricter && len(got) < len(want) {
		want = want[:len(got)]
	}
	if escapedTime && len(want) < len(got) {
		got = got[:len(want)]
	}
	if len(got) != len(want) || len(got) > 0 && !reflect.DeepEqual(got, want) {
		t.Errorf("%T from %q:\n got %+v\nwant %+v", *new(T), clipBody(body), got, want)
	}
	if gotErr != nil && strings.Contains(gotErr.Error(), "SECRET") {
		t.Errorf("error quotes the input: %v", gotErr)
	}
}

// clipAll applies ClipField to every string in v, as the decoder does.
func clipAll(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(ClipField(v.String()))
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				clipAll(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			clipAll(v.Index(i))
		}
	}
}

// stricterRule reports whether err is one of the rules encoding/json does
// not have: duplicate names, invalid UTF-8, an escaped lone surrogate (which
// encoding/json turns into U+FFFD), a time not in strict RFC 3339 form (such
// as a one-digit hour, which encoding/json accepts).
func stricterRule(err error) bool {
	var timeErr *time.ParseError
	return err != nil && (errors.Is(err, jsontext.ErrDuplicateName) || errors.As(err, &timeErr) ||
		strings.Contains(err.Error(), "invalid UTF-8") || strings.Contains(err.Error(), "surrogate"))
}

func clipBody(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// decoderCases are inputs the reader must treat as encoding/json does.
var decoderCases = []string{
	`{"authorizations":[]}`,
	` { "links" : { "self" : "/x" } , "authorizations" : [ ] } ` + "\n",
	`{"authorizations":[{"id":"0a","token":"SECRET","status":"active","permissions":[{"action":"read","resource":{"type":"buckets","id":"1b","name":"t","orgID":"2c","org":"acme"}}],"createdAt":"2026-11-27T07:08:39.456506298Z","updatedAt":"2026-11-28T09:00:00+01:00"}]}`,
	// escapes, Unicode, invalid UTF-8
	`{"authorizations":[{"id":"a\"b\\c\/d\u00e9\ud83d\ude00\ud800","description":"caf\u00e9 ☕ \t","user":"` + "\xff\xfe" + `x"}]}`,
	`{"authorizations":[{"\u0069d":"escaped key","token":"SECRET\u0041\n"}]}`,
	`{"authorizations":[{"id":"bad escape \x"}]}`,
	`{"authorizations":[{"token":"SECRET bad escape \q"}]}`,
	`{"authorizations":[{"token":"SECRET \u12"}]}`,
	"{\"authorizations\":[{\"id\":\"raw\ncontrol\"}]}",
	"{\"authorizations\":[{\"id\":\"del\x7f ok\"}]}",
	// strings longer than MaxField, plain and escaped, are clipped
	`{"authorizations":[{"id":"long","description":"` + strings.Repeat("d", MaxField+1) + `","user":"` + strings.Repeat("é", MaxField) + `","permissions":[{"action":"` + strings.Repeat(`\u00e9`, MaxField) + `"}]}]}`,
	// case-insensitive field names, duplicates, nulls
	`{"authorizations":[{"ID":"upper","Permissions":[{"ACTION":"write","Resource":{"TYPE":"orgs"}}],"CREATEDAT":"2026-01-01T00:00:00Z"}]}`,
	`{"authorizations":[{"id":"first","id":"second","orgid":"x","orgID":"y"}]}`,
	`{"authorizations":[{"permissions":[{"action":"read","resource":{"type":"a","id":"1"}},{"action":"write"}],"permissions":[{"resource":{"name":"merged"}}]}]}`,
	`{"authorizations":[{"permissions":[{"action":"read"}],"permissions":[]}]}`,
	`{"authorizations":[{"permissions":[{"action":"a","resource":{"type":"t1","id":"1"}},{"action":"b","resource":{"type":"t2","org":"o"}},{"action":"c"}],"permissions":[{"action":"x"}],"permissions":[{"resource":{"name":"n"}},{"action":"y"},{},{"action":"z"},{}]}]}`,
	`{"authorizations":[{"permissions":[],"permissions":[{"action":"a"}]},{"permissions":[{"action":"fresh"}]},{"permissions":[{}]}]}`,
	`{"authorizations":[{"permissions":[{"action":"read"}],"permissions":null}]}`,
	`{"authorizations":[{"id":null,"description":null,"permissions":[null,{"resource":null}],"createdAt":null}]}`,
	`{"authorizations":[null,{"id":"after null"}]}`,
	`{"authorizations":null}`,
	`{"authorizations":{}}`,
	`{"authorizations":[],"authorizations":[{"id":"second list"}]}`,
	// wrong types
	`{"authorizations":[{"id":5}]}`,
	`{"authorizations":[{"id":true}]}`,
	`{"authorizations":[{"id":"ok"},{"permissions":{}}]}`,
	`{"authorizations":[{"id":"ok"},{"permissions":[5]}]}`,
	`{"authorizations":[{"id":"ok"},{"createdAt":"yesterday"}]}`,
	`{"authorizations":[{"id":"ok"},{"createdAt":17}]}`,
	`{"authorizations":[{"createdAt":"2026-01-01T00:00:00\u005a"}]}`,
	`{"authorizations":[{"id":"ok"},"a string"]}`,
	`{"authorizations":[{"id":"ok"},{"resource":[]}]}`,
	// skipped values of every kind
	`{"authorizations":[{"links":{"a":[1,-2.5e+3,0,true,false,null,{"b":{}},[]],"c":"d"},"id":"x"}],"n":-0.0E-1}`,
	`{"authorizations":[{"x":01}]}`,
	`{"authorizations":[{"x":1.}]}`,
	`{"authorizations":[{"x":-}]}`,
	`{"authorizations":[{"x":1e}]}`,
	`{"authorizations":[{"x":+1}]}`,
	`{"authorizations":[{"x":tru}]}`,
	`{"authorizations":[{"x":nul}]}`,
	`{"authorizations":[{"x":nulls}]}`,
	`{"authorizations":[{"x":[1,]}]}`,
	`{"authorizations":[{"x":{"a":1,}}]}`,
	`{"authorizations":[{"x":{1:2}}]}`,
	`{"authorizations":[{"x":'a'}]}`,
	`{"authorizations":[{"x":1 2}]}`,
	// structure around the list
	``,
	`   `,
	`null`,
	`[]`,
	`"authorizations"`,
	`<html>hello</html>`,
	`{"links":{}}`,
	`{"authorizations":[]`,
	`{"authorizations":[{"id":"a"}`,
	`{"authorizations":[{"id":"a"},`,
	`{"authorizations":[{"id":"a"}] "x":1}`,
	`{"authorizations":[{"id":"a"}]} {"x":1}`,
	`{"authorizations":[{"id":"a"}]}x`,
	`{"authorizations":[{"id":"a"}]}` + "\n\t ",
	`{"authorizations" [{"id":"a"}]}`,
	`{authorizations:[]}`,
	`{"authorizations":[],}`,
	`{"buckets":[{"id":"b1","name":"telegraf","orgID":"o1","retentionRules":[{"type":"expire","everySeconds":0}],"labels":[]}],"orgs":[{"id":"o1","name":"acme","description":""}]}`,
}

func TestDecodeListAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range decoderCases {
		for _, oneByte := range []bool{false, true} {
			sameAsEncodingJSON[Authorization](t, "authorizations", []byte(c), oneByte)
			sameAsEncodingJSON[Bucket](t, "buckets", []byte(c), oneByte)
			sameAsEncodingJSON[Organization](t, "orgs", []byte(c), oneByte)
		}
	}
}

// TestDecodeListTruncated cuts a list at every byte: the reader must hand
// over the same complete elements and fail the same way.
func TestDecodeListTruncated(t *testing.T) {
	body := fixture.List(2)
	for i := range len(body) {
		sameAsEncodingJSON[Authorization](t, "authorizations", body[:i], false)
	}
}

func TestDecodeListGeneratedLists(t *testing.T) {
	for _, n := range []int{0, 1, 250} {
		body := fixture.List(n)
		var compact bytes.Buffer
		if err := json.Compact(&compact, body); err != nil {
			t.Fatal(err)
		}
		for _, b := range [][]byte{body, compact.Bytes()} {
			sameAsEncodingJSON[Authorization](t, "authorizations", b, false)
			sameAsEncodingJSON[Authorization](t, "authorizations", b, true)
		}
	}
}

// TestDecodeListReadErrors passes the reader's own errors on (the client
// tells a body over its size cap or a timeout apart by them) and stops at
// nesting encoding/json refuses.
func TestDecodeListReadErrors(t *testing.T) {
	body := fixture.List(5)
	boom := errors.New("boom")
	err := decodeList(io.MultiReader(bytes.NewReader(body[:len(body)/2]), iotest.ErrReader(boom)), "authorizations", func(*Authorization) error { return nil })
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want the reader's error", err)
	}
	deep := `{"authorizations":[{"links":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}]}`
	if err := decodeList(strings.NewReader(deep), "authorizations", func(*Authorization) error { return nil }); err == nil {
		t.Error("20,000 nested arrays were accepted")
	}
}

func FuzzDecodeList(f *testing.F) {
	for _, c := range decoderCases {
		f.Add([]byte(c))
	}
	f.Add(fixture.List(2))
	f.Fuzz(func(t *testing.T, body []byte) {
		sameAsEncodingJSON[Authorization](t, "authorizations", body, len(body)%2 == 0)
		sameAsEncodingJSON[Bucket](t, "buckets", body, false)
	})
}

// TestDecodeListLimits: elements up to MaxElementSize and strings up to
// MaxStringSize are read, however many there are and whatever the decoder
// has read ahead; one past a limit is an error that names it, after the
// elements before it were handed over.
func TestDecodeListLimits(t *testing.T) {
	// element is a token of exactly size bytes, most of them in a field
	// that is skipped.
	element := func(id string, size int) string {
		head, tail := `{"id":"`+id+`","links":"`, `"}`
		return head + strings.Repeat("x", size-len(head)-len(tail)) + tail
	}
	list := func(elements ...string) string {
		return `{"authorizations":[` + strings.Join(elements, ",") + `]}`
	}
	small := element("small", 300)
	big := element("big", MaxElementSize-1) // and a comma
	for _, tc := range []struct {
		name    string
		body    string
		wantIDs []string
		wantErr string
	}{
		{"elements at the limit", list(small, big, big, small, big), []string{"small", "big", "big", "small", "big"}, ""},
		{"an element past the limit", list(small, big, element("huge", MaxElementSize+1), small), []string{"small", "big"}, "one element of the list is larger than 4 MiB"},
		{"another field past the limit", `{"links":"` + strings.Repeat("x", MaxElementSize) + `",` + list(small)[1:], nil, "larger than 4 MiB"},
		// A long string is clipped (untrusted.go), not an error: a long
		// description must not stop an audit.
		{"a long string", list(small, `{"id":"b","description":"`+strings.Repeat("d", 1<<20)+`"}`, small), []string{"small", "b", "small"}, ""},
		{"a long string in a permission", list(`{"id":"c","permissions":[{"action":"read","resource":{"type":"buckets","name":"` + strings.Repeat("n", 1<<20) + `"}}]}`), []string{"c"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tc.body), iotest.HalfReader(strings.NewReader(tc.body))} {
				var got []string
				err := decodeList(r, "authorizations", func(a *Authorization) error { got = append(got, a.ID); return nil })
				if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
					t.Errorf("err = %v, want %q", err, tc.wantErr)
				}
				if !slices.Equal(got, tc.wantIDs) {
					t.Errorf("handed over %q, want %q", got, tc.wantIDs)
				}
			}
		})
	}
}
