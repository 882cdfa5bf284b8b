# lvsctl — build, test, benchmark.
#
#   make demo   the main job on a built-in lab (director + 2 real servers + client)
#   make test   every test tier: unit, host network namespaces (root), real IPVS in a VM
#   make bench  benchmarks that print the figures quoted in README
#   make compat keepalived -t and lvsctl config check side by side (COMPAT_DIR)

GO        ?= go
BIN       ?= bin/lvsctl
GOFLAGS_E2E ?= -race -count=1 -p 1 -timeout 30m
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)

.PHONY: all build deps test test-unit test-e2e lint bench bench-go demo compat clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/lvsctl

# Debian packages the e2e and VM tiers need (idempotent, quiet when present).
deps:
	@bash scripts/deps.sh

# All tiers. Fails when any tier cannot run (not root, no qemu, no kernel):
# nothing is skipped.
test: lint fuzz test-e2e test-vm

# Tier 1 only: no root needed.
test-unit:
	$(GO) test -race -count=1 ./...

# Tiers 1+2: unit tests plus the network-namespace tests (build tag e2e),
# under the race detector.
test-e2e: deps
	@[ "$$(id -u)" -eq 0 ] || { echo "test-e2e: the namespace tier needs root" >&2; exit 1; }
	$(GO) test -tags e2e $(GOFLAGS_E2E) ./...

# staticcheck is pinned in go.mod as a tool (go tool staticcheck).
lint:
	$(GO) vet ./...
	$(GO) vet -tags e2e ./...
	$(GO) vet -tags bench ./...
	$(GO) tool staticcheck ./...
	$(GO) tool staticcheck -tags e2e ./...
	$(GO) tool staticcheck -tags bench ./...
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# The main job on a built-in lab: director + rs1 + rs2 + client in network
# namespaces. This host's kernel has no IPVS, so the lab runs inside the VM
# unless /proc/net/ip_vs exists here.
demo: deps build screenshot
	@if [ -e /proc/net/ip_vs ]; then \
	  PATH=$(CURDIR)/bin:$$PATH $(GO) test -tags vm -count=1 -v -run TestDemo ./e2e/demo; \
	else \
	  $(GO) run ./e2e/vm/cmd/vmrun -v -bin ./cmd/lvsctl -run TestDemo ./e2e/demo; \
	fi

# Benchmarks that print the figures quoted in README and docs/.
bench: deps bench-go
	bash bench/healthcheck.sh
	bash bench/director.sh
	bash bench/vrrp-handover.sh
	bash bench/sync.sh
	bash bench/bgp.sh

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./...

# keepalived -t and lvsctl config check over a folder of configurations
# (default: keepalived 2.2.7's samples); COMPAT_ID is the config id (-i).
COMPAT_DIR ?= internal/config/testdata/keepalived-samples
COMPAT_ID  ?=
compat: deps
	bash scripts/compat.sh $(if $(COMPAT_ID),-i $(COMPAT_ID)) $(COMPAT_DIR)

clean:
	rm -rf bin .cache

-include mk/*.mk
