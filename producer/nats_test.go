package producer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/producer"
	"github.com/disputed/disputed/rules"
)

func newPublisher(t *testing.T, cfg producer.Config) (*producer.NATS, jetstream.JetStream, *testserver.NATS) {
	t.Helper()
	srv := testserver.StartNATS(t)
	nc := srv.Conn()
	pub, err := producer.NewNATS(nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return pub, js, srv
}

func streamConfig(t *testing.T, js jetstream.JetStream, name string) jetstream.StreamConfig {
	t.Helper()
	s, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	return s.CachedInfo().Config
}

func TestEnsureStreamsCreates(t *testing.T) {
	pub, js, _ := newPublisher(t, producer.Config{})
	notes, err := pub.EnsureStreams(context.Background())
	if err != nil || len(notes) > 0 {
		t.Fatalf("EnsureStreams = %v, %v", notes, err)
	}
	d := producer.DefaultConfig()
	for _, want := range []struct {
		name, subject string
		window        time.Duration
	}{
		{"DISPUTES", "disputes.>", d.DisputesDuplicates},
		{"FINANCE", "finance.>", d.FinanceDuplicates},
		{"DISPUTED_GUARD", "disputed.guard.>", d.FinanceDuplicates},
	} {
		c := streamConfig(t, js, want.name)
		if len(c.Subjects) != 1 || c.Subjects[0] != want.subject || c.Duplicates != want.window || c.Storage != jetstream.FileStorage {
			t.Errorf("%s: subjects %v, window %v, storage %v", want.name, c.Subjects, c.Duplicates, c.Storage)
		}
	}
	if d.FinanceDuplicates < time.Hour || d.DisputesDuplicates <= 5*time.Minute {
		t.Errorf("default windows %v (finance), %v (disputes): want hours, and longer than the 5 minutes readiness lets a command wait", d.FinanceDuplicates, d.DisputesDuplicates)
	}
	g := streamConfig(t, js, "DISPUTED_GUARD")
	if g.MaxMsgsPerSubject != 1 || g.Discard != jetstream.DiscardNew || !g.DiscardNewPerSubject || g.MaxAge != 0 {
		t.Errorf("guard stream: %+v", g)
	}
	// Running again changes nothing and says nothing.
	if notes, err := pub.EnsureStreams(context.Background()); err != nil || len(notes) > 0 {
		t.Errorf("second EnsureStreams = %v, %v", notes, err)
	}
}

// An operator's longer window, limits and retention survive a restart of
// disputed; a shorter window is raised; the guard's contract is restored.
func TestEnsureStreamsMergesWithTheOperators(t *testing.T) {
	ctx := context.Background()
	pub, js, _ := newPublisher(t, producer.Config{})
	for _, c := range []jetstream.StreamConfig{
		{Name: "FINANCE", Subjects: []string{"finance.>", "audit.finance.>"}, Storage: jetstream.FileStorage,
			Duplicates: 48 * time.Hour, MaxAge: 30 * 24 * time.Hour, MaxBytes: 1 << 30},
		{Name: "DISPUTES", Subjects: []string{"disputes.>"}, Storage: jetstream.FileStorage, Duplicates: time.Minute, Retention: jetstream.InterestPolicy},
		{Name: "DISPUTED_GUARD", Subjects: []string{"disputed.guard.>"}, Storage: jetstream.FileStorage, MaxMsgsPerSubject: 5},
	} {
		if _, err := js.CreateStream(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	notes, err := pub.EnsureStreams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := streamConfig(t, js, "FINANCE")
	if f.Duplicates != 48*time.Hour || f.MaxAge != 30*24*time.Hour || f.MaxBytes != 1<<30 || len(f.Subjects) != 2 {
		t.Errorf("FINANCE after EnsureStreams: %+v", f)
	}
	d := streamConfig(t, js, "DISPUTES")
	if d.Duplicates != producer.DefaultConfig().DisputesDuplicates || d.Retention != jetstream.InterestPolicy {
		t.Errorf("DISPUTES after EnsureStreams: window %v, retention %v", d.Duplicates, d.Retention)
	}
	g := streamConfig(t, js, "DISPUTED_GUARD")
	if g.MaxMsgsPerSubject != 1 || !g.DiscardNewPerSubject || g.Discard != jetstream.DiscardNew {
		t.Errorf("guard after EnsureStreams: %+v", g)
	}
	joined := strings.Join(notes, "\n")
	for _, want := range []string{"FINANCE keeps its duplicate window 48h0m0s", "DISPUTED_GUARD had max 5 messages per subject"} {
		if !strings.Contains(joined, want) {
			t.Errorf("notes lack %q:\n%s", want, joined)
		}
	}
}

// decided returns the commands of a settled order: a final ruling and its
// transfers, as replay makes them.
func decided(t *testing.T, order string, refund int64, eventID string) []rules.Command {
	t.Helper()
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	r := rules.NewReplay(rules.DefaultPolicy())
	var out []rules.Command
	for _, e := range []rules.Event{
		{ID: "paid", Type: rules.TypeOrderPaid, Time: at, OrderID: order, Data: rules.Data{CustomerID: "c", ProviderID: "p", Category: rules.OtherCategory, Amount: 1000, Currency: "EUR"}},
		{ID: "req", Type: rules.TypeRefundRequested, Time: at, OrderID: order, Data: rules.Data{Reason: rules.ReasonQuality}},
		{ID: eventID, Type: rules.TypeSettlementAgreed, Time: at, OrderID: order, Data: rules.Data{RefundAmount: refund}},
	} {
		cmds, err := r.Apply(e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, cmds...)
	}
	return out
}

func published(t *testing.T, srv *testserver.NATS, stream string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, m := range testserver.Messages(context.Background(), t, srv.Conn(), stream) {
		out[m.MsgID]++
	}
	return out
}

func TestPublishOnceWithTheCommandIDs(t *testing.T) {
	ctx := context.Background()
	pub, _, srv := newPublisher(t, producer.Config{})
	if _, err := pub.EnsureStreams(ctx); err != nil {
		t.Fatal(err)
	}
	cmds := decided(t, "o1", 400, "s")
	for range 2 { // the second time is a retry: duplicates are success
		refused, err := pub.Publish(ctx, cmds...)
		if err != nil || len(refused) > 0 {
			t.Fatalf("Publish = %v, %v", refused, err)
		}
	}
	got := published(t, srv, "DISPUTES")
	for id, n := range published(t, srv, "FINANCE") {
		got[id] += n
	}
	for _, c := range cmds {
		if got[c.ID] != 1 {
			t.Errorf("%s stored %d times, want once", c.ID, got[c.ID])
		}
	}
	if len(got) != len(cmds) {
		t.Errorf("stored %v, want the %d commands", got, len(cmds))
	}
}

func TestPublishWithoutStreamsFails(t *testing.T) {
	pub, _, _ := newPublisher(t, producer.Config{AckTimeout: 500 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	notice := rules.Command{ID: "o1/x/notice/n", Subject: "disputes.notice.o1", Body: &rules.Notice{CommandID: "o1/x/notice/n", OrderID: "o1"}}
	if _, err := pub.Publish(ctx, notice); err == nil {
		t.Error("Publish with no stream for the subject succeeded")
	}
}

// A second, different final ruling of an order, and its transfers, are
// refused by JetStream itself, and none of them is published; the first
// ruling, published again long after (past the duplicate window), passes.
func TestGuardRefusesASecondFinalRuling(t *testing.T) {
	ctx := context.Background()
	pub, _, srv := newPublisher(t, producer.Config{DisputesDuplicates: 200 * time.Millisecond, FinanceDuplicates: 200 * time.Millisecond})
	if _, err := pub.EnsureStreams(ctx); err != nil {
		t.Fatal(err)
	}
	first := decided(t, "o1", 400, "s1")
	if refused, err := pub.Publish(ctx, first...); err != nil || len(refused) > 0 {
		t.Fatalf("first ruling: %v, %v", refused, err)
	}
	second := decided(t, "o1", 1000, "s2") // the same order, decided again, differently
	refused, err := pub.Publish(ctx, second...)
	if err != nil {
		t.Fatal(err)
	}
	if len(refused) != len(second) {
		t.Fatalf("refused %d of the second ruling's %d commands", len(refused), len(second))
	}
	for _, r := range refused {
		if !strings.Contains(r.Reason, "o1/event:s1") {
			t.Errorf("refusal of %s does not name the ruling on record: %s", r.Command.ID, r.Reason)
		}
	}
	time.Sleep(300 * time.Millisecond) // past the duplicate window
	if refused, err := pub.Publish(ctx, first...); err != nil || len(refused) > 0 {
		t.Errorf("the first ruling again: %v, %v", refused, err)
	}
	fin := published(t, srv, "FINANCE")
	if len(fin) != 2 {
		t.Errorf("FINANCE holds %v, want only the first ruling's two transfers", fin)
	}
	for id := range fin {
		if !strings.Contains(id, "/event:s1/") {
			t.Errorf("FINANCE holds %s", id)
		}
	}
}

func TestGuardRefusesATransferWithoutItsRuling(t *testing.T) {
	ctx := context.Background()
	pub, _, srv := newPublisher(t, producer.Config{})
	if _, err := pub.EnsureStreams(ctx); err != nil {
		t.Fatal(err)
	}
	cmds := decided(t, "o2", 400, "s")
	var transfer rules.Command
	for _, c := range cmds {
		if strings.HasPrefix(c.Subject, rules.SubjectTransfer) {
			transfer = c
		}
	}
	refused, err := pub.Publish(ctx, transfer)
	if err != nil || len(refused) != 1 {
		t.Fatalf("Publish = %v, %v; want the transfer refused", refused, err)
	}
	if n := len(published(t, srv, "FINANCE")); n != 0 {
		t.Errorf("FINANCE holds %d messages", n)
	}
}
