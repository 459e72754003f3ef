package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The checks of single fields and values behind Decode: identifiers,
// text, money, parties, times, and the wording of JSON errors.

func requiredID(field string, s *string) (string, error) {
	if s == nil || *s == "" {
		return "", &FieldError{Field: field, Reason: "missing"}
	}
	if len(*s) > MaxIDLen {
		return "", &FieldError{Field: field, Reason: fmt.Sprintf("%d bytes, more than %d", len(*s), MaxIDLen)}
	}
	for i := 0; i < len(*s); i++ {
		if c := (*s)[i]; c < 0x20 || c == 0x7f {
			return "", &FieldError{Field: field, Reason: fmt.Sprintf("control character at byte %d", i)}
		}
	}
	return *s, nil
}

func text(field, s string) (string, error) {
	if len(s) > MaxTextLen {
		return "", &FieldError{Field: field, Reason: fmt.Sprintf("%d bytes, more than %d", len(s), MaxTextLen)}
	}
	return s, nil
}

// money checks a minor-unit amount: never negative; absent is an error only
// when required.
func money(field string, v *int64, required bool) (int64, error) {
	if v == nil {
		if required {
			return 0, &FieldError{Field: field, Reason: "missing"}
		}
		return 0, nil
	}
	if *v < 0 {
		return 0, &FieldError{Field: field, Reason: fmt.Sprintf("%d: money cannot be negative", *v)}
	}
	return *v, nil
}

func currency(field string, s *string) (string, error) {
	if s == nil {
		return "", &FieldError{Field: field, Reason: "missing"}
	}
	c := *s
	if len(c) != 3 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' || c[2] < 'A' || c[2] > 'Z' {
		return "", &FieldError{Field: field, Reason: fmt.Sprintf("%q is not an ISO 4217 code (three capital letters)", truncate(c))}
	}
	return c, nil
}

// Times must fall in this range: every deadline computed from one (at most
// ten years on) must still encode as RFC 3339, which ends at year 9999.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC)
)

func parseTime(field, s string) (time.Time, error) {
	if !rfc3339(s) {
		return time.Time{}, &FieldError{Field: field, Reason: fmt.Sprintf("%q is not an RFC 3339 time", truncate(s))}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &FieldError{Field: field, Reason: fmt.Sprintf("%q is not an RFC 3339 time", truncate(s))}
	}
	t = t.UTC()
	if t.Before(minTime) || !t.Before(maxTime) {
		return time.Time{}, &FieldError{Field: field, Reason: fmt.Sprintf("%q is outside the years 1970 to 8999", truncate(s))}
	}
	return t, nil
}

// rfc3339 reports whether s has the form of an RFC 3339 date-time:
// 2006-01-02T15:04:05, a fraction of a second after a '.', and Z or an
// offset from -23:59 to +23:59. time.Parse checks the ranges of the numbers,
// but where its strict reading fails it falls back to a lenient one that
// also takes a one-digit hour, a ',' before the fraction and offsets up to
// 24:60, none of which are RFC 3339 (or expressible in the published JSON
// Schemas as such).
func rfc3339(s string) bool {
	digits := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return len(s) > 0
	}
	if len(s) < len("2006-01-02T15:04:05Z") || !digits(s[0:4]) || s[4] != '-' || !digits(s[5:7]) || s[7] != '-' ||
		!digits(s[8:10]) || s[10] != 'T' || !digits(s[11:13]) || s[13] != ':' || !digits(s[14:16]) || s[16] != ':' || !digits(s[17:19]) {
		return false
	}
	rest := s[19:]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 {
			return false
		}
		rest = rest[n:]
	}
	if rest == "Z" {
		return true
	}
	return len(rest) == len("+07:00") && (rest[0] == '+' || rest[0] == '-') && digits(rest[1:3]) && rest[3] == ':' && digits(rest[4:6]) &&
		rest[1:3] <= "23" && rest[4:6] <= "59"
}

// jsonError turns encoding/json's errors into a FieldError naming the field.
func jsonError(prefix string, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &FieldError{Field: trimDot(prefix), Reason: fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)}
	case errors.As(err, &te):
		field := prefix + te.Field
		if te.Field == "" || te.Field == "data" {
			if te.Field == "data" {
				field = "data"
			}
			return &FieldError{Field: trimDot(field), Reason: fmt.Sprintf("got a JSON %s, want an object", te.Value)}
		}
		return &FieldError{Field: field, Reason: fmt.Sprintf("got a JSON %s, want %s", te.Value, jsonKind(te.Type.Kind().String()))}
	}
	return &FieldError{Field: trimDot(prefix), Reason: err.Error()}
}

func jsonKind(k string) string {
	switch k {
	case "int64", "int":
		return "an integer"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "ptr":
		return "a value of the field's type"
	}
	return k
}

func trimDot(s string) string {
	if n := len(s); n > 0 && s[n-1] == '.' {
		return s[:n-1]
	}
	return s
}

// truncate keeps error messages short when the input is hostile.
func truncate(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
