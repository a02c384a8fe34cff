# Rekomi: the operator (rekomi manager) and the app it deploys (rekomi app),
# one module, one binary.

IMG ?= rekomi:latest
# The namespace `make run` tells the manager it runs in (where Regions may
# keep their admin Secrets).
OPERATOR_NAMESPACE ?= rekomi-system
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)

# Tools are pinned and installed into bin/.
LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_TOOLS_VERSION ?= v0.23.0
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
CRD_REF_DOCS_VERSION ?= v0.3.0
CRD_REF_DOCS ?= $(LOCALBIN)/crd-ref-docs-$(CRD_REF_DOCS_VERSION)

# Control-plane binaries for envtest, built once from the Go module proxy and
# cached outside the work tree (see hack/envtest-assets.sh).
K8S_VERSION ?= 1.37.2
ETCD_VERSION ?= 3.6.16
export K8S_VERSION ETCD_VERSION

GO ?= go
# Long builds say every 20 s how far they are (hack/progress.sh).
PROGRESS := ./hack/progress.sh --go-build
GOTEST_FLAGS ?= -count=1 -timeout=30m
LDFLAGS := -X main.version=$(VERSION)

# Files written by `make generate manifests`; never edited by hand (of README.md,
# only the custom resources' reference between its api-reference markers).
GENERATED := api/v1alpha1/zz_generated.deepcopy.go config/crd/bases config/rbac/role.yaml README.md

# Every recipe runs in one bash with strict error handling.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods (zz_generated.deepcopy.go) from the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: manifests
manifests: controller-gen crd-ref-docs ## Generate CRDs (config/crd/bases), the manager ClusterRole (config/rbac/role.yaml) and README's CRD reference from markers and doc comments.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/..." paths="./controllers/..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	./hack/api-reference.sh $(CRD_REF_DOCS) README.md

.PHONY: fmt
fmt: ## Run go fmt.
	$(GO) fmt ./...

.PHONY: vet
vet: ## Run go vet.
	$(GO) vet ./...

.PHONY: verify
verify: controller-gen crd-ref-docs ## Fail when generated files or go.mod are stale, or code is not gofmt-ed.
	$(GO) mod tidy -diff
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [[ -n "$$unformatted" ]]; then echo "gofmt needed: $$unformatted" >&2; exit 1; fi
	@snapshot="$$(mktemp -d)"; trap 'rm -rf "$$snapshot"' EXIT; \
	cp --parents -r $(GENERATED) "$$snapshot/"; \
	$(MAKE) --no-print-directory generate manifests >/dev/null; \
	stale=0; for f in $(GENERATED); do \
		if ! diff -ru "$$snapshot/$$f" "$$f"; then stale=1; fi; \
	done; \
	if [[ "$$stale" == 1 ]]; then \
		echo "generated files were stale (diff above); they are regenerated now: review and commit them" >&2; exit 1; \
	fi

# The image the tests build, import into their node and deploy: a tag
# other than latest, which the kubelet would always try to pull.
TEST_IMG ?= rekomi.local/rekomi:test
test e2e-cluster: IMG = $(TEST_IMG)
# The newer release the cluster test upgrades to under traffic: this tree
# with one more, additive, migration (migrations/upgradeprobe).
TEST_NEXT_IMG ?= rekomi.local/rekomi:next

.PHONY: test
test: generate manifests vet envtest-assets postgres chromium kubectl redocly images upgrade-image node-assets ## Run every test against a real API server, a real PostgreSQL, a headless Chromium and a containerd running the images, lint the OpenAPI document, then fuzz the webhook paths, the providers' event readers, the signing secret formats, the headers of audited writes, the text helper, trust statement verification and the key ring briefly.
	KUBEBUILDER_ASSETS="$$(./hack/envtest-assets.sh)" REKOMI_NODE_ASSETS="$$(./hack/node-assets.sh)" \
		REKOMI_IMAGES=$(LOCALBIN)/images REKOMI_IMAGE=$(IMG) REKOMI_NEXT_IMAGE=$(TEST_NEXT_IMG) $(GO) test $(GOTEST_FLAGS) ./...
	$(GO) test $(GOTEST_FLAGS) -tags rekomi_upgrade_probe ./migrations/
	FUZZTIME=$(TEST_FUZZTIME) ./hack/fuzz.sh ./app/webhook ./app/server ./app/storable ./app/ledger ./app/trust ./app/keyring ./app/billing ./controllers/webhooksecret

