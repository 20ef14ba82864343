package influx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
	"unicode/utf8"
)

// The token list is the one large answer (10,000 tokens are about 12 MB as
// InfluxDB OSS indents them), so it is read by a small hand-written JSON
// reader instead of encoding/json, whose reflection-driven decoder manages
// about 100 MB/s here and would dominate a list_tokens call. The reader
// decodes exactly the fields of Authorization, Bucket and Organization with
// encoding/json's semantics (field names matched exactly, else ignoring case;
// null leaves a field as it was; escaped or non-UTF-8 strings and times are
// handed to encoding/json and time.Time themselves), and skips everything
// else, the token secret among it, after checking its syntax.

// decodeList walks a JSON object and decodes the elements of its array field
// key one at a time, handing each to fn before reading on. Every other field
// is skipped. Memory stays proportional to one element, not to the response.
func decodeList[T Authorization | Bucket | Organization](r io.Reader, key string, fn func(*T) error) error {
	d := &reader{r: r, buf: make([]byte, 0, 32<<10)}
	found := false
	err := d.object(func(name []byte) error {
		if string(name) != key {
			return d.skip()
		}
		found = true
		if c, err := d.next(); err != nil {
			return err
		} else if c != '[' {
			return fmt.Errorf("%q: %w", key, d.syntaxError(c, "'[' opening the list"))
		}
		return d.array(func() error {
			item := new(T)
			if err := decodeElement(d, item); err != nil {
				return err
			}
			return fn(item)
		})
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("no %q list in the answer", key)
	}
	return d.end()
}

func decodeElement(d *reader, v any) error {
	switch v := v.(type) {
	case *Authorization:
		return d.authorization(v)
	case *Bucket:
		return d.fields(func(key []byte) error {
			switch fieldIndex(key, bucketFields) {
			case 0:
				return d.str(&v.ID)
			case 1:
				return d.str(&v.Name)
			case 2:
				return d.str(&v.OrgID)
			}
			return d.skip()
		})
	case *Organization:
		return d.fields(func(key []byte) error {
			switch fieldIndex(key, orgFields) {
			case 0:
				return d.str(&v.ID)
			case 1:
				return d.str(&v.Name)
			}
			return d.skip()
		})
	}
	panic(fmt.Sprintf("decodeList: no decoder for %T", v)) // excluded by decodeList's type constraint
}

// decodeObject decodes one JSON object into v.
func decodeObject(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return errors.New("unexpected data after the JSON document")
		}
		return err
	}
	return nil
}

// Field names in the order of the cases that decode them.
var (
	authorizationFields = []string{"id", "description", "status", "orgID", "org", "userID", "user", "permissions", "createdAt", "updatedAt"}
	permissionFields    = []string{"action", "resource"}
	resourceFields      = []string{"type", "id", "name", "orgID", "org"}
	bucketFields        = []string{"id", "name", "orgID"}
	orgFields           = []string{"id", "name"}
)

// fieldIndex returns the index in names of the field key names, as
// encoding/json finds it: the exact name, else one that differs only in
// case; -1 for none.
func fieldIndex(key []byte, names []string) int {
	for i, n := range names {
		if string(key) == n {
			return i
		}
	}
	for i, n := range names {
		if bytes.EqualFold(key, []byte(n)) {
			return i
		}
	}
	return -1
}

func (d *reader) authorization(a *Authorization) error {
	return d.fields(func(key []byte) error {
		switch fieldIndex(key, authorizationFields) {
		case 0:
			return d.str(&a.ID)
		case 1:
			return d.str(&a.Description)
		case 2:
			return d.repeated(&a.Status)
		case 3:
			return d.repeated(&a.OrgID)
		case 4:
			return d.repeated(&a.Org)
		case 5:
			return d.repeated(&a.UserID)
		case 6:
			return d.repeated(&a.User)
		case 7:
			return d.permissions(&a.Permissions)
		case 8:
			return d.timestamp(&a.CreatedAt)
		case 9:
			return d.timestamp(&a.UpdatedAt)
		}
		return d.skip()
	})
}

