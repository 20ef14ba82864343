package influx

import (
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// The token list has no paging and no upper size (300,000 tokens are about
// 350 MB as InfluxDB OSS indents them), so it is read as a stream with the
// decoder of github.com/go-json-experiment/json (the proposed
// encoding/json/v2): one list element at a time, into types that have no
// field for the token secret, so that the secret is skipped as it is read.
// What bounds memory is one element, not the answer.

// Limits on one answer: what a broken or hostile server can make a call
// hold. Nesting is limited by the JSON library (10,000 levels).
const (
	// MaxElementSize bounds the JSON of one element of a list (one token),
	// and of any other top-level field of the answer. An all-access token
	// (43 permissions) is about 6.7 KB as InfluxDB OSS indents it; 4 MiB
	// leaves room for some 25,000 permissions.
	MaxElementSize = 4 << 20
)

// Each string that is kept (IDs, names, descriptions) is clipped to
// MaxField by clipStrings (untrusted.go): a long one does not fail the
// call, so that no one who may name a bucket or describe a token can stop
// an audit.

// decodeOptions match field names as encoding/json did (the exact name,
// else one that differs only in case), and keep the library's strict
// defaults otherwise: duplicate names, invalid UTF-8 and times not in strict
// RFC 3339 form are errors.
var decodeOptions = json.JoinOptions(json.MatchCaseInsensitiveNames(true), jsonv1.MatchCaseSensitiveDelimiter(true))

// decodeList walks a JSON object and decodes the elements of its array field
// key one at a time, handing each to fn before reading on. Every other field
// is skipped.
func decodeList[T Authorization | Bucket | Organization | User](r io.Reader, key string, fn func(*T) error) error {
	in := &elementReader{r: r, end: MaxElementSize, what: "one element of the list"}
	dec := jsontext.NewDecoder(in)
	return in.explain(readList(dec, in, key, fn))
}

func readList[T Authorization | Bucket | Organization | User](dec *jsontext.Decoder, in *elementReader, key string, fn func(*T) error) error {
	if err := readDelim(dec, '{'); err != nil {
		return err
	}
	found := false
	for {
		in.startElement(dec.InputOffset())
		if dec.PeekKind() == '}' {
			break
		}
		name, err := dec.ReadToken()
		if err != nil {
			return err
		}
		if name.String() != key {
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		found = true
		if err := readDelim(dec, '['); err != nil {
			return fmt.Errorf("%q: %w", key, err)
		}
		for {
			in.startElement(dec.InputOffset())
			if dec.PeekKind() == ']' {
				break
			}
			item := new(T)
			if err := json.UnmarshalDecode(dec, item, decodeOptions); err != nil {
				return err
			}
			clipStrings(item)
			if err := fn(item); err != nil {
				return err
			}
		}
		if err := readDelim(dec, ']'); err != nil {
			return err
		}
	}
	if err := readDelim(dec, '}'); err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("no %q list in the answer", key)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		if err == nil {
			return errors.New("data after the JSON document")
		}
		return err
	}
	return nil
}

// readDelim reads one token that must be the delimiter want.
func readDelim(dec *jsontext.Decoder, want jsontext.Kind) error {
	offset := dec.InputOffset()
	tok, err := dec.ReadToken()
	if err == io.EOF {
		return errors.New("the answer is empty")
	}
	if err != nil {
		return err
	}
	if tok.Kind() != want {
		// The token's kind only: its text may be a secret.
		return fmt.Errorf("a JSON %s where '%v' belongs, after byte %d", tok.Kind(), want, offset)
	}
	return nil
}

// decodeObject decodes one JSON object into v, with the list's rules.
func decodeObject[T Authorization | Bucket](r io.Reader, v *T) error {
	in := &elementReader{r: r, end: MaxElementSize, what: "the answer"}
	err := json.UnmarshalRead(in, v, decodeOptions)
	if err == nil {
		clipStrings(v)
	}
	return in.explain(err)
}

// LimitError is an answer past one of the limits above.
type LimitError struct {
	What  string
	Limit int
}

func (e *LimitError) Error() string {
	size := fmt.Sprintf("%d KiB", e.Limit>>10)
	if e.Limit >= 1<<20 {
		size = fmt.Sprintf("%d MiB", e.Limit>>20)
	}
	return fmt.Sprintf("%s is larger than %s, the most this server reads (a limit against broken answers)", e.What, size)
}

// elementReader passes reads on from r up to a byte offset that decodeList
// moves forward as it goes: MaxElementSize bytes past the start of the
// element (or field) it reads next. So the decoder, which buffers one value
// and its read-ahead, never holds more than that.
type elementReader struct {
	r        io.Reader
	what     string // what is read, for the error
	read     int64  // bytes read from r
	end      int64  // read no further
	tooLarge bool
	err      error // r's own error, other than io.EOF
}

var errElementTooLarge = errors.New("list element over the size limit")

// startElement allows MaxElementSize bytes from offset on.
func (e *elementReader) startElement(offset int64) { e.end = offset + MaxElementSize }

func (e *elementReader) Read(p []byte) (int, error) {
	if e.read >= e.end {
		e.tooLarge = true
		return 0, errElementTooLarge
	}
	if int64(len(p)) > e.end-e.read {
		p = p[:e.end-e.read]
	}
	n, err := e.r.Read(p)
	e.read += int64(n)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// explain turns an error of the JSON library into one that says what went
// wrong without quoting the input, which holds token secrets. The reader's
// own errors (a body over its cap, a timeout) are handed on as they are, so
// that the client can tell them apart.
func (e *elementReader) explain(err error) error {
	var syn *jsontext.SyntacticError
	var sem *json.SemanticError
	switch {
	case err == nil:
		return nil
	case e.tooLarge:
		return &LimitError{What: e.what, Limit: MaxElementSize}
	case e.err != nil:
		return e.err
	case errors.As(err, &syn):
		// The library quotes an invalid escape sequence and what follows
		// it, up to a dozen bytes: cut that out.
		why := quoted.ReplaceAllString(syn.Err.Error(), "")
		return &decodeError{fmt.Sprintf("invalid JSON at byte %d: %s", syn.ByteOffset, why), err}
	case errors.As(err, &sem):
		what := "a JSON value"
		if sem.JSONKind != 0 {
			what = "a JSON " + sem.JSONKind.String()
		}
		where := ""
		if sem.JSONPointer != "" {
			where = " at " + string(sem.JSONPointer)
		}
		msg := fmt.Sprintf("%s where a %v belongs%s (byte %d)", what, sem.GoType, where, sem.ByteOffset)
		return &decodeError{msg, err}
	}
	return err
}

var quoted = regexp.MustCompile("`[^`]*` ")

// decodeError is a decoding error described without the input.
type decodeError struct {
	msg string
	err error // the library's error, for errors.Is and errors.As
}

func (e *decodeError) Error() string { return e.msg }
func (e *decodeError) Unwrap() error { return e.err }
