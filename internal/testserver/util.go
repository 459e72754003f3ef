package testserver

import (
	"io"

	"github.com/segmentio/kafka-go/protocol"
)

func readAll(b protocol.Bytes) []byte {
	if b == nil {
		return nil
	}
	v, _ := io.ReadAll(b)
	return v
}
