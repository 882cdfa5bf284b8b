# Fuzzing: every Fuzz* target of the repository, each for a bounded time.
# Included by the Makefile; `make test` runs it.
#
#   make fuzz                  every target, FUZZTIME each (30s)
#   make fuzz FUZZTIME=5s      shorter
#   make fuzz FUZZ=FuzzParse   only the targets matching a grep -E pattern
#
# Targets are found by their declaration in *_test.go files, so a new
# Fuzz function is fuzzed without touching this file. Seeds: each target's
# f.Add calls (the fixtures under testdata) and its testdata/fuzz corpus.
# Go fuzzes one target per `go test` run, hence the loop.

FUZZTIME ?= 30s
FUZZ     ?= .

.PHONY: fuzz
fuzz:
	@set -e; n=0; \
	for f in $$(git ls-files -co --exclude-standard '*_test.go'); do \
	  for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(f \*testing\.F).*/\1/p' $$f | grep -E '$(FUZZ)' || true); do \
	    n=$$((n+1)); echo "fuzz: $$t ./$$(dirname $$f) ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./$$(dirname $$f) || exit 1; \
	  done; \
	done; \
	[ $$n -gt 0 ] || { echo "fuzz: no target matches $(FUZZ)" >&2; exit 1; }; \
	echo "fuzz: $$n targets passed"
