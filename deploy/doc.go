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
// dashboard query against the ones disputed exports. UsedMetrics lets a
// test that scrapes a running disputed make the last check live.
package deploy
