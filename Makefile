# breakglass — see README.md. `make test` and `make demo` work on a fresh Debian
# machine as root: they install what is missing and start/stop pcscd themselves.

GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS     := -s -w -buildid= -X main.version=$(VERSION)
BUILDFLAGS  := -trimpath -buildvcs=false -ldflags '$(LDFLAGS)'
BIN         := bin/breakglass
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
export CGO_ENABLED := 1

.PHONY: all build setup test test-go demo bench lint reproduce clean

all: build

## setup: install missing Debian packages and configure the virtual readers
setup:
	@scripts/deps.sh
	@scripts/readers.sh

## build: the breakglass binary in bin/
build:
	$(GO) build $(BUILDFLAGS) -o $(BIN) ./cmd/breakglass

## test: lint, then every test on the real stack (pcscd + vpcd + virtual cards, SoftHSM2)
test: setup lint test-go

# Packages run one at a time (-p 1): they share pcscd's virtual readers, and a
# command that scans every reader must not open another package's card.
# AWS_EC2_METADATA_DISABLED: a test that finds no AWS credentials must never
# ask an instance-metadata address for them (tests talk to loopback only).
# Then every benchmark runs once, so that `make bench` cannot break unseen
# (about a minute).
test-go:
	AWS_EC2_METADATA_DISABLED=true scripts/pcscd.sh run $(GO) test -race -count=1 -p 1 -timeout 30m ./...
	AWS_EC2_METADATA_DISABLED=true scripts/pcscd.sh run $(GO) test -count=1 -p 1 -run '^$$' -bench . -benchtime 1x ./...

## demo: the main job end to end on virtual cards
demo: setup build
	AWS_EC2_METADATA_DISABLED=true scripts/pcscd.sh run scripts/demo.sh $(BIN)

## bench: the performance goals: Go benchmarks, then seal/unseal against the age CLI
bench: setup build
	@scripts/deps.sh time bc
	scripts/pcscd.sh run $(GO) test -p 1 -run '^$$' -bench . -skip Paired -benchtime 2s ./...
	$(GO) test -run '^$$' -bench Cat100MBPaired -benchtime 11x ./logbook/recording
	scripts/bench-age.sh $(BIN)

## lint: gofmt, go vet and staticcheck must be clean
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## reproduce: build twice with -trimpath; the two SHA-256 sums must match
reproduce:
	@rm -rf bin/reproduce && mkdir -p bin/reproduce
	$(GO) build $(BUILDFLAGS) -o bin/reproduce/a ./cmd/breakglass
	GOCACHE=$(CURDIR)/bin/reproduce/cache $(GO) build $(BUILDFLAGS) -o bin/reproduce/b ./cmd/breakglass
	@chmod -R u+w bin/reproduce/cache && rm -rf bin/reproduce/cache
	@a=$$(sha256sum < bin/reproduce/a); b=$$(sha256sum < bin/reproduce/b); \
	  echo "first:  $$a"; echo "second: $$b"; \
	  if [ "$$a" != "$$b" ]; then echo "breakglass: error: the two builds differ"; exit 1; fi; \
	  echo "reproducible: $(VERSION)"

clean:
	rm -rf bin
