package consumer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/disputed/disputed/rules"
)

// The ports' fakes for the unit tests: in memory, hand-written, keeping the
// contracts of ports.go as state.Redis and producer.NATS keep them.

// memStore is a store of record in memory: Store, Deadlines and Outbox of
// every partition. Save is atomic and a compare-and-set on the partition's
// mark, the orders' versions and the offsets, as save.lua is.
type memStore struct {
	mu    sync.Mutex
	parts map[int]*memPartition

	// failSave, when set, is asked before each save; an error it returns
	// is the save's, and nothing is written.
	failSave func(b rules.Batch) error
	// loseReply, when set, is asked after each save that was written; an
	// error it returns is the save's, as when the answer is lost.
	loseReply func(b rules.Batch) error
	// onSave, when set, is told of every save written.
	onSave func(p int, b rules.Batch)
	// opens counts the calls of Open.
	opens int
}

type memPartition struct {
	mark    string
	offsets map[string]int64
	orders  map[string]rules.State // with their Version
	timers  map[string]memTimer    // by "order|timer", as the sorted set's members
	outbox  []memEntry
	seq     int64 // the number of the last command saved
	held    map[string]rules.Refusal
}

type memTimer struct {
	order, id string
	at        time.Time
}

type memEntry struct {
	seq   int64
	cmd   rules.Command
	saved time.Time
}

func newMemStore() *memStore { return &memStore{parts: make(map[int]*memPartition)} }

// memConflict is a refused save, as state.ConflictError tells it.
type memConflict struct {
	reason string
	mark   string
}

func (e *memConflict) Error() string      { return e.reason + ": " + rules.ErrConflict.Error() }
func (e *memConflict) Unwrap() error      { return rules.ErrConflict }
func (e *memConflict) StoredMark() string { return e.mark }

func (s *memStore) part(p int) *memPartition {
	mp := s.parts[p]
	if mp == nil {
		mp = &memPartition{offsets: make(map[string]int64), orders: make(map[string]rules.State),
			timers: make(map[string]memTimer), held: make(map[string]rules.Refusal)}
		s.parts[p] = mp
	}
	return mp
}

func (mp *memPartition) checkpoint() rules.Checkpoint {
	cp := rules.Checkpoint{Offsets: maps.Clone(mp.offsets), Mark: mp.mark, Pending: int64(len(mp.timers)), OutboxSeq: mp.seq}
	for _, t := range mp.timers {
		if cp.NextDue.IsZero() || t.at.Before(cp.NextDue) {
			cp.NextDue = t.at
		}
	}
	return cp
}

func (s *memStore) Open(_ context.Context, p int) (rules.Checkpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opens++
	return s.part(p).checkpoint(), nil
}

func (s *memStore) Load(_ context.Context, p int, orders []string) ([]rules.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mp := s.part(p)
	out := make([]rules.State, len(orders))
	for i, o := range orders {
		out[i] = mp.orders[o]
	}
	return out, nil
}

