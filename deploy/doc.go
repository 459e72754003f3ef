// Package deploy holds what runs disputed outside a developer's shell: the
// container image (Dockerfile), a compose file for a whole local stack,
// Kubernetes manifests (k8s/), Prometheus alert rules (prometheus/) and a
// Grafana dashboard (grafana/).
//
// Its Go code is checks, not a program. The tests decode every manifest
// strictly into the Kubernetes and Prometheus Operator API types, so an
// unknown or misspelt field fails, and cross-check names: selectors, ports,
// Secret keys, environment variables against the flags of cmd/disputed,
// the PrometheusRule against alerts.yml, and the metrics the rules and the
// dashboard query against the ones disputed exports (the main module's
// internal/opsmetrics reads them, and cmd/disputed's TestOperations checks
// them against a live /metrics).
//
// It is a Go module of its own, so that the service's go.mod carries none of
// the Kubernetes modules its checks decode with.
package deploy
