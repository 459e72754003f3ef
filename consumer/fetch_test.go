package consumer

import (
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go/protocol"
)

// TestDecodeInputFuture: the future is measured from the wall clock alone.
// A producer sets the record's timestamp with CreateTime; were it trusted, an
// event stamped a year ahead on a record stamped the same would pass and hold
// its topic-partition in the merge for a year.
func TestDecodeInputFuture(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	event := func(at time.Time) []byte {
		return []byte(`{"specversion":"1.0","id":"e1","source":"test","type":"chat.message","time":"` +
			at.Format(time.RFC3339) + `","subject":"o1","data":{"from":"customer","text":"hi"}}`)
	}
	tests := []struct {
		name    string
		event   time.Time
		record  time.Time
		refused bool
	}{
		{"past", now.Add(-time.Hour), now.Add(-time.Hour), false},
		{"within the skew", now.Add(4 * time.Minute), now, false},
		{"at the skew", now.Add(5 * time.Minute), now, false},
		{"beyond the skew", now.Add(6 * time.Minute), now, true},
		{"record stamped as far ahead", now.Add(365 * 24 * time.Hour), now.Add(365 * 24 * time.Hour), true},
		{"record stamped ahead, event on time", now, now.Add(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := decodeInput(Message{Key: []byte("o1"), Value: event(tt.event), Time: tt.record}, now, 5*time.Minute)
			refused := x.Err != nil && strings.Contains(x.Err.Error(), "ahead of the clock")
			if refused != tt.refused {
				t.Errorf("refused = %v (err %v), want %v", refused, x.Err, tt.refused)
			}
		})
	}
}

func TestReadKeyValue(t *testing.T) {
	tests := []struct {
		key, value []byte
	}{
		{[]byte("order-1"), []byte(`{"a":1}`)},
		{nil, []byte("v")},
		{[]byte("k"), nil},
		{nil, nil},
		{[]byte{}, []byte{}},
	}
	for _, tt := range tests {
		k, v := readKeyValue(protocol.NewBytes(tt.key), protocol.NewBytes(tt.value))
		if (k == nil) != (tt.key == nil) || (v == nil) != (tt.value == nil) || string(k) != string(tt.key) || string(v) != string(tt.value) {
			t.Errorf("readKeyValue(%q, %q) = %q, %q", tt.key, tt.value, k, v)
		}
		if len(k) > 0 {
			_ = append(k, 'x') // must not run into the value
			if string(v) != string(tt.value) {
				t.Errorf("appending to the key changed the value: %q", v)
			}
		}
	}
}
