GO ?= go
PKGS := ./...

.PHONY: test race bench lint fmt scenarios sweep

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
