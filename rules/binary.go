package rules

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Header is one header of a Kafka message, as the CloudEvents Kafka
// protocol binding reads it: a CloudEvents attribute (ce_id, ce_type, ...)
// or the content-type.
type Header struct {
	Key   string
	Value []byte
}

// The CloudEvents Kafka protocol binding's header names.
const (
	headerAttrPrefix  = "ce_"
	headerSpecVersion = "ce_specversion"
	headerContentType = "content-type"
)

// DecodeMessage decodes the value and headers of one Kafka message in the
// content mode the CloudEvents Kafka protocol binding gives them:
//
//   - a content-type that starts with application/cloudevents: structured
//     mode, the value is the whole event (only the JSON format,
//     application/cloudevents+json, is read);
//   - a ce_specversion header: binary mode (DecodeBinary);
//   - no ce_ header at all and a value that is a JSON object: structured
//     mode, as upstream systems have always sent events.
//
// Anything else is malformed: ce_ headers without ce_specversion, or a
// value that is not a JSON object without them.
func DecodeMessage(headers []Header, value []byte) (Event, error) {
	if len(headers) > 0 {
		if ct, ok := contentType(headers); ok && hasPrefixFold(ct, "application/cloudevents") {
			switch {
			case hasPrefixFold(ct, "application/cloudevents-batch"):
				return Event{}, &FieldError{Reason: fmt.Sprintf("content-type %q: the batched content mode is not part of the Kafka binding; send one event a message", truncate(ct))}
			case !hasPrefixFold(ct, "application/cloudevents+json"):
				return Event{}, &FieldError{Reason: fmt.Sprintf("content-type %q: only the JSON event format (application/cloudevents+json) is read in structured mode", truncate(ct))}
			}
			return Decode(value)
		}
		attrs := false
		for _, h := range headers {
			if h.Key == headerSpecVersion {
				return DecodeBinary(headers, value)
			}
			attrs = attrs || strings.HasPrefix(h.Key, headerAttrPrefix)
		}
		if attrs {
			return Event{}, neither("it has ce_ headers but no ce_specversion")
		}
	}
	i := 0
	for i < len(value) && (value[i] == ' ' || value[i] == '\t' || value[i] == '\n' || value[i] == '\r') {
		i++
	}
	switch {
	case i == len(value):
		return Event{}, neither("its value is empty and it has no ce_specversion header")
	case value[i] != '{':
		return Event{}, neither(fmt.Sprintf("its value starts with %q and it has no ce_specversion header", value[i]))
	}
	return Decode(value)
}

func neither(why string) error {
	return &FieldError{Reason: "neither a structured CloudEvent (JSON envelope) nor a binary one (ce_specversion header): " + why}
}

// DecodeBinary decodes a CloudEvent in binary content mode: its attributes
// in ce_ headers (ce_specversion, ce_id, ce_source, ce_type, ce_time,
// ce_subject; other ce_ headers are extensions and ignored), the data's
// media type in the content-type header, and the data, a JSON object, as
// the message value (empty: no data). It returns the same event, and the
// same errors, as Decode does for the same event in structured mode. Of a
// header given twice is malformed, as is a JSON member given twice.
func DecodeBinary(headers []Header, data []byte) (Event, error) {
	var env envelope
	for _, h := range headers {
		var dst **string
		switch h.Key {
		case headerSpecVersion:
			dst = &env.SpecVersion
		case "ce_id":
			dst = &env.ID
		case "ce_source":
			dst = &env.Source
		case "ce_type":
			dst = &env.Type
		case "ce_time":
			dst = &env.Time
		case "ce_subject":
			dst = &env.Subject
		default:
			if !strings.EqualFold(h.Key, headerContentType) {
				continue
			}
			dst = &env.DataContentType
		}
		if *dst != nil {
			// Read one way: a reader that takes the first of a repeated
			// header would see another event.
			return Event{}, withType(&FieldError{Field: attrName(h.Key, dst == &env.DataContentType), Reason: fmt.Sprintf("header %s is given twice; an attribute may appear once", truncate(h.Key))}, env.Type)
		}
		if !utf8.Valid(h.Value) {
			return Event{}, withType(&FieldError{Field: attrName(h.Key, dst == &env.DataContentType), Reason: fmt.Sprintf("header %s is not valid UTF-8: read one way, an event's text is UTF-8", truncate(h.Key))}, env.Type)
		}
		v := string(h.Value)
		*dst = &v
	}
	if len(data) > MaxEventSize {
		return Event{}, withType(&FieldError{Field: "data", Reason: fmt.Sprintf("%d bytes, more than the %d allowed", len(data), MaxEventSize)}, env.Type)
	}
	if len(data) > 0 {
		w, err := decodeData(data)
		if err != nil {
			return Event{}, withType(err, env.Type)
		}
		env.Data = w
	}
	return env.event()
}

// attrName is the attribute a binary-mode header carries.
func attrName(key string, contentType bool) string {
	if contentType {
		return "datacontenttype"
	}
	return strings.TrimPrefix(key, headerAttrPrefix)
}

// contentType returns the value of the content-type header, whose name is
// matched regardless of case.
func contentType(headers []Header) (string, bool) {
	for i := len(headers) - 1; i >= 0; i-- {
		if strings.EqualFold(headers[i].Key, headerContentType) {
			return string(headers[i].Value), true
		}
	}
	return "", false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
