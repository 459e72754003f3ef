// Package follow reads the streams of commands disputed publishes and
// prints each command for people: `disputed tail`, and the demo's output.
// It only reads (ephemeral ordered consumers); nothing is acknowledged or
// removed.
package follow
