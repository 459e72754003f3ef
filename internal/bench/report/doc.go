// Package report is what a bench run found, apart from how it was measured:
// the report's types (what the measuring code fills in, and what --json
// writes field for field), the table printed at the end of a run, the JSON
// file, and the comparison of two reports that guards `make bench` against
// regressions (Compare). It imports nothing of the bench: the measuring
// packages import it.
package report
