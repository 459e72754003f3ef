package bench

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/rules"
)

// A story is one order's dispute, told event by event in real time: each
// event is stamped with the wall clock when it is produced, and the events
// of one order are at least --gap apart. The deadlines the processor arms
// (evidence, modification) are --evidence-window long, so they fire while
// the bench runs.

// storyKind is a kind of story: its steps, and how many commands each step
// and its deadlines produce (worked out once by replaying an instance).
type storyKind struct {
	name   string
	weight int
	steps  []storyStep

	eventCmds       []int // commands caused by each step's event
	deadlineCmds    int   // commands caused by the story's deadlines
	deadlineRulings int   // rulings among them
	// For a story cut short after k events (the load's end): the commands
	// and rulings its deadlines still give, index k.
	prefixDeadlineCmds, prefixDeadlineRulings []int
}

// storyStep is one event of a story.
type storyStep struct {
	typ rules.Type
	// after is waited before the event on top of the gap: for an event
	// that must come after a deadline fired.
	after time.Duration
	data  func(o *storyOrder, at time.Time) map[string]any
}

// storyOrder is the order a story is about.
type storyOrder struct {
	id     string
	amount int64
}

func (o *storyOrder) eventID(step int) string { return o.id + "-" + strconv.Itoa(step) }

// wireEvent is the CloudEvents envelope as upstream systems write it.
type wireEvent struct {
	SpecVersion string         `json:"specversion"`
	ID          string         `json:"id"`
	Source      string         `json:"source"`
	Type        rules.Type     `json:"type"`
	Time        string         `json:"time"`
	Subject     string         `json:"subject"`
	Data        map[string]any `json:"data,omitempty"`
}

var sources = map[string]string{
	rules.TopicOrders: "order-service", rules.TopicDeliveries: "delivery-service",
	rules.TopicChats: "chat-service", rules.TopicRefundRequests: "refund-service",
}

