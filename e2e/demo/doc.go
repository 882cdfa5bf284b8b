// Package demo is `make demo`: the main job of lvsctl shown on a built-in
// lab, one director, two real servers and a client in network namespaces,
// inside the test VM (whose kernel has IPVS). The demo is a vm-tagged test
// because the VM runner runs test binaries; it prints for a human to read
// and fails when the demo does not go as told.
package demo
