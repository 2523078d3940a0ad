# Goodwill Ledger. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

GO        ?= go
BIN       := bin
TOOLBIN   := .bin
PROTODEPS := build/protodeps
# google/api annotations come from this exact module version in the Go module
# cache; buf's remote registry is not used.
GOOGLEAPIS_MOD := github.com/grpc-ecosystem/grpc-gateway@v1.16.0
# buf/validate/validate.proto (protovalidate annotations) comes from this exact
# module version, whose descriptor matches the Go package that
# buf.build/go/protovalidate uses at run time (checked when pinned).
PROTOVALIDATE_MOD := github.com/bufbuild/protovalidate@v1.2.2
TOOLS := github.com/bufbuild/buf/cmd/buf \
	google.golang.org/protobuf/cmd/protoc-gen-go \
	google.golang.org/grpc/cmd/protoc-gen-go-grpc \
	github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway \
	github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2 \
	honnef.co/go/tools/cmd/staticcheck
BUF := $(TOOLBIN)/buf
# The API as released: `make breaking` compares proto/ with it.
API_BASELINE := proto/released/goodwill-v1.binpb

# The build's identity (goodwilld version, GET /version, goodwill_build_info),
# from git in a checkout: `make build VERSION=v1.2.3` sets the release's.
# Outside a checkout these are empty, no -X is passed, and goodwilld reports
# what the Go toolchain stamped. BUILD_DATE is the commit's time, not the
# clock's, so one commit builds one binary and one image.
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT     ?= $(shell c=$$(git rev-parse HEAD 2>/dev/null) && { git diff --quiet HEAD 2>/dev/null && echo $$c || echo $$c-dirty; })
BUILD_DATE ?= $(shell git log -1 --format=%cI 2>/dev/null)
BUILDINFO  := github.com/goodwill-ledger/goodwill/server/buildinfo
LDFLAGS     = $(if $(VERSION),-X $(BUILDINFO).version=$(VERSION)) $(if $(COMMIT),-X $(BUILDINFO).commit=$(COMMIT)) \
	$(if $(BUILD_DATE),-X $(BUILDINFO).buildDate=$(BUILD_DATE))

# Kubernetes manifests (deploy/) are checked with kustomize and kubeconform,
# pinned in tools/go.mod, against schemas tools/kubeschema makes offline.
DEPLOY_TOOLS := $(TOOLBIN)/kustomize $(TOOLBIN)/kubeconform
KUBESCHEMAS  := build/kubeschemas

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: build
build: ## Build bin/goodwilld and bin/goodwill (the command-line client).
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/goodwilld ./server/cmd/goodwilld
	$(GO) build -o $(BIN)/goodwill ./client/cmd/goodwill

.PHONY: run
run: build ## Build and start goodwilld on the embedded store (data/goodwill.db).
	./$(BIN)/goodwilld serve

# Per test binary. CockroachDB (GOODWILL_TEST_COCKROACH_URL) runs every
# CREATE INDEX of a fresh test database as an online schema change, which
# makes its store suites far slower than PostgreSQL's.
TEST_TIMEOUT ?= 30m

