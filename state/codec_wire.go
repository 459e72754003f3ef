package state

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// The primitives of the state encoding: varints, strings, symbols, IDs,
// counts and times, written by encoder and read back by decoder.

type encoder struct {
	b     []byte
	order string // the order's ID: the prefix id leaves out
}

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }

func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}

// sym writes a string, as its index when it is one of symbols.
func (e *encoder) sym(s string) {
	if i, ok := symbolIndex[s]; ok {
		e.uvarint(uint64(i) + 1)
		return
	}
	e.uvarint(0)
	e.str(s)
}

// id writes an ID, without the order's ID and slash it begins with.
func (e *encoder) id(s string) {
	if e.order != "" && len(s) > len(e.order) && s[len(e.order)] == '/' && strings.HasPrefix(s, e.order) {
		e.uvarint(1)
		e.str(s[len(e.order)+1:])
		return
	}
	e.uvarint(0)
	e.str(s)
}

// count writes a slice's length plus one, or 0 for a nil slice.
func (e *encoder) count(n int, isNil bool) {
	if isNil {
		e.uvarint(0)
		return
	}
	e.uvarint(uint64(n) + 1)
}

func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.uvarint(0)
		return
	}
	sec, nsec := t.Unix(), t.Nanosecond()
	v := zigzag(sec) << 1
	if nsec != 0 {
		v |= 1
	}
	e.uvarint(v + 1)
	if nsec != 0 {
		e.uvarint(uint64(nsec))
	}
}

func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func unzigzag(v uint64) int64 { return int64(v>>1) ^ -int64(v&1) }

// decoder reads what encoder wrote. The first error sticks: every later
// read returns a zero value, and err says what was wrong.
type decoder struct {
	b     []byte
	order string
	err   error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{errCorrupt}, args...)...)
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int { return int(d.varint()) }

func (d *decoder) bool() bool {
	if len(d.b) == 0 {
		d.fail("truncated")
		return false
	}
	v := d.b[0]
	d.b = d.b[1:]
	if v > 1 {
		d.fail("bad boolean %d", v)
	}
	return v == 1
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("string of %d bytes, %d left", n, len(d.b))
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) sym() string {
	i := d.uvarint()
	if i == 0 {
		return d.str()
	}
	if i > uint64(len(symbols)) {
		d.fail("symbol %d unknown", i)
		return ""
	}
	return symbols[i-1]
}

func (d *decoder) id() string {
	switch d.uvarint() {
	case 0:
		return d.str()
	case 1:
		return d.order + "/" + d.str()
	}
	d.fail("bad ID form")
	return ""
}

// count reads a slice's length; ok is false for a nil slice. Each element
// takes at least a byte, so a length beyond what is left is corrupt, and a
// hostile length cannot make a huge allocation.
func (d *decoder) count() (n int, ok bool) {
	v := d.uvarint()
	if v == 0 {
		return 0, false
	}
	if v-1 > uint64(len(d.b)) {
		d.fail("%d elements, %d bytes left", v-1, len(d.b))
		return 0, false
	}
	return int(v - 1), true
}

func (d *decoder) time() time.Time {
	v := d.uvarint()
	if v == 0 {
		return time.Time{}
	}
	v--
	sec := unzigzag(v >> 1)
	var nsec uint64
	if v&1 != 0 {
		nsec = d.uvarint()
		if nsec == 0 || nsec >= 1e9 {
			d.fail("bad nanoseconds %d", nsec)
			return time.Time{}
		}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}