// permissions decodes a list into ps as encoding/json decodes into a slice:
// elements already there are decoded into, the slice is cut to the list's
// length, an empty list gives an empty (not nil) slice and null gives nil.
func (d *reader) permissions(ps *[]Permission) error {
	if null, err := d.null(); null || err != nil {
		if null {
			*ps = nil
		}
		return err
	}
	if len(*ps) == 0 {
		// The usual case, a first "permissions": decode into scratch space
		// and keep a copy of exactly the right size.
		d.perms = d.perms[:0]
		err := d.array(func() error {
			d.perms = append(d.perms, Permission{})
			return d.permission(&d.perms[len(d.perms)-1])
		})
		if len(d.perms) == 0 {
			*ps = []Permission{}
		} else {
			*ps = slices.Clone(d.perms)
		}
		return err
	}
	i := 0
	err := d.array(func() error {
		if i >= len(*ps) {
			*ps = slices.Grow(*ps, 1)[:i+1]
		}
		i++
		return d.permission(&(*ps)[i-1])
	})
	if err != nil {
		return err
	}
	if i == 0 {
		*ps = []Permission{}
	} else {
		*ps = (*ps)[:i]
	}
	return nil
}

func (d *reader) permission(p *Permission) error {
	return d.fields(func(key []byte) error {
		switch fieldIndex(key, permissionFields) {
		case 0:
			return d.repeated(&p.Action)
		case 1:
			return d.resource(&p.Resource)
		}
		return d.skip()
	})
}

func (d *reader) resource(r *Resource) error {
	return d.fields(func(key []byte) error {
		switch fieldIndex(key, resourceFields) {
		case 0:
			return d.repeated(&r.Type)
		case 1:
			return d.repeated(&r.ID)
		case 2:
			return d.repeated(&r.Name)
		case 3:
			return d.repeated(&r.OrgID)
		case 4:
			return d.repeated(&r.Org)
		}
		return d.skip()
	})
}

// fields reads an object into a struct, as object does; null leaves the
// struct as it is, as encoding/json does.
func (d *reader) fields(fn func(key []byte) error) error {
	if null, err := d.null(); null || err != nil {
		return err
	}
	return d.object(fn)
}

// reader reads JSON from r through its own buffer. Its methods read one value
// each, skipping white space before it.
type reader struct {
	r     io.Reader
	buf   []byte // buf[pos:] is read from r but not yet consumed
	pos   int
	off   int64             // input offset of buf[0], for error messages
	err   error             // r's error, once it returned one (io.EOF at the end)
	depth int               // nesting of objects and arrays
	key   []byte            // the name of the field being read
	seen  map[string]string // values of repeated, to share
	perms []Permission      // scratch space for permissions
}

// maxSeen bounds the values repeated shares.
const maxSeen = 1 << 13

// maxDepth is encoding/json's limit on nesting.
const maxDepth = 10000

// more reads until at least n unconsumed bytes are buffered; false if the
// input ends (or fails) first.
func (d *reader) more(n int) bool {
	for len(d.buf)-d.pos < n {
		if d.err != nil {
			return false
		}
		if d.pos > 0 { // slide the unconsumed bytes to the front
			d.off += int64(d.pos)
			d.buf = d.buf[:copy(d.buf, d.buf[d.pos:])]
			d.pos = 0
		}
		if len(d.buf) == cap(d.buf) {
			d.buf = slices.Grow(d.buf, len(d.buf))
		}
		m, err := d.r.Read(d.buf[len(d.buf):cap(d.buf)])
		d.buf = d.buf[:len(d.buf)+m]
		d.err = err
	}
	return true
}

// inputError is the error for input that ended or failed early.
func (d *reader) inputError() error {
	if d.err == nil || d.err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return d.err
}