# A count, not a duration: with a duration, Go 1.26's fuzzing coordinator can
# fail a target with a spurious "context deadline exceeded" as the time runs
# out (golang/go#75804).
TEST_FUZZTIME ?= 2000x

.PHONY: e2e
e2e: build envtest-assets postgres kubectl ## Run only the end-to-end test: bin/rekomi dev as its own process, used through kubectl and HTTP, stopped by SIGINT.
	KUBEBUILDER_ASSETS="$$(./hack/envtest-assets.sh)" REKOMI_BIN=$(LOCALBIN)/rekomi \
		$(GO) test $(GOTEST_FLAGS) -run '^TestDevProcess$$' -v ./app/devstack/e2e

.PHONY: e2e-cluster
e2e-cluster: manifests envtest-assets postgres kubectl images upgrade-image node-assets ## Run only the end-to-end test on a one-node cluster: the image in containerd, config/default applied as `make deploy` does, the samples served by real pods, disrupted and upgraded under traffic.
	KUBEBUILDER_ASSETS="$$(./hack/envtest-assets.sh)" REKOMI_NODE_ASSETS="$$(./hack/node-assets.sh)" \
		REKOMI_IMAGES=$(LOCALBIN)/images REKOMI_IMAGE=$(IMG) REKOMI_NEXT_IMAGE=$(TEST_NEXT_IMG) $(GO) test $(GOTEST_FLAGS) -v ./e2e/...

.PHONY: lint-openapi
lint-openapi: redocly ## Lint app/server/openapi.json with Redocly CLI's recommended rules (make test does it in TestOpenAPILint).
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_NOTIFICATIONS=true "$$(./hack/redocly.sh)" lint --config hack/redocly/redocly.yaml app/server/openapi.json

.PHONY: fuzz
fuzz: ## Fuzz every target under app/ for FUZZTIME each (default 10s); failing inputs land in testdata/fuzz/.
	./hack/fuzz.sh

.PHONY: bench
bench: envtest-assets postgres ## Run the Go benchmarks; print "name value unit" and write bench/results.json.
	mkdir -p bench
	KUBEBUILDER_ASSETS="$$(./hack/envtest-assets.sh)" $(GO) test -run='^$$' -bench=. -benchmem -count=1 ./... > bench/raw.txt
	$(GO) run ./hack/benchjson -o bench/results.json < bench/raw.txt

##@ Build

.PHONY: build
build: generate ## Build the rekomi binary into bin/.
	$(PROGRESS) "building bin/rekomi" 2m -- $(GO) build -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/rekomi .

.PHONY: run
run: manifests generate ## Run the operator from your host against the current kubeconfig.
	$(GO) run -ldflags "$(LDFLAGS)" . manager --app-image=$(IMG) --operator-namespace=$(OPERATOR_NAMESPACE)

DEV_FLAGS ?=

# On a fresh machine, the control plane builds while bin/rekomi does: the
# one's downloads and links overlap the other's compiling.
.PHONY: dev
dev: ## Run the whole platform on this machine, no cluster needed (flags of rekomi dev in DEV_FLAGS, e.g. DEV_FLAGS=--demo).
	$(MAKE) --no-print-directory -j3 build envtest-assets postgres
	$(LOCALBIN)/rekomi dev $(DEV_FLAGS)

.PHONY: docker-build
docker-build: ## Build the container image IMG (needs a Docker engine).
	docker build --build-arg VERSION=$(VERSION) -t $(IMG) .

# The pod sandbox image of a node this machine runs, written by `make images`.
PAUSE_IMG ?= rekomi.local/pause:3.10

