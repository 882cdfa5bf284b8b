// Package e2e holds lvsctl's end-to-end tests. They are in _test.go files
// with a build tag: "e2e" for tests on the host's network namespaces (run as
// root with `go test -tags e2e ./...`) and "vm" for tests that need real
// IPVS and run inside the QEMU guest of package e2e/vm (`make e2e-vm`).
// See docs/testing.md.
package e2e
