// Package console serves the reviewers' console: the web pages with which
// the platform's reviewers work the queue of escalated and under-review
// disputes, read a dispute (its timeline, obligations, rulings and the
// text of every article cited), preview a decision, and send it as a
// review.decided event to Kafka, where it is decided, deduplicated and
// audited like every other event.
//
// It is part of disputed's HTTP surface, under /console/: plain HTML, CSS
// and JavaScript embedded in the binary (no build step, nothing from
// elsewhere), behind a login that trades the API token and a reviewer's
// name for a session cookie. It reads through the /v1 API (mounted behind
// the session, so its answers are the API's) and writes only through its
// Submitter.
package console