.PHONY: images
images: generate ## Write the image IMG (as the Dockerfile builds it) and the pod sandbox image PAUSE_IMG as tarballs in bin/images, without a Docker engine (`ctr -n k8s.io images import` reads them).
	CGO_ENABLED=0 $(PROGRESS) "building the image's static bin/image/rekomi" 3m -- $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(LOCALBIN)/image/rekomi .
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(LOCALBIN)/image/pause ./hack/image/pause
	$(GO) run ./hack/image -kind rekomi -binary $(LOCALBIN)/image/rekomi -tag $(IMG) -o $(LOCALBIN)/images/rekomi.tar
	$(GO) run ./hack/image -kind pause -binary $(LOCALBIN)/image/pause -tag $(PAUSE_IMG) -o $(LOCALBIN)/images/pause.tar

.PHONY: upgrade-image
upgrade-image: generate ## Write the image TEST_NEXT_IMG the cluster test upgrades to: this tree built with the tag rekomi_upgrade_probe, which adds one additive migration, as bin/images/rekomi-next.tar.
	CGO_ENABLED=0 $(PROGRESS) "building the upgrade's static bin/image/rekomi-next" 3m -- $(GO) build -trimpath -tags rekomi_upgrade_probe -ldflags "-s -w -X main.version=$(VERSION)-upgrade-probe" -o $(LOCALBIN)/image/rekomi-next .
	$(GO) run ./hack/image -kind rekomi -binary $(LOCALBIN)/image/rekomi-next -tag $(TEST_NEXT_IMG) -o $(LOCALBIN)/images/rekomi-next.tar

##@ Deployment

.PHONY: deploy
deploy: manifests ## Deploy the operator with image IMG to the cluster of the current kubeconfig.
	./hack/render.sh config/default $(IMG) | kubectl apply --server-side -f -

.PHONY: undeploy
undeploy: ## Remove the operator from the cluster of the current kubeconfig (CRDs and their objects too).
	./hack/render.sh config/default $(IMG) | kubectl delete --ignore-not-found -f -

##@ Dependencies

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen into bin/.
$(CONTROLLER_GEN): | $(LOCALBIN)
	tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	GOBIN="$$tmp" $(PROGRESS) "building controller-gen" 40s -- $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION); \
	mv "$$tmp/controller-gen" $(CONTROLLER_GEN)

.PHONY: crd-ref-docs
crd-ref-docs: $(CRD_REF_DOCS) ## Install crd-ref-docs (renders README's CRD reference) into bin/.
$(CRD_REF_DOCS): | $(LOCALBIN)
	tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	GOBIN="$$tmp" $(PROGRESS) "building crd-ref-docs" 30s -- $(GO) install github.com/elastic/crd-ref-docs@$(CRD_REF_DOCS_VERSION); \
	mv "$$tmp/crd-ref-docs" $(CRD_REF_DOCS)

.PHONY: envtest-assets
envtest-assets: ## Build (once) and cache kube-apiserver and etcd for the tests.
	./hack/envtest-assets.sh >/dev/null

.PHONY: node-assets
node-assets: ## Build (once) and cache kubelet, kube-controller-manager, kube-scheduler, kube-proxy and containerd for a one-node cluster; install runc, iptables and the CNI plugins when missing.
	./hack/install-node-packages.sh
	./hack/node-assets.sh >/dev/null

.PHONY: kubectl
kubectl: ## Build (once) and cache a kubectl of the control plane's version when none is on PATH.
	./hack/kubectl.sh >/dev/null

.PHONY: postgres
postgres: ## Install the OS's PostgreSQL server binaries when they are missing.
	./hack/install-postgres.sh

.PHONY: redocly
redocly: ## Install (once) and cache the pinned Redocly CLI, the OpenAPI linter, with the machine's Node.js and npm.
	./hack/redocly.sh >/dev/null

.PHONY: chromium
chromium: ## Install Debian's Chromium when it is missing (the admin pages' browser test drives it).
	./hack/install-chromium.sh
