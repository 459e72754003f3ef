package consumer

import (
	"cmp"
	"slices"

	"github.com/segmentio/kafka-go"
)

// CoPartition is the group balancer that gives partition N of every topic
// to the same member, spreading partition numbers over the members in
// ranges. Every member of the group must use it.
type CoPartition struct{}

// ProtocolName implements kafka.GroupBalancer.
func (CoPartition) ProtocolName() string { return "disputed-copartition" }

// UserData implements kafka.GroupBalancer.
func (CoPartition) UserData() ([]byte, error) { return nil, nil }

// AssignGroups implements kafka.GroupBalancer.
func (CoPartition) AssignGroups(members []kafka.GroupMember, partitions []kafka.Partition) kafka.GroupMemberAssignments {
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b kafka.GroupMember) int { return cmp.Compare(a.ID, b.ID) })
	out := make(kafka.GroupMemberAssignments, len(ms))
	for _, m := range ms {
		out[m.ID] = make(map[string][]int)
	}
	if len(ms) == 0 {
		return out
	}
	maxP := 0
	for _, p := range partitions {
		maxP = max(maxP, p.ID+1)
	}
	for _, p := range partitions {
		m := ms[p.ID*len(ms)/maxP]
		if slices.Contains(m.Topics, p.Topic) {
			out[m.ID][p.Topic] = append(out[m.ID][p.Topic], p.ID)
		}
	}
	for _, a := range out {
		for t := range a {
			slices.Sort(a[t])
		}
	}
	return out
}

// assignedPartitions returns the partitions assigned in every topic, and
// those assigned in some topics only (the topics are not co-partitioned).
func assignedPartitions(a map[string][]kafka.PartitionAssignment, topics []string) (all, some []int) {
	count := make(map[int]int)
	for _, t := range topics {
		for _, p := range a[t] {
			count[p.ID]++
		}
	}
	for p, n := range count {
		if n == len(topics) {
			all = append(all, p)
		} else {
			some = append(some, p)
		}
	}
	slices.Sort(all)
	slices.Sort(some)
	return all, some
}

// PartitionOf is the partition kafka-go's Hash balancer writes an order's
// events to, of n: what the project's own producers (the demo, the bench, the
// tests) use. Upstream producers may use another partitioner; all four
// topics must use the same one.
func PartitionOf(order string, n int) int {
	ps := make([]int, n)
	for i := range ps {
		ps[i] = i
	}
	return (&kafka.Hash{}).Balance(kafka.Message{Key: []byte(order)}, ps...)
}
