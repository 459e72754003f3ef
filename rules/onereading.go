package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// JSON is read one way (contract v2): a message that two readers of the
// same bytes could read as two events is malformed. encoding/json keeps the
// last of a repeated member and matches members in other letter cases;
// other readers keep the first, or match exactly, and replace invalid
// UTF-8 differently or refuse it. So disputed refuses what they could
// differ on: invalid UTF-8 (raw, or a lone surrogate escaped as \uXXXX),
// a member name given twice in one object (also differing only in case),
// and a member that names an envelope attribute or a data field of the
// contract only in another letter case.

// checkOneReading reports why b, a JSON value that is valid JSON, could be
// read in more than one way, or nil. known names the members of the
// top-level object that the contract defines (and, under data, the data
// fields): those are to be spelled exactly.
func checkOneReading(b []byte, prefix string, known func(path string) []string) error {
	if err := checkUTF8(b, prefix); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	return walkOneReading(dec, prefix, known)
}

// walkOneReading reads the next value of dec, checking each object's member
// names.
func walkOneReading(dec *json.Decoder, path string, known func(path string) []string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '[':
		for i := 0; dec.More(); i++ {
			if err := walkOneReading(dec, path+"["+strconv.Itoa(i)+"]", known); err != nil {
				return err
			}
		}
	case '{':
		names := known(path)
		seen := map[string]string{} // folded name: as written
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string)
			field := join(path, key)
			folded := foldName(key)
			if first, dup := seen[folded]; dup {
				if first == key {
					return &FieldError{Field: field, Reason: "the member is given twice; a member may appear once"}
				}
				return &FieldError{Field: field, Reason: fmt.Sprintf("the member is also given as %q: names that differ only in letter case may not both appear", truncate(first))}
			}
			seen[folded] = key
			for _, n := range names {
				if n != key && foldName(n) == folded {
					return &FieldError{Field: field, Reason: fmt.Sprintf("%q is spelled %q: member names are matched exactly", truncate(key), n)}
				}
			}
			if err := walkOneReading(dec, field, known); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

func join(path, key string) string {
	if path == "" {
		return truncate(key)
	}
	return path + "." + truncate(key)
}

// checkUTF8 reports invalid UTF-8 in b: raw bytes that are not UTF-8, or a
// \uXXXX escape of a surrogate that is not half of a pair.
func checkUTF8(b []byte, field string) error {
	if !utf8.Valid(b) {
		i := 0
		for i < len(b) {
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		return &FieldError{Field: field, Reason: fmt.Sprintf("invalid UTF-8 at byte %d", i)}
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			continue
		}
		if b[i+1] != 'u' {
			i++ // an escape of one character: \\ \" \n ...
			continue
		}
		r, ok := hex4(b, i+2)
		if !ok {
			continue // not valid JSON, which the JSON reader reports
		}
		switch {
		case r >= 0xD800 && r < 0xDC00:
			if lo, ok := hex4(b, i+8); ok && i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' && lo >= 0xDC00 && lo < 0xE000 {
				i += 11 // the pair
				continue
			}
			return &FieldError{Field: field, Reason: fmt.Sprintf("invalid UTF-8: a lone surrogate \\u%04X at byte %d", r, i)}
		case r >= 0xDC00 && r < 0xE000:
			return &FieldError{Field: field, Reason: fmt.Sprintf("invalid UTF-8: a lone surrogate \\u%04X at byte %d", r, i)}
		}
		i += 5
	}
	return nil
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// knownNames are the members the contract defines, by their path: the
// envelope's attributes at the top, the data fields under data.
func knownNames(path string) []string {
	switch path {
	case "":
		return envelopeNames
	case "data":
		return dataNames
	}
	return nil
}

var envelopeNames = func() []string {
	var out []string
	for _, a := range envelopeAttrs {
		out = append(out, a.name)
	}
	return append(out, "data")
}()

var dataNames = func() []string {
	var out []string
	for _, f := range wireFields {
		out = append(out, f.name)
	}
	return out
}()
