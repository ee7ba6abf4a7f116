# pgmedic: two commands matter on a fresh machine, `make demo` and `make test`.
GO      ?= go
BIN     := bin/pgmedic
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/pgmedic/pgmedic/internal/cli.version=$(VERSION)

.PHONY: all build setup demo test check-fmt vet bench clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/pgmedic

setup:
	./scripts/setup

demo: setup build
	./$(BIN) demo $(DEMO_ARGS)

check-fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

test: setup check-fmt vet
	$(GO) test -count=1 -timeout 60m ./...

bench: setup
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./...

clean:
	rm -rf bin .pgmedic
