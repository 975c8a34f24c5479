# kfwd's Makefile wraps go commands only. `make demo` and `make test` are the
# README's two commands.
GO ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
LDFLAGS := -s -w
DIST_TARGETS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

.PHONY: all build demo test test-short lint bench dist man clean

all: lint test build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/kfwd ./cmd/kfwd

demo:
	$(GO) run ./cmd/kfwd demo

# test runs everything, the end-to-end tests against a real sshd in a network
# namespace included (root, iproute2 and openssh-server: .ci/run installs them).
# The other packages run under the race detector (it needs cgo: gcc); the
# end-to-end tests run kfwd as its own build, where -race would only slow them.
test:
	$(GO) test -count=1 -race -timeout 15m $$($(GO) list ./... | grep -v '/internal/e2e$$')
	$(GO) test -count=1 -timeout 15m ./internal/e2e/

test-short:
	$(GO) test -short ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# bench runs the Go benchmarks; internal/e2e's run side by side with OpenSSH and print
# ratios: BenchmarkLogin (a whole login at 50 ms RTT against the manual flow and `ssh host
# true`, kfwd's peak RSS), BenchmarkForward (1 GiB each way against `ssh -L`, CPU per GiB,
# peak RSS), BenchmarkDetectToBrowser (URL in the output -> listener up and browser started,
# median and p95). Figures and how to read them: docs/design.md, "Benchmarks".
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 -timeout 30m ./...

dist:
	@for t in $(DIST_TARGETS); do \
		os=$${t%/*}; arch=$${t#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "building $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/kfwd-$$os-$$arch$$ext ./cmd/kfwd || exit 1; \
	done

man:
	$(GO) run ./internal/mangen

clean:
	rm -rf bin dist