.PHONY: test
test: test-tools ## Run every test; the end-to-end suite runs on SQLite, then on PostgreSQL.
	@(exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null || [ -n "$${GOODWILL_TEST_POSTGRES_URL:-}" ] || \
		echo "NOTE: no PostgreSQL at 127.0.0.1:5432: the PostgreSQL suites (server/store/postgres and the e2e suite on PostgreSQL) will be SKIPPED. Start one, or set GOODWILL_TEST_POSTGRES_URL."
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...
	@echo "== end-to-end suite again, on PostgreSQL (skips, saying why, if none is reachable)"
	GOODWILL_TEST_STORE=postgres $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./server/app/
	@echo "== the tools module: the container image (built and started), the Kubernetes schemas and deploy/"
	cd tools && $(GO) test -count=1 -timeout 15m ./imagebuild/ ./kubeschema/

# The container image: a static goodwilld on an empty base, built without a
# Docker daemon by tools/imagebuild (go-containerregistry). See docs/deploy.md.
IMAGE_DIR := build/image
IMAGE_TAR := build/goodwilld-image.tar

.PHONY: image
image: ## Build goodwilld's container image (no Docker needed): OCI layout build/image, build/goodwilld-image.tar for podman load.
	cd tools && $(GO) run ./imagebuild -ldflags '$(LDFLAGS)' -version '$(VERSION)' -revision '$(COMMIT)' \
		-created '$(BUILD_DATE)' -oci ../$(IMAGE_DIR) -tar ../$(IMAGE_TAR)

$(TOOLBIN)/kustomize: tools/go.mod
	cd tools && $(GO) build -o ../$(TOOLBIN)/ sigs.k8s.io/kustomize/kustomize/v5

$(TOOLBIN)/kubeconform: tools/go.mod
	cd tools && $(GO) build -o ../$(TOOLBIN)/ github.com/yannh/kubeconform/cmd/kubeconform

# kubeconform would fetch its schemas from GitHub; they are made here from the
# Kubernetes OpenAPI documents in the k8s.io/kubernetes module instead (the Go
# module proxy, no other download), so this runs offline once the module is
# cached. -strict: no field the API does not know, no duplicate key.
.PHONY: check-deploy
check-deploy: $(DEPLOY_TOOLS) ## Render deploy/ (base and overlays) with kustomize and validate it with kubeconform -strict, offline.
	cd tools && $(GO) run ./kubeschema -out ../$(KUBESCHEMAS)
	@for k in deploy/base deploy/overlays/*/; do \
		echo "== kustomize build $$k | kubeconform -strict"; \
		$(TOOLBIN)/kustomize build $$k | $(TOOLBIN)/kubeconform -strict -summary \
			-schema-location '$(KUBESCHEMAS)/{{ .ResourceKind }}{{ .KindSuffix }}.json' -; \
	done

.PHONY: test-crash
test-crash: ## Crash test: SIGKILL goodwilld under 16 writers, 10 cycles per store (GOODWILL_CRASH_* enlarge it).
	$(GO) test -tags crash -count=1 -timeout 60m -v -run 'TestCrash$$' ./server/cmd/goodwilld/

.PHONY: test-crash-replicas
test-crash-replicas: ## The crash test against two replicas on one PostgreSQL, killed in turn; writers fail over to the other.
	$(GO) test -tags crash -count=1 -timeout 60m -v -run 'TestCrashReplicas$$' ./server/cmd/goodwilld/

.PHONY: test-race
test-race: ## Run every test under the race detector.
	$(GO) test -count=1 -race ./...

# Fuzz targets as package:FuzzName; `make fuzz` runs each for FUZZTIME (a
# duration, or a count such as 20000x: CI uses a count, since Go 1.26 can fail
# a duration run at its own deadline, golang/go#75804). Their seed corpora
# (testdata/fuzz/<FuzzName>/) also run in every `go test`.
FUZZTIME ?= 10s
FUZZ_TARGETS := ./server/ledger:FuzzEventFingerprint \
	./server/auth:FuzzParseToken \
	./server/api:FuzzValidateRequests \
	./server/app:FuzzRESTDecoding

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME (default 10s) each.
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== fuzz $$name ($$pkg) for $(FUZZTIME)"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	done

.PHONY: bench
bench: ## Quick benchmark (a few minutes): SQLite and PostgreSQL, writes docs/bench/latest.json.
	$(GO) run ./server/cmd/goodwillbench -out docs/bench/latest.json

.PHONY: bench-full
bench-full: ## Full benchmark: 1M customers and 10M events for the read scenarios (long).
	$(GO) run ./server/cmd/goodwillbench -full -out docs/bench/full.json

.PHONY: test-tools
test-tools: node-tools ## Build grpcurl (pinned in tools/go.mod) into .bin/ for the README's examples.
	cd tools && $(GO) build -o ../$(TOOLBIN)/ github.com/fullstorydev/grpcurl/cmd/grpcurl

# Third-party clients the tests drive (Spectral, a Node.js gRPC client),
# pinned in tools/node/package-lock.json. Without npm the tests that need
# them skip, saying so.
.PHONY: node-tools
node-tools: ## Install the Node.js test tools (npm ci in tools/node) when npm is here.
	@if command -v npm >/dev/null 2>&1; then \
		if [ ! -f tools/node/node_modules/.package-lock.json ] || [ tools/node/package-lock.json -nt tools/node/node_modules/.package-lock.json ]; then \
			npm ci --prefix tools/node --no-audit --no-fund --ignore-scripts --loglevel=error; fi; \
	else echo "NOTE: no npm: the Spectral and Node.js client tests will be SKIPPED."; fi

.PHONY: tools
tools: ## Build the pinned code generators from tools/go.mod into .bin/.
	cd tools && $(GO) build -o ../$(TOOLBIN)/ $(TOOLS)

.PHONY: protodeps
protodeps: ## Copy third-party .proto imports from the Go module cache into build/.
	@rm -rf $(PROTODEPS) && mkdir -p $(PROTODEPS)/google/api $(PROTODEPS)/protoc-gen-openapiv2/options $(PROTODEPS)/buf/validate
	@gapis=$$($(GO) mod download -json $(GOOGLEAPIS_MOD) | sed -n 's/^\s*"Dir": "\(.*\)",$$/\1/p'); \
	gw2=$$(cd tools && $(GO) list -m -f '{{.Dir}}' github.com/grpc-ecosystem/grpc-gateway/v2); \
	pv=$$($(GO) mod download -json $(PROTOVALIDATE_MOD) | sed -n 's/^\s*"Dir": "\(.*\)",$$/\1/p'); \
	install -m 644 $$pv/proto/protovalidate/buf/validate/validate.proto $(PROTODEPS)/buf/validate/; \
	install -m 644 $$gapis/third_party/googleapis/google/api/annotations.proto $$gapis/third_party/googleapis/google/api/http.proto $(PROTODEPS)/google/api/; \
	install -m 644 $$gw2/protoc-gen-openapiv2/options/annotations.proto $$gw2/protoc-gen-openapiv2/options/openapiv2.proto $(PROTODEPS)/protoc-gen-openapiv2/options/

.PHONY: generate
generate: tools protodeps ## Regenerate gen/ from proto/ (offline, pinned plugins).
	rm -rf gen
	$(BUF) generate --path proto/goodwill
	cd tools && $(GO) run ./openapitidy ../gen/openapiv2/goodwill.swagger.json
	cp gen/openapiv2/goodwill.swagger.json server/gateway/openapi.json
	$(BUF) build --path proto/goodwill -o gen/goodwill.binpb

.PHONY: check-generate
check-generate: generate ## Fail when gen/ is stale.
	@if [ -n "$$(git status --porcelain -- gen server/gateway/openapi.json)" ]; then \
		git status --porcelain -- gen server/gateway/openapi.json; \
		echo "gen/ is stale: run 'make generate' and commit the result"; exit 1; fi

# The web console: Preact sources under client/web, built by Vite into
# client/web/dist, which is committed (like gen/) so that `make run` and the
# Go build need no Node.js. Its API types come from the OpenAPI document.
WEB := client/web

.PHONY: console
console: ## Build the web console (needs Node.js 20 and npm) into client/web/dist.
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error && npm run build

.PHONY: check-console
check-console: console ## Fail when the committed console build or its API types are stale.
	@if [ -n "$$(git status --porcelain -- $(WEB)/dist $(WEB)/src/gen)" ]; then \
		git status --porcelain -- $(WEB)/dist $(WEB)/src/gen; \
		echo "the console build is stale: run 'make console' and commit the result"; exit 1; fi

.PHONY: screenshots
screenshots: ## Retake the console's screenshots (docs/console/*.png) with headless Chromium.
	GOODWILL_CONSOLE_SCREENSHOTS=$(CURDIR)/docs/console GOODWILL_TEST_BROWSER=required \
		$(GO) test -count=1 -run 'TestConsoleInABrowser$$' ./server/app/

.PHONY: lint
lint: tools protodeps check-deploy ## buf lint, buf format check, gofmt, go vet, staticcheck and the deploy/ manifests.
	$(BUF) lint
	$(BUF) format -d --exit-code proto
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@# Default checks less ST1005: our error strings deliberately start with a
	@# flag or a Go method name ("--db ...", "GetEvent: ...").
	$(TOOLBIN)/staticcheck -checks inherit,-ST1005 ./...
	@# The tools module (image builder, schema maker) is code too.
	cd tools && $(GO) vet ./... && ../$(TOOLBIN)/staticcheck -checks inherit,-ST1005 ./...

.PHONY: breaking
breaking: tools protodeps ## Fail on a WIRE_JSON breaking change of proto/ against the released API.
	@mkdir -p build
	$(BUF) build --path proto/goodwill -o build/api.binpb
	$(BUF) breaking build/api.binpb --against $(API_BASELINE) --config buf.yaml

.PHONY: api-baseline
api-baseline: tools protodeps ## Accept proto/ as the released API (at a release; say why in the commit).
	$(BUF) build --path proto/goodwill -o $(API_BASELINE)

.PHONY: clean
clean: ## Remove build outputs (not data/).
	rm -rf $(BIN) $(TOOLBIN) build