// next skips white space and returns the next byte, without consuming it.
func (d *reader) next() (byte, error) {
	for {
		for i, c := range d.buf[d.pos:] {
			if c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
				d.pos += i
				return c, nil
			}
		}
		d.pos = len(d.buf)
		if !d.more(1) {
			return 0, d.inputError()
		}
	}
}

// syntaxError describes byte c at the read position. It never quotes more
// than that byte: the input holds token secrets.
func (d *reader) syntaxError(c byte, want string) error {
	return fmt.Errorf("invalid character %q at byte %d, expected %s", c, d.off+int64(d.pos), want)
}

// object reads an object, calling fn for each field with the field's name
// (valid until fn reads on); fn must read the field's value.
func (d *reader) object(fn func(key []byte) error) error {
	c, err := d.next()
	if err != nil {
		return err
	}
	if c != '{' {
		return d.syntaxError(c, "'{'")
	}
	d.pos++
	if d.depth++; d.depth > maxDepth {
		return errors.New("exceeded max depth")
	}
	defer func() { d.depth-- }()
	if c, err = d.next(); err != nil {
		return err
	} else if c == '}' {
		d.pos++
		return nil
	}
	for {
		if c, err = d.next(); err != nil {
			return err
		} else if c != '"' {
			return d.syntaxError(c, "a field name")
		}
		raw, plain, err := d.stringToken()
		if err != nil {
			return err
		}
		if plain {
			d.key = append(d.key[:0], raw[1:len(raw)-1]...)
		} else {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return err
			}
			d.key = append(d.key[:0], s...)
		}
		if c, err = d.next(); err != nil {
			return err
		} else if c != ':' {
			return d.syntaxError(c, "':' after a field name")
		}
		d.pos++
		if err := fn(d.key); err != nil {
			return err
		}
		if c, err = d.next(); err != nil {
			return err
		}
		d.pos++
		switch c {
		case ',':
		case '}':
			return nil
		default:
			d.pos--
			return d.syntaxError(c, "',' or '}' after a field")
		}
	}
}

// array reads an array, calling fn to read each element.
func (d *reader) array(fn func() error) error {
	c, err := d.next()
	if err != nil {
		return err
	}
	if c != '[' {
		return d.syntaxError(c, "'['")
	}
	d.pos++
	if d.depth++; d.depth > maxDepth {
		return errors.New("exceeded max depth")
	}
	defer func() { d.depth-- }()
	if c, err = d.next(); err != nil {
		return err
	} else if c == ']' {
		d.pos++
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		if c, err = d.next(); err != nil {
			return err
		}
		d.pos++
		switch c {
		case ',':
		case ']':
			return nil
		default:
			d.pos--
			return d.syntaxError(c, "',' or ']' after an element")
		}
	}
}

// stringToken consumes a string at the read position and returns it with
// its quotes, valid until the next read. plain means that it has no escapes
// and is valid UTF-8, so that its bytes are its value.
func (d *reader) stringToken() (raw []byte, plain bool, err error) {
	escaped, ascii := false, true
	for n := 1; ; {
		if d.pos+n >= len(d.buf) && !d.more(n+1) {
			return nil, false, d.inputError()
		}
		for _, c := range d.buf[d.pos+n:] { // the common bytes, quickly
			if c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
				break
			}
			n++
		}
		if d.pos+n >= len(d.buf) {
			continue
		}
		c := d.buf[d.pos+n]
		switch {
		case c == '"':
			raw = d.buf[d.pos : d.pos+n+1]
			d.pos += n + 1
			return raw, !escaped && (ascii || utf8.Valid(raw)), nil
		case c == '\\':
			escaped = true
			n += 2 // the escaped byte may be '"'; the escape is checked on decoding
		case c < 0x20:
			d.pos += n
			return nil, false, d.syntaxError(c, "a printable character in a string")
		default:
			ascii = ascii && c < utf8.RuneSelf
			n++
		}
	}
}

