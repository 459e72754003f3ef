package consumer

import (
	"strings"
	"testing"
	"time"
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
