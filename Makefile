GO ?= go
PKGS := ./...

.PHONY: test race bench lint fmt scenarios sweep bench-vs-moleculer bench-scale fuzz

# The README's test command: everything, with the race detector.
test:
	$(GO) test -race -count=1 $(PKGS)

race: test

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fmt:
	gofmt -w $$(git ls-files '*.go')

# The main job: every scenario file through the CLI, on embedded defaults, ending with a
# pass/fail table (exit 1 if a check failed).
scenarios:
	$(GO) run ./cmd/faultline run scenarios/testdata/*.yaml

# 200 seeds of the order-flow scenario on the built binary, within the acceptance bound of
# a minute; prints the first failing seed and its replay command, if any.
SWEEP_BIN := $(or $(TMPDIR),/tmp)/faultline-sweep
sweep:
	$(GO) build -o $(SWEEP_BIN) ./cmd/faultline
	timeout 60 $(SWEEP_BIN) sweep scenarios/testdata/order-flow.yaml --seeds 200

# Faultline's broker against Moleculer JS 0.15.2 (interop/node, installed by npm ci), the same
# four cases with 1 and 100 callers, alternated twice; prints the table, writes JSON to out/.
interop/node/node_modules: interop/node/package-lock.json
	cd interop/node && npm ci --no-audit --no-fund
	@touch $@

bench-vs-moleculer: interop/node/node_modules
	$(GO) run ./bench/vsmoleculer -rounds 2 -duration 2s -json out/bench-vs-moleculer.json

# The simulator against cluster size: one gateway, N product nodes, 10 clients × 10 calls/s
# for 60 s virtual, each N in a process of its own; prints wall time and peak RSS per N.
SCALE_SIZES ?= 5,20,50,100,200,1000
SCALE_BIN := $(or $(TMPDIR),/tmp)/faultline-bench-scale
bench-scale:
	$(GO) build -o $(SCALE_BIN) ./bench/scale
	uptime
	$(SCALE_BIN) -sizes $(SCALE_SIZES)

# Every fuzz target for FUZZTIME each (make fuzz FUZZTIME=60s); fails on a crash or on a
# target that executes fewer than MIN_EXECS inputs. Crashers land in testdata/fuzz.
FUZZTIME ?= 10s
MIN_EXECS ?= 1000
fuzz:
	FUZZTIME=$(FUZZTIME) MIN_EXECS=$(MIN_EXECS) ./.ci/fuzz
