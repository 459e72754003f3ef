package state

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/disputed/disputed/rules"
)

// An outbox entry is "<number>\n<command id>\n<written ms>\n<subject>\n<body>":
// the partition's sequence number of the command (save.lua gives them), so
// that the relay can publish only what a durable save wrote, then the ID, so
// that Ack can match it without decoding, then the subject and the body
// exactly as they are published. Neither an ID, nor a subject, nor the JSON
// encoding/json writes holds a newline. (Entries written by earlier
// releases have a JSON object {"id","subject","data"} after the time.)
func appendEntry(b []byte, c rules.Command, now string) ([]byte, error) {
	data, err := c.Data()
	if err != nil {
		return nil, fmt.Errorf("encode command %s: %w", c.ID, err)
	}
	b = append(b, c.ID...)
	b = append(b, '\n')
	b = append(b, now...)
	b = append(b, '\n')
	b = append(b, c.Subject...)
	b = append(b, '\n')
	return append(b, data...), nil
}

// legacyEntry is the outbox entry of earlier releases.
type legacyEntry struct {
	ID      string          `json:"id"`
	Subject string          `json:"subject"`
	Data    json.RawMessage `json:"data"`
}

// parseEntry reads the command of an entry's part after the time.
func parseEntry(id, rest string) (rules.Command, error) {
	if strings.HasPrefix(rest, "{") {
		var e legacyEntry
		if err := json.Unmarshal([]byte(rest), &e); err != nil {
			return rules.Command{}, fmt.Errorf("%w: %v", rules.ErrBadCommand, err)
		}
		return rules.ReadCommand(e.ID, e.Subject, e.Data)
	}
	subject, data, _ := strings.Cut(rest, "\n")
	return rules.ReadCommand(id, subject, []byte(data))
}

// ackScript pops, in order, the given command IDs that are at the head of
// the outbox.
const ackScript = `
local removed = 0
for k = 1, #ARGV do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head then break end
  local id = ARGV[k]
  local at = string.find(head, '\n', 1, true)
  if at and string.sub(head, at + 1, at + #id + 1) == id .. '\n' then
    redis.call('LPOP', KEYS[1])
    removed = removed + 1
  end
end
return removed
`

// Outbox returns up to limit commands of partition p not yet acknowledged by
// JetStream, oldest first (each with its typed body and the bytes it is
// published with), when the oldest was written, and how many wait in all.
// It returns only the commands numbered upTo or less (those of saves known to
// be durable); upTo < 0 returns any.
func (r *Redis) Outbox(ctx context.Context, p int, limit int, upTo int64) ([]rules.Command, time.Time, int64, error) {
	var (
		head  *redis.StringSliceCmd
		depth *redis.IntCmd
	)
	key := r.key(p, "outbox")
	_, err := r.c.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		head = pipe.LRange(ctx, key, 0, int64(limit)-1)
		depth = pipe.LLen(ctx, key)
		return nil
	})
	if err != nil {
		return nil, time.Time{}, 0, fmt.Errorf("read outbox of partition %d: %w", p, err)
	}
	vals := head.Val()
	cmds := make([]rules.Command, 0, len(vals))
	var oldest time.Time
	for i, v := range vals {
		num, rest, ok0 := strings.Cut(v, "\n")
		id, rest, ok1 := strings.Cut(rest, "\n")
		stamp, entry, ok2 := strings.Cut(rest, "\n")
		seq, err := strconv.ParseInt(num, 10, 64)
		if !ok0 || !ok1 || !ok2 || err != nil {
			return nil, time.Time{}, 0, fmt.Errorf("read outbox of partition %d: entry %d is corrupt", p, i)
		}
		if i == 0 {
			ms, _ := strconv.ParseInt(stamp, 10, 64)
			oldest = time.UnixMilli(ms)
		}
		if upTo >= 0 && seq > upTo {
			break // not known to be durable yet
		}
		c, err := parseEntry(id, entry)
		if err != nil {
			return nil, time.Time{}, 0, fmt.Errorf("read outbox of partition %d: entry %d is corrupt: %w", p, i, err)
		}
		cmds = append(cmds, c)
	}
	return cmds, oldest, depth.Val(), nil
}

// Ack removes published commands, given by ID in outbox order, from the
// head of partition p's outbox once JetStream has acknowledged them. An ID
// no longer at the head was removed already (by the partition's next owner,
// after a rebalance): it is skipped, so a stale owner never removes a
// command it did not publish.
func (r *Redis) Ack(ctx context.Context, p int, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	if err := r.ack.Run(ctx, r.c, []string{r.key(p, "outbox")}, args...).Err(); err != nil {
		return fmt.Errorf("remove %d acknowledged commands from outbox of partition %d: %w", len(ids), p, err)
	}
	return nil
}

// Hold keeps commands the sink refused for good in partition p's held hash,
// by command ID, with why and when, and returns how many the partition
// holds. A person decides what becomes of them (docs/operations.md); the
// inspection API shows them on their order. Holding the same command again
// keeps the first reason.
func (r *Redis) Hold(ctx context.Context, p int, refused []rules.Refusal) (int64, error) {
	key := r.key(p, "held")
	now := r.cfg.Now().UTC()
	var n *redis.IntCmd
	_, err := r.c.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		for _, f := range refused {
			data, err := f.Command.Data()
			if err != nil {
				return fmt.Errorf("encode command %s: %w", f.Command.ID, err)
			}
			h, err := json.Marshal(rules.Held{CommandID: f.Command.ID, Subject: f.Command.Subject, Data: data, Reason: f.Reason, At: now})
			if err != nil {
				return err
			}
			pipe.HSetNX(ctx, key, f.Command.ID, h)
		}
		n = pipe.HLen(ctx, key)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("hold %d refused commands of partition %d: %w", len(refused), p, err)
	}
	return n.Val(), nil
}