func encodeEvent(id, order string, typ rules.Type, at time.Time, data map[string]any) []byte {
	src := sources[typ.Topic()]
	if src == "" {
		src = "bench"
	}
	b, err := json.Marshal(wireEvent{SpecVersion: "1.0", ID: id, Source: src, Type: typ, Time: at.UTC().Format(time.RFC3339Nano), Subject: order, Data: data})
	if err != nil {
		panic(err) // maps of strings, numbers and booleans always encode
	}
	return b
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func paid(category rules.Category) func(o *storyOrder, _ time.Time) map[string]any {
	return func(o *storyOrder, _ time.Time) map[string]any {
		return map[string]any{"customer_id": "mer-" + o.id, "provider_id": "sp-" + strconv.Itoa(int(o.amount%977)),
			"category": category, "amount": o.amount, "currency": "CNY"}
	}
}

func fixed(m map[string]any) func(*storyOrder, time.Time) map[string]any {
	return func(*storyOrder, time.Time) map[string]any { return m }
}

func chat(from rules.Party, text string) storyStep {
	return storyStep{typ: rules.TypeChatMessage, data: fixed(map[string]any{"from": from, "text": text})}
}

func refund(reason rules.Reason) storyStep {
	return storyStep{typ: rules.TypeRefundRequested, data: fixed(map[string]any{"reason": reason})}
}

func evidence(party rules.Party, kind rules.EvidenceKind, note string) storyStep {
	return storyStep{typ: rules.TypeEvidenceSubmitted, data: fixed(map[string]any{"party": party, "kind": kind, "note": note})}
}

var (
	delivered    = storyStep{typ: rules.TypeDeliverySubmitted, data: func(o *storyOrder, _ time.Time) map[string]any { return map[string]any{"delivery_no": "dlv-" + o.id} }}
	intervention = storyStep{typ: rules.TypeInterventionRequested, data: fixed(map[string]any{"by": rules.Customer})}
)

// storyKinds returns the mix of stories; window is the processor's evidence
// and modification window.
func storyKinds(window time.Duration) []*storyKind {
	modification := func(dueIn time.Duration) storyStep {
		return storyStep{typ: rules.TypeModificationRequested, data: func(_ *storyOrder, at time.Time) map[string]any {
			return map[string]any{"issue_id": "logo-colour", "objective": true, "due": stamp(at.Add(dueIn))}
		}}
	}
	return []*storyKind{
		{name: "settled", weight: 3, steps: []storyStep{
			{typ: rules.TypeOrderPaid, data: paid(rules.SoftwareApp)}, delivered, refund(rules.ReasonNotAsDescribed),
			chat(rules.Customer, "The bulk listing export the page promised is missing."),
			chat(rules.Provider, "It ships next month; we can refund part of the fee."),
			{typ: rules.TypeSettlementAgreed, data: func(o *storyOrder, _ time.Time) map[string]any {
				return map[string]any{"refund_amount": o.amount * 2 / 5}
			}},
		}},
		{name: "evidence_missed", weight: 3, steps: []storyStep{
			{typ: rules.TypeOrderPaid, data: paid(rules.Training)}, refund(rules.ReasonNotDelivered), intervention,
			chat(rules.Provider, "The recording link was sent by e-mail."),
		}},
		{name: "provider_proves_delivery", weight: 2, steps: []storyStep{
			{typ: rules.TypeOrderPaid, data: paid(rules.OperationalService)}, delivered, refund(rules.ReasonNotDelivered), intervention,
			evidence(rules.Provider, rules.Valid, "delivery record and platform chat log"),
		}},
		{name: "customer_proves_misdescription", weight: 1, steps: []storyStep{
			{typ: rules.TypeOrderPaid, data: paid(rules.SoftwareApp)}, refund(rules.ReasonNotAsDescribed),
			evidence(rules.Customer, rules.Valid, "listing text vs. product screenshot in platform chat"), intervention,
		}},
		{name: "modification_overdue", weight: 2, steps: []storyStep{
			{typ: rules.TypeOrderPaid, data: paid(rules.ImageDesign)}, delivered, modification(window),
			chat(rules.Customer, "The logo colours still do not match the brief."),
		}},
		{name: "modification_refused", weight: 1, steps: []storyStep{
			{typ: rules.TypeOrderPaid, data: paid(rules.ImageDesign)}, delivered, modification(window),
			{typ: rules.TypeModificationRefused, data: fixed(map[string]any{"issue_id": "logo-colour"})},
		}},
		{name: "suspended_and_lifted", weight: 2, steps: []storyStep{
			{typ: rules.TypeOrderPaid, data: paid(rules.Video)}, delivered, refund(rules.ReasonQuality), intervention,
			{typ: rules.TypeJudicialFiled, data: fixed(map[string]any{"by": rules.Customer})},
			{typ: rules.TypeSuspensionLifted},
			evidence(rules.Customer, rules.Valid, "frame-by-frame comparison against the storyboard"),
		}},
		{name: "escalated_then_reviewed", weight: 1, steps: []storyStep{
			{typ: rules.TypeOrderPaid, data: paid(rules.ImageDesign)}, delivered, refund(rules.ReasonQuality), intervention,
			evidence(rules.Customer, rules.Reference, "phone photos of the banners"),
			{typ: rules.TypeReviewDecided, after: window + time.Second, data: func(o *storyOrder, _ time.Time) map[string]any {
				return map[string]any{"refund_amount": o.amount / 3, "articles": []string{"c2.a3", "c2.a9"}, "note": "Two of five banners below the agreed resolution."}
			}},
		}},
		{name: "negotiated_settlement", weight: 1, steps: []storyStep{
			{typ: rules.TypeOrderPaid, data: paid(rules.OtherCategory)}, refund(rules.ReasonQuality),
			{typ: rules.TypeNegotiationRequested, data: fixed(map[string]any{"by": rules.Customer})},
			{typ: rules.TypeNegotiationRequested, data: fixed(map[string]any{"by": rules.Provider})},
			{typ: rules.TypeSettlementAgreed, data: func(o *storyOrder, _ time.Time) map[string]any {
				return map[string]any{"refund_amount": o.amount / 2}
			}},
		}},
		{name: "accepted", weight: 2, steps: []storyStep{
			{typ: rules.TypeOrderPaid, data: paid(rules.Training)}, delivered,
			chat(rules.Customer, "Thanks, the course was useful."), {typ: rules.TypeOrderAccepted},
		}},
		{name: "withdrawn", weight: 1, steps: []storyStep{
			{typ: rules.TypeOrderPaid, data: paid(rules.OperationalService)}, refund(rules.ReasonQuality),
			chat(rules.Provider, "We fixed the campaign settings this morning."), {typ: rules.TypeRefundWithdrawn},
		}},
	}
}

// countCommands replays one instance of each story, with the given gap and
// window, and records how many commands each event and the deadlines give,
// for the whole story and for each story cut short. A story that does not
// decode or apply cleanly is an error: the bench would measure the wrong
// thing.
func countCommands(kinds []*storyKind, policy rules.Policy, gap time.Duration) error {
	for _, k := range kinds {
		n := len(k.steps)
		k.prefixDeadlineCmds, k.prefixDeadlineRulings = make([]int, n+1), make([]int, n+1)
		for cut := 1; cut <= n; cut++ {
			part := &storyKind{name: k.name, steps: k.steps[:cut]}
			if err := countStory(part, policy, gap, cut == n); err != nil {
				return err
			}
			k.prefixDeadlineCmds[cut], k.prefixDeadlineRulings[cut] = part.deadlineCmds, part.deadlineRulings
			if cut == n {
				k.eventCmds, k.deadlineCmds, k.deadlineRulings = part.eventCmds, part.deadlineCmds, part.deadlineRulings
			}
		}
	}
	return nil
}

func countStory(k *storyKind, policy rules.Policy, gap time.Duration, whole bool) error {
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	o := &storyOrder{id: "ord-" + strings.ReplaceAll(k.name, "_", "-"), amount: 120000}
	r := rules.NewReplay(policy)
	at := start
	k.eventCmds = make([]int, len(k.steps))
	for i, st := range k.steps {
		if i > 0 {
			at = at.Add(gap + st.after)
		}
		var data map[string]any
		if st.data != nil {
			data = st.data(o, at)
		}
		e, err := rules.Decode(encodeEvent(o.eventID(i), o.id, st.typ, at, data))
		if err != nil {
			return fmt.Errorf("story %s step %d (%s): %w", k.name, i, st.typ, err)
		}
		cmds, err := r.Apply(e)
		if err != nil {
			return fmt.Errorf("story %s step %d (%s): %w", k.name, i, st.typ, err)
		}
		for _, c := range cmds {
			if _, cause := splitCommandID(c.ID); strings.HasPrefix(cause, "event:") {
				if _, ok := c.Body.(*rules.Rejection); ok {
					return fmt.Errorf("story %s step %d (%s) is rejected: %+v", k.name, i, st.typ, c.Body)
				}
				k.eventCmds[i]++
			} else {
				k.deadlineCmds++
				if _, ok := c.Body.(*rules.Ruling); ok {
					k.deadlineRulings++
				}
			}
		}
	}
	cmds, err := r.Advance(at.AddDate(1, 0, 0))
	if err != nil {
		return fmt.Errorf("story %s: deadlines: %w", k.name, err)
	}
	for _, c := range cmds {
		k.deadlineCmds++
		if _, ok := c.Body.(*rules.Ruling); ok {
			k.deadlineRulings++
		}
	}
	if st := r.State(o.id).Status; whole && st.Open() {
		return fmt.Errorf("story %s ends with the dispute still open (%s)", k.name, st)
	}
	return nil
}

// splitCommandID returns the order and the cause of a command ID
// ("<order>/<cause>/...").
func splitCommandID(id string) (order, cause string) {
	order, rest, _ := strings.Cut(id, "/")
	cause, _, _ = strings.Cut(rest, "/")
	return order, cause
}

// lane runs stories one after another, one order at a time.
type lane struct {
	id      int
	seq     int
	kind    *storyKind
	order   storyOrder
	step    int
	readyAt time.Time
	index   int
}

type laneHeap []*lane

func (h laneHeap) Len() int           { return len(h) }
func (h laneHeap) Less(i, j int) bool { return h[i].readyAt.Before(h[j].readyAt) }
func (h laneHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *laneHeap) Push(x any) {
	l := x.(*lane)
	l.index = len(*h)
	*h = append(*h, l)
}
func (h *laneHeap) Pop() any {
	old := *h
	l := old[len(old)-1]
	*h = old[:len(old)-1]
	return l
}

// Phases, also the letter after the run's order-ID prefix.
const (
	phaseLoad     = 0
	phaseDeadline = 1
	phaseHostile  = 2
	nPhases       = 3
)

var phaseLetters = [nPhases]byte{'L', 'D', 'X'}

// orderPrefix is the start of every order ID of a run and phase.
func orderPrefix(runID string, phase int) string {
	return "b" + runID + "-" + string(phaseLetters[phase]) + "-"
}

// phaseOf tells the phase from an order ID of the run; -1 for another run's.
func phaseOf(runID, order string) int {
	p := "b" + runID + "-"
	if !strings.HasPrefix(order, p) || len(order) <= len(p) {
		return -1
	}
	for i, c := range phaseLetters {
		if order[len(p)] == c {
			return i
		}
	}
	return -1
}

// stories is the scheduler of the load phase: it picks the next story of
// each lane by weight and says when each lane's next event is due.
//
// Lanes whose next event is due are served in random order, not oldest
// first: served in turn, every lane would be at the same step of its story
// at once (all paying, then all asking for refunds, ...), and a topic that
// none of those steps writes would fall quiet for seconds. The processor
// holds a partition's events while one of its topics is quiet, up to its
// idle time (docs/events.md, Watermark), so such waves would measure the
// idle time, not the processor. Served at random, the lanes drift apart
// within their first stories and every topic has traffic, as in production.
type stories struct {
	kinds  []*storyKind
	total  int
	rng    *rand.Rand
	prefix string // of the order IDs: the run's load phase, and the step's tag
	gap    time.Duration
	lanes  laneHeap       // lanes whose next event is not due yet, by when it is
	ready  []*lane        // lanes whose next event is due
	counts map[string]int // stories started, by kind
}

// newStories returns the scheduler of lanes lanes, starting staggered over
// the gap from start. tag tells the order IDs of one load step from
// another's.
func newStories(kinds []*storyKind, runID, tag string, lanes int, gap time.Duration, start time.Time, rng *rand.Rand) *stories {
	s := &stories{kinds: kinds, rng: rng, prefix: orderPrefix(runID, phaseLoad) + tag, gap: gap, counts: map[string]int{}}
	for _, k := range kinds {
		s.total += k.weight
	}
	for i := range lanes {
		// Staggered, so that the lanes do not all start in one burst.
		l := &lane{id: i, readyAt: start.Add(time.Duration(int64(gap) * int64(i) / int64(lanes)))}
		heap.Push(&s.lanes, l)
	}
	return s
}

func (s *stories) pick() *storyKind {
	n := s.rng.IntN(s.total)
	for _, k := range s.kinds {
		if n < k.weight {
			return k
		}
		n -= k.weight
	}
	return s.kinds[len(s.kinds)-1]
}

// stop ends the load: every lane stops, in the middle of its story if need
// be, and the deadline commands the cut stories still give are returned.
func (s *stories) stop() (deadlineCmds, deadlineRulings int) {
	for _, l := range slices.Concat([]*lane(s.lanes), s.ready) {
		if l.kind != nil && l.step > 0 {
			deadlineCmds += l.kind.prefixDeadlineCmds[l.step]
			deadlineRulings += l.kind.prefixDeadlineRulings[l.step]
		}
	}
	s.lanes, s.ready = nil, nil
	return deadlineCmds, deadlineRulings
}

// next returns the next event of a lane that is ready at now, chosen at
// random among them, or false when none is.
func (s *stories) next(now time.Time) (ev producedEvent, ok bool) {
	for len(s.lanes) > 0 && !s.lanes[0].readyAt.After(now) {
		s.ready = append(s.ready, heap.Pop(&s.lanes).(*lane))
	}
	if len(s.ready) == 0 {
		return ev, false
	}
	i := s.rng.IntN(len(s.ready))
	l := s.ready[i]
	last := len(s.ready) - 1
	s.ready[i], s.ready[last] = s.ready[last], nil
	s.ready = s.ready[:last]

	if l.kind == nil {
		l.kind = s.pick()
		s.counts[l.kind.name]++
		l.seq++
		l.step = 0
		l.order = storyOrder{
			id:     s.prefix + strconv.Itoa(l.id) + "-" + strconv.Itoa(l.seq),
			amount: 1000 + s.rng.Int64N(300000),
		}
	}
	st := l.kind.steps[l.step]
	var data map[string]any
	if st.data != nil {
		data = st.data(&l.order, now)
	}
	id := l.order.eventID(l.step)
	ev = producedEvent{
		id: id, order: l.order.id, typ: st.typ, at: now, phase: phaseLoad,
		value: encodeEvent(id, l.order.id, st.typ, now, data), cmds: l.kind.eventCmds[l.step],
	}
	l.step++
	if l.step == len(l.kind.steps) {
		ev.deadlineRulings = l.kind.deadlineRulings
		ev.deadlineCmds = l.kind.deadlineCmds
		l.kind = nil
		l.readyAt = now // the next story is another order
	} else {
		l.readyAt = now.Add(s.gap + l.kind.steps[l.step].after)
	}
	heap.Push(&s.lanes, l)
	return ev, true
}

// producedEvent is an event on its way to Kafka, and what it should cause.
type producedEvent struct {
	id, order string
	typ       rules.Type
	topic     string // "" = the type's topic
	at        time.Time
	phase     int
	value     []byte
	cmds      int // commands the event causes
	// The story's last event carries what the story's deadlines give.
	deadlineCmds, deadlineRulings int
	hostile                       hostileKind
}

// message is the event as written to Kafka: on the topic it names, else
// on its type's, either with the run's own topicPrefix (external Kafka).
func (e producedEvent) message(topicPrefix string) kafka.Message {
	t := e.topic
	if t == "" {
		t = e.typ.Topic()
	}
	return kafka.Message{Topic: topicPrefix + t, Key: []byte(e.order), Value: e.value}
}
