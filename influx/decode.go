package influx

import (
	"encoding/json"
	"fmt"
	"io"
)

// decodeList walks a JSON object and decodes the elements of its array field
// key one at a time, handing each to fn. Every other field is skipped. Memory
// stays proportional to one element, not to the whole response.
func decodeList[T any](r io.Reader, key string, fn func(*T) error) error {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	found := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		if name != key {
			if err := skipValue(dec); err != nil {
				return err
			}
			continue
		}
		found = true
		if err := expectDelim(dec, '['); err != nil {
			return fmt.Errorf("%q: %w", key, err)
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
		if _, err := dec.Token(); err != nil { // ']'
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return err
	}
	if !found {
		return fmt.Errorf("no %q list in the answer", key)
	}
	return trailing(dec)
}

// decodeObject decodes one JSON object into v.
func decodeObject(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		return err
	}
	return trailing(dec)
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, found %v", want, tok)
	}
	return nil
}

// skipValue consumes one JSON value of any kind.
func skipValue(dec *json.Decoder) error {
	var discard json.RawMessage
	return dec.Decode(&discard)
}

// trailing rejects anything but white space after the document.
func trailing(dec *json.Decoder) error {
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return fmt.Errorf("unexpected data after the JSON document")
		}
		return err
	}
	return nil
}
