# goflyte Makefile: a thin layer over the go tool. `go build ./... && go test ./...`
# works without it; the targets below add the plugin binaries, code generation
# with pinned tools, and the benchmark report.

GO        ?= go
BIN       := $(CURDIR)/bin
PLUGINS   := $(BIN)/plugins
TOOLS     := $(CURDIR)/.tools
# Example plugins: every examples/<name>/ with a main.go becomes
# bin/plugins/goflyte-plugin-<name>.
EXAMPLES  := $(patsubst examples/%/main.go,%,$(wildcard examples/*/main.go))

# Pinned code generation tools (see plugin/pluginpb/buf.gen.yaml).
BUF_VERSION                := v1.75.0
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
STATICCHECK_VERSION        := v0.8.2
# The S3-compatible server the data store tests run against
# (engine/datastore/s3test finds it in $(TOOLS)).
VERSITYGW_VERSION          := v1.8.0
# The OpenID Connect provider the credentials tests run against
# (auth/oidctest finds it in $(TOOLS)); its own module pins zitadel/oidc.
OIDC_TESTSERVER_SRC        := testservers/oidc/go.mod testservers/oidc/go.sum testservers/oidc/main.go

.DEFAULT_GOAL := help

.PHONY: help
help: ## list targets (default)
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-15s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build the CLI into bin/goflyte
	$(GO) build -o $(BIN)/goflyte ./cmd/goflyte

.PHONY: plugins
plugins: ## build examples/* into bin/plugins/goflyte-plugin-<name>
	@mkdir -p $(PLUGINS)
	@for p in $(EXAMPLES); do \
		echo "$(GO) build -o $(PLUGINS)/goflyte-plugin-$$p ./examples/$$p"; \
		$(GO) build -o $(PLUGINS)/goflyte-plugin-$$p ./examples/$$p || exit 1; \
	done

.PHONY: run
run: build plugins ## build everything and run the example workflow
	$(BIN)/goflyte run examples/workflows/report.hcl --input 'text=the quick brown fox jumps over the lazy dog the end'

.PHONY: test
# The race detector checks the packages that run concurrent code in-process.
# The CLI's end-to-end tests (whose goflyte and plugins run as separate,
# uninstrumented processes anyway), the cloud data store and the deck
# renderer (whose browser test links chromedp) run without it, so the cloud
# SDKs and chromedp are compiled once, not a second time with -race: that
# keeps make test near 5 minutes on a fresh 2-core machine. The
# credentials tests (auth) and remote (the Temporal connection) run
# without it too: their tests need the OIDC and Temporal test servers,
# which are built beside the race tests, and -race would compile the
# Temporal SDK a second time.
NORACE_PKGS := ./cmd/... ./engine/datastore/... ./engine/deck/... ./remote/... ./auth/...
RACE_PKGS = $$($(GO) list ./... | grep -v -e '/cmd/' -e '/engine/datastore' -e '/engine/deck' -e '/goflyte/remote' -e '/goflyte/auth')

# First builds of versitygw (over a minute), the OIDC test server (about
# 80 s) and the Temporal test server (about 15 minutes cold, seconds from
# the build cache) run beside vet and the race tests, which leave one of
# two cores idle for much of their time. Once the servers are there, the
# end-to-end packages (test-e2e) run beside the race tests too: they wait
# on servers, workers and timers far more than they compute (the remote
# package about a quarter of one core, cmd/goflyte about a third), so the
# two phases overlap instead of adding up. -parallel 4: the tests marked
# t.Parallel in those packages (each with servers of its own) wait rather
# than compute, four at a time instead of GOMAXPROCS (2). -timeout 20m:
# go test's 10 minutes per package is a failure deadline that a loaded
# machine (load 12 and up) hit even before. GOFLYTE_TEST_S3=1,
# GOFLYTE_TEST_OIDC=1 and GOFLYTE_TEST_TEMPORAL=1 make a missing server
# fail its tests instead of skipping them.
test: ## run all tests (builds the CLI and plugins for the end-to-end tests; installs versitygw and the OIDC and Temporal test servers)
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-inproc test-e2e

.PHONY: test-e2e
test-e2e: $(TOOLS)/versitygw $(TOOLS)/oidc-testserver $(TOOLS)/temporal-testserver # the packages without the race detector (part of test)
	GOFLYTE_TEST_S3=1 GOFLYTE_TEST_OIDC=1 GOFLYTE_TEST_TEMPORAL=1 $(GO) test -count=1 -parallel 4 -timeout 20m $(NORACE_PKGS)

.PHONY: test-large
# The issue's large runs on the real Temporal test server: a 10,000-element
# for_each (batched into child workflows), a workflow of 10,000 distinct
# task blocks (continued as new) and a sub-workflow call of 10,000 distinct
# task blocks (continued as new with its caller), side by side; then
# values of megabytes through real workers (cmd/goflyte
# TestLargeValuesRemote). Minutes, so not part of test; .ci/run runs it
# after test.
test-large: $(TOOLS)/temporal-testserver $(TOOLS)/versitygw ## the 10,000-task remote runs on the real Temporal test server (minutes; .ci/run runs it)
	GOFLYTE_TEST_TEMPORAL=1 GOFLYTE_TEST_S3=1 $(GO) test -count=1 -timeout 30m -run '^TestLarge' -v ./remote -args -large
	GOFLYTE_TEST_TEMPORAL=1 GOFLYTE_TEST_S3=1 GOFLYTE_TEST_LARGE=1 $(GO) test -count=1 -timeout 30m -run '^TestLarge' -v ./cmd/goflyte

.PHONY: test-inproc
test-inproc: # go vet, and the race detector over the in-process packages (part of test)
	$(GO) vet ./...
	$(GO) test -race -count=1 $(RACE_PKGS)

.PHONY: soak
soak: ## 50 concurrent runs of a 200-task workflow with random plugin crashes and hangs; checks records and leaks (minutes)
	$(GO) test -tags soak -count=1 -timeout 20m -run '^TestSoak' -v ./cmd/goflyte

.PHONY: bench
bench: ## print engine overhead next to baselines measured in the same run
	$(GO) run ./cmd/goflyte-bench

.PHONY: bench-short
bench-short: ## the cheap bench rows, a few samples each (under a minute; the end of .ci/run)
	$(GO) run ./cmd/goflyte-bench -short

# Peers for bench-peers, pinned (cmd/goflyte-bench/peerrows.go names the
# same versions). Dagu ships its binary in an npm package; it is GPL, so
# it is only run as a program.
GOTASK_VERSION := v3.54.0
DAGU_VERSION   := 1.30.2

.PHONY: bench-peers
bench-peers: $(TOOLS)/task $(TOOLS)/dagu/node_modules/@dagu-org/dagu-linux-x64/bin/dagu ## chains of 100 and 1,000 steps: goflyte next to go-task, Dagu and a shell loop
	$(GO) run ./cmd/goflyte-bench -peers -run '^peer-'

$(TOOLS)/task:
	GOBIN=$(TOOLS) $(GO) install github.com/go-task/task/v3/cmd/task@$(GOTASK_VERSION)
$(TOOLS)/dagu/node_modules/@dagu-org/dagu-linux-x64/bin/dagu:
	npm install --no-audit --no-fund --prefix $(TOOLS)/dagu @dagu-org/dagu-linux-x64@$(DAGU_VERSION)

.PHONY: lint
lint: ## gofmt check, go vet, staticcheck (pinned)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'run gofmt -w'; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

$(TOOLS)/buf:
	GOBIN=$(TOOLS) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(TOOLS)/protoc-gen-go-grpc:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
# A real S3 server for the data store tests, instead of a fake that skips
# signature checks. The first install takes about 80 s. GOFLYTE_TEST_S3=1 in
# `test` makes a missing server fail the S3 tests instead of skipping them.
$(TOOLS)/versitygw:
	GOBIN=$(TOOLS) $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)
# An OpenID Connect provider for the credentials tests (testservers/oidc, a
# module of its own so that the main module never links it). The first
# build takes about 80 s. GOFLYTE_TEST_OIDC=1 in `test` makes a missing
# binary fail the auth tests instead of skipping them.
$(TOOLS)/oidc-testserver: $(OIDC_TESTSERVER_SRC)
	cd testservers/oidc && $(GO) build -o $(TOOLS)/oidc-testserver .
# A real Temporal server for remote's tests: a small program in a
# module of its own (testservers/temporal, versions pinned in its go.mod)
# that embeds the server library with SQLite, TLS and the JWT authorizer.
# The main module never links the server. A cold build takes about 15
# minutes on two cores; the Go build cache makes later ones quick. It is
# rebuilt when the program or its pins change.
$(TOOLS)/temporal-testserver: testservers/temporal/go.mod testservers/temporal/go.sum $(wildcard testservers/temporal/cmd/*/*.go)
	cd testservers/temporal && GOBIN=$(TOOLS) $(GO) install ./...
# `make .tools/NAME` builds one of them (the tests' hints say so): the
# rules above name them by absolute path, which GOBIN needs.
.tools/%: $(TOOLS)/% ;

.PHONY: generate
generate: $(TOOLS)/buf $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc ## regenerate plugin/pluginpb from plugin.proto
	cd plugin/pluginpb && PATH=$(TOOLS):$$PATH buf generate

.PHONY: generate-check
generate-check: generate ## fail if the committed generated code is stale
	@git diff --exit-code -- 'plugin/pluginpb/*.pb.go' || { echo 'generated code is stale: run make generate and commit'; exit 1; }
	@test -z "$$(git status --porcelain -- 'plugin/pluginpb/*.pb.go')" || { git status --porcelain -- 'plugin/pluginpb/*.pb.go'; echo 'untracked generated files: run make generate and commit'; exit 1; }

.PHONY: clean
clean: ## remove build output
	rm -rf $(BIN)

FUZZTIME ?= 2m

.PHONY: fuzz
fuzz: ## run each fuzz test for FUZZTIME (default 2m): workflows, config, --input values, cache entries
	$(GO) test -run '^$$' -fuzz '^FuzzLoadWorkflow$$' -fuzztime $(FUZZTIME) ./engine/config
	$(GO) test -run '^$$' -fuzz '^FuzzLoadConfig$$' -fuzztime $(FUZZTIME) ./engine/config
	$(GO) test -run '^$$' -fuzz '^FuzzParseInputValue$$' -fuzztime $(FUZZTIME) ./engine
	$(GO) test -run '^$$' -fuzz '^FuzzGet$$' -fuzztime $(FUZZTIME) ./engine/cache
