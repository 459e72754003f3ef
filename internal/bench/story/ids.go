package story

import (
	"strconv"
	"strings"
)

// Phases, also the letter after the run's order-ID prefix.
const (
	PhaseLoad     = 0
	PhaseDeadline = 1
	PhaseHostile  = 2
	NPhases       = 3
)

// PhaseLetters are the phases' letters in order IDs.
var PhaseLetters = [NPhases]byte{'L', 'D', 'X'}

// OrderPrefix is the start of every order ID of a run and phase.
func OrderPrefix(runID string, phase int) string {
	return "b" + runID + "-" + string(PhaseLetters[phase]) + "-"
}

// OrderID is the ID of order number i of a run's phase.
func OrderID(runID string, phase, i int) string { return OrderPrefix(runID, phase) + strconv.Itoa(i) }

// PhaseOf tells the phase from an order ID of the run; -1 for another run's.
func PhaseOf(runID, order string) int {
	p := "b" + runID + "-"
	if !strings.HasPrefix(order, p) || len(order) <= len(p) {
		return -1
	}
	for i, c := range PhaseLetters {
		if order[len(p)] == c {
			return i
		}
	}
	return -1
}

// SplitCommandID returns the order and the cause of a command ID
// ("<order>/<cause>/...").
func SplitCommandID(id string) (order, cause string) {
	order, rest, _ := strings.Cut(id, "/")
	cause, _, _ = strings.Cut(rest, "/")
	return order, cause
}