// str decodes a string into s; null leaves s as it is.
func (d *reader) str(s *string) error {
	c, err := d.next()
	if err != nil {
		return err
	}
	switch c {
	case '"':
		raw, plain, err := d.stringToken()
		if err != nil {
			return err
		}
		if plain {
			*s = ClipField(string(raw[1 : len(raw)-1]))
			return nil
		}
		err = json.Unmarshal(raw, s)
		*s = ClipField(*s)
		return err
	case 'n':
		return d.literal("null")
	}
	if err := d.skip(); err != nil {
		return err
	}
	return fmt.Errorf("a non-string value where a string was expected, before byte %d", d.off+int64(d.pos))
}

// repeated decodes, as str does, a string that recurs across a list (a
// status, an org, a user, an action, a resource), sharing one copy of each
// value instead of allocating it anew for every token.
func (d *reader) repeated(s *string) error {
	if c, err := d.next(); err != nil || c != '"' {
		return d.str(s)
	}
	raw, plain, err := d.stringToken()
	if err != nil {
		return err
	}
	if !plain || len(raw) > MaxField {
		err := json.Unmarshal(raw, s)
		*s = ClipField(*s) // not shared: a clipped value is rare
		return err
	}
	b := raw[1 : len(raw)-1]
	if v, ok := d.seen[string(b)]; ok {
		*s = v
		return nil
	}
	*s = string(b)
	if d.seen == nil {
		d.seen = map[string]string{}
	}
	if len(d.seen) < maxSeen {
		d.seen[*s] = *s
	}
	return nil
}

// timestamp decodes a string or null with time.Time's UnmarshalJSON.
func (d *reader) timestamp(t *time.Time) error {
	c, err := d.next()
	if err != nil {
		return err
	}
	switch c {
	case '"':
		raw, _, err := d.stringToken()
		if err != nil {
			return err
		}
		return t.UnmarshalJSON(raw)
	case 'n':
		return d.literal("null")
	}
	if err := d.skip(); err != nil {
		return err
	}
	return fmt.Errorf("a non-string value where a time was expected, before byte %d", d.off+int64(d.pos))
}

// null consumes a null literal if one comes next.
func (d *reader) null() (bool, error) {
	c, err := d.next()
	if err != nil || c != 'n' {
		return false, err
	}
	return true, d.literal("null")
}

func (d *reader) literal(word string) error {
	if !d.more(len(word)) {
		return d.inputError()
	}
	for i := range len(word) {
		if d.buf[d.pos] != word[i] {
			return d.syntaxError(d.buf[d.pos], "the rest of "+word)
		}
		d.pos++
	}
	return nil
}

// skip consumes one value of any kind, checking its syntax.
func (d *reader) skip() error {
	c, err := d.next()
	if err != nil {
		return err
	}
	switch {
	case c == '"':
		raw, plain, err := d.stringToken()
		if err == nil && !plain && !json.Valid(raw) {
			err = errors.New("invalid escape in a string")
		}
		return err
	case c == '{':
		return d.object(func([]byte) error { return d.skip() })
	case c == '[':
		return d.array(d.skip)
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	}
	return d.syntaxError(c, "a value")
}

// number consumes a number, checking its syntax.
func (d *reader) number() error {
	n := 0
	for {
		if d.pos+n >= len(d.buf) && !d.more(n+1) {
			break // the caller reports the end of the input
		}
		c := d.buf[d.pos+n]
		if !('0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			break
		}
		n++
	}
	if !json.Valid(d.buf[d.pos : d.pos+n]) {
		return d.syntaxError(d.buf[d.pos], "a number")
	}
	d.pos += n
	return nil
}

// end checks that nothing but white space follows the document.
func (d *reader) end() error {
	c, err := d.next()
	if err == io.ErrUnexpectedEOF && d.err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	return d.syntaxError(c, "nothing after the JSON document")
}