func (s *memStore) Save(_ context.Context, p int, b rules.Batch) (rules.Checkpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failSave != nil {
		if err := s.failSave(b); err != nil {
			return rules.Checkpoint{}, err
		}
	}
	mp := s.part(p)
	if mp.mark != b.Prev {
		return rules.Checkpoint{}, &memConflict{fmt.Sprintf("the partition's last write is %q, not %q", mp.mark, b.Prev), mp.mark}
	}
	for t, o := range b.Offsets {
		if last, ok := mp.offsets[t]; ok && last >= o {
			return rules.Checkpoint{}, &memConflict{"offsets already applied", b.Prev}
		}
	}
	seen := make(map[string]bool)
	for _, d := range b.Decisions {
		o := d.State.OrderID
		if o == "" || seen[o] {
			continue
		}
		seen[o] = true
		if d.State.Version != mp.orders[o].Version {
			return rules.Checkpoint{}, &memConflict{fmt.Sprintf("order %q changed since it was loaded", o), b.Prev}
		}
	}
	now := time.Now()
	written := make(map[string]bool)
	for _, d := range b.Decisions {
		o := d.State.OrderID
		if o == "" {
			continue
		}
		if d.Changed {
			st := d.State
			st.Version = mp.orders[o].Version
			if !written[o] {
				st.Version++ // one write of the order per save
				written[o] = true
			}
			mp.orders[o] = st
		}
		for _, id := range d.Disarm {
			delete(mp.timers, o+"|"+id)
		}
		for _, t := range d.Arm {
			mp.timers[o+"|"+t.ID] = memTimer{order: o, id: t.ID, at: t.At}
		}
		for _, c := range d.Commands {
			mp.seq++
			mp.outbox = append(mp.outbox, memEntry{seq: mp.seq, cmd: c, saved: now})
		}
	}
	maps.Copy(mp.offsets, b.Offsets)
	mp.mark = b.Mark
	if s.onSave != nil {
		s.onSave(p, b)
	}
	if s.loseReply != nil {
		if err := s.loseReply(b); err != nil {
			return rules.Checkpoint{}, err
		}
	}
	return mp.checkpoint(), nil
}

// Due returns the deadlines due by t, earliest first and ties by member, as
// the sorted set does: limit of them, then the rest of the last one's
// instant.
func (s *memStore) Due(_ context.Context, p int, t time.Time, limit int) ([]rules.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []memTimer
	for _, tm := range s.part(p).timers {
		if !tm.at.After(t) {
			due = append(due, tm)
		}
	}
	slices.SortFunc(due, func(a, b memTimer) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.order+"|"+a.id, b.order+"|"+b.id))
	})
	if limit > 0 && len(due) > limit {
		n := limit
		for n < len(due) && due[n].at.Equal(due[limit-1].at) {
			n++
		}
		due = due[:n]
	}
	out := make([]rules.Event, len(due))
	for i, tm := range due {
		out[i] = rules.Event{Type: rules.TypeDeadline, OrderID: tm.order, TimerID: tm.id, Time: tm.at}
	}
	return out, nil
}

func (s *memStore) Outbox(_ context.Context, p int, limit int, upTo int64) ([]rules.Command, time.Time, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mp := s.part(p)
	var (
		cmds   []rules.Command
		oldest time.Time
	)
	for i, e := range mp.outbox {
		if i == limit {
			break
		}
		if i == 0 {
			oldest = e.saved
		}
		if upTo >= 0 && e.seq > upTo {
			break
		}
		cmds = append(cmds, e.cmd)
	}
	return cmds, oldest, int64(len(mp.outbox)), nil
}

// Ack pops, in order, the given IDs that are at the head of the outbox.
func (s *memStore) Ack(_ context.Context, p int, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	mp := s.part(p)
	for _, id := range ids {
		if len(mp.outbox) > 0 && mp.outbox[0].cmd.ID == id {
			mp.outbox = mp.outbox[1:]
		}
	}
	return nil
}

func (s *memStore) Hold(_ context.Context, p int, refused []rules.Refusal) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mp := s.part(p)
	for _, f := range refused {
		if _, ok := mp.held[f.Command.ID]; !ok {
			mp.held[f.Command.ID] = f
		}
	}
	return int64(len(mp.held)), nil
}

// waiting returns the IDs of the partition's commands in its outbox.
func (s *memStore) waiting(p int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, e := range s.part(p).outbox {
		ids = append(ids, e.cmd.ID)
	}
	return ids
}

// snapshot returns a copy of the partition, for restore to bring back: a
// store that goes back in time (a failover to a replica behind, a restore).
func (s *memStore) snapshot(p int) memPartition {
	s.mu.Lock()
	defer s.mu.Unlock()
	mp := s.part(p)
	c := *mp
	c.offsets, c.orders, c.timers, c.held = maps.Clone(mp.offsets), maps.Clone(mp.orders), maps.Clone(mp.timers), maps.Clone(mp.held)
	c.outbox = slices.Clone(mp.outbox)
	return c
}

