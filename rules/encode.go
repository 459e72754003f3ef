package rules

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// EncodeEvent writes e as one CloudEvents 1.0 event in structured JSON
// mode, the form Decode reads: the envelope's attributes, then data with
// the type's fields in the table's order (spec.go). A required field is
// always written; an optional one only when it is not zero. Every writer of
// events (the console, the bench, the demo, the tests) writes through it,
// so an event written is an event Decode reads back as it was.
func EncodeEvent(e Event) []byte { return AppendEvent(nil, e) }

// AppendEvent appends EncodeEvent's bytes of e to b.
func AppendEvent(b []byte, e Event) []byte {
	b = append(b, `{"specversion":"1.0","id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"source":`...)
	b = appendString(b, e.Source)
	b = append(b, `,"type":`...)
	b = appendString(b, string(e.Type))
	b = append(b, `,"time":`...)
	b = appendString(b, e.Time.UTC().Format(time.RFC3339Nano))
	b = append(b, `,"subject":`...)
	b = appendString(b, e.OrderID)
	if s := specOf(e.Type); s != nil {
		b = appendData(b, s, &e.Data)
	}
	return append(b, '}')
}

// appendData appends `,"data":{...}` for the fields the event carries, or
// nothing when it carries none.
func appendData(b []byte, s *EventSpec, d *Data) []byte {
	n := 0
	for i := range s.Fields {
		f := &s.Fields[i]
		v, zero := f.get(d)
		if zero && !f.Required {
			continue
		}
		if n == 0 {
			b = append(b, `,"data":{`...)
		} else {
			b = append(b, ',')
		}
		n++
		b = appendString(b, f.Name)
		b = append(b, ':')
		switch f.Kind.wire() {
		case wireString:
			b = appendString(b, v.s)
		case wireInt:
			b = strconv.AppendInt(b, v.i, 10)
		case wireBool:
			b = strconv.AppendBool(b, v.b)
		case wireStrings:
			b = append(b, '[')
			for j, s := range v.ss {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendString(b, s)
			}
			b = append(b, ']')
		}
	}
	if n > 0 {
		b = append(b, '}')
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, as encoding/json writes it
// without HTML escaping: invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but not JavaScript; encoding/json
		// escapes them, and so does this.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