func (s *memStore) restore(p int, mp memPartition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.parts[p] = &mp
}

// memStream is JetStream in memory: a stream that keeps one message per
// Nats-Msg-Id (an unbounded duplicate window) and acknowledges each message
// it takes, duplicates included.
type memStream struct {
	mu   sync.Mutex
	msgs []memMsg
	ids  map[string]bool
	sent map[string]int // how often each ID was sent, duplicates included

	// failAfter, when set, is asked at each Publish call (numbered from
	// 1): the call acknowledges that many commands and then fails;
	// negative: it does not fail.
	failAfter func(call int) int
	// refuse, when set, names the reason the sink refuses a command for
	// good ("" takes it).
	refuse func(c rules.Command) string
	// hang makes Publish wait for its context to end, as a publish to a
	// server that stopped answering does.
	hang  bool
	calls int
}

type memMsg struct {
	subject, msgID string
	data           []byte
}

var errNATSDown = errors.New("nats: no responders available (injected)")

func newMemStream() *memStream {
	return &memStream{ids: make(map[string]bool), sent: make(map[string]int)}
}

func (m *memStream) Publish(ctx context.Context, cmds ...rules.Command) ([]rules.Refusal, error) {
	m.mu.Lock()
	if m.hang {
		m.mu.Unlock()
		<-ctx.Done()
		return nil, ctx.Err()
	}
	defer m.mu.Unlock()
	m.calls++
	n := -1
	if m.failAfter != nil {
		n = m.failAfter(m.calls)
	}
	var refused []rules.Refusal
	for i, c := range cmds {
		if i == n {
			return nil, fmt.Errorf("publish %s: %w", c.ID, errNATSDown)
		}
		if m.refuse != nil {
			if why := m.refuse(c); why != "" {
				refused = append(refused, rules.Refusal{Command: c, Reason: why})
				continue
			}
		}
		data, err := c.Data()
		if err != nil {
			return nil, err
		}
		m.sent[c.ID]++
		if m.ids[c.ID] {
			continue // a duplicate within the window: acknowledged, not stored
		}
		m.ids[c.ID] = true
		m.msgs = append(m.msgs, memMsg{subject: c.Subject, msgID: c.ID, data: data})
	}
	return refused, nil
}

// set changes the stream's faults while it is in use.
func (m *memStream) set(change func(m *memStream)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	change(m)
}

// sentTimes returns how often the command was sent, duplicates included.
func (m *memStream) sentTimes(id string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sent[id]
}

// stored returns the message IDs the stream holds, in order.
func (m *memStream) stored() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, len(m.msgs))
	for i, msg := range m.msgs {
		ids[i] = msg.msgID
	}
	return ids
}

// memOffsets is the consumer group's offset commits in memory.
type memOffsets struct {
	mu       sync.Mutex
	commits  []map[string]int64 // the next offset to read, by topic
	fail     error
	onCommit func(map[string]int64)
}

func (c *memOffsets) CommitOffsets(offsets map[string]map[int]int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return c.fail
	}
	commit := make(map[string]int64)
	for t, ps := range offsets {
		for _, o := range ps {
			commit[t] = o
		}
	}
	c.commits = append(c.commits, commit)
	if c.onCommit != nil {
		c.onCommit(commit)
	}
	return nil
}

// appendOutbox puts commands in the partition's outbox, as saves would,
// numbered on from the last.
func (s *memStore) appendOutbox(p int, cmds ...rules.Command) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mp := s.part(p)
	for _, c := range cmds {
		mp.seq++
		mp.outbox = append(mp.outbox, memEntry{seq: mp.seq, cmd: c, saved: time.Now()})
	}
}
