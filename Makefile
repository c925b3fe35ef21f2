# The two commands of the README: `make demo` (the main job) and `make test`.
GO      ?= go
LAB_DIR ?= /var/lib/everywhere/lab
BIN     := bin/everywhere

# Release builds (make dist): static binaries, stamped with what they are.
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo +dirty)
DATE      ?= $(shell git log -1 --format=%cI 2>/dev/null)
DIST      ?= dist
# NAME:GOARCH:GOARM, one for each architecture of the lab.
PLATFORMS ?= armv7:arm:7 arm64:arm64: 386:386: amd64:amd64: ppc64le:ppc64le: s390x:s390x:
STAMP     := -X main.buildVersion=$(VERSION) -X main.buildCommit=$(COMMIT) -X main.buildDate=$(DATE)
LDFLAGS   := -s -w $(STAMP)

.PHONY: all deps build demo demo-ns test test-machines fuzz bench lab-down clean docs man dist image screenshot

all: build

deps:
	./scripts/install-deps

build:
	$(GO) build -ldflags '$(STAMP)' -o $(BIN) ./cmd/everywhere

# Builds everywhere, brings the local lab of six full-system machines up
# (armhf, arm64, i386, amd64, ppc64el, s390x under QEMU, each with its own
# kernel, Docker and LXD) and runs the built-in plan on it, ending with a
# pane per host. The first time builds and boots them (long: lab up prints
# its estimate first); later times restore them from snapshots.
demo: deps build
	./$(BIN) lab up --machines vm --dir $(LAB_DIR)
	./$(BIN) run -i $(LAB_DIR)/inventory.yaml -o out/demo --layout panes

# The quick look: six network namespaces sharing this machine's kernel and
# Docker engine, foreign userland under qemu-user. It replaces the machines
# in the same folder.
demo-ns: deps build
	./$(BIN) lab up --machines ns --dir $(LAB_DIR)
	./$(BIN) run -i $(LAB_DIR)/inventory.yaml -o out/demo-ns --layout panes

# vet, gofmt and every test, the lab's integration tests included (root).
test: deps
	$(GO) vet ./...
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) test -race -count=1 -timeout 80m ./...

# make test covers the lab of machines with what takes seconds (QEMU on its
# tap, a guest that never comes up reported with its console, lab down by
# pid, each architecture's QEMU line); this boots one machine (amd64) cold,
# saves and restores it and runs the default plan on it: ~15 min more.
test-machines: deps
	EVERYWHERE_TEST_MACHINES=1 $(GO) test -count=1 -timeout 60m -run 'TestMachine' -v ./internal/lab/vmlab

# Every reader of a file a user hands everywhere, fuzzed FUZZTIME each
# (make test runs their seed corpora); what is found joins testdata/fuzz.
FUZZTIME ?= 1m
FUZZ     := ./internal/inventory:FuzzParseInventory ./internal/inventory:FuzzAnsibleINI ./internal/inventory:FuzzAnsibleYAML \
	./internal/inventory:FuzzAnsibleGroupVars ./internal/sshconfig:FuzzConfig ./internal/sshconn:FuzzKnownHosts \
	./internal/plan:FuzzParse ./internal/report:FuzzReadAndRender
fuzz:
	set -e; for t in $(FUZZ); do $(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}"; done

# everywhere against pssh, pdsh, Ansible and a bare Go fan-out, on loopback;
# writes bench/RESULTS.md and bench/RESULTS.json.
bench:
	./scripts/install-deps bench
	$(GO) run ./bench -n 10,50,200 -sim 1000,5000 -runs 3 -o bench/RESULTS.md

# The reference generated from the code (docs/reference: CLI pages, step
# kinds, inventory blocks, exit codes, result.schema.json; docs/man): run it
# after changing a command, a flag, a step kind or the result. A test fails
# while the committed files differ from what the code generates.
docs:
	$(GO) test ./cmd/everywhere -run '^TestReferenceIsCurrent$$' -count=1 -update-reference

# dist/everywhere-linux-{armv7,arm64,386,amd64,ppc64le,s390x} and
# dist/SHA256SUMS: static (CGO_ENABLED=0), -trimpath, so one commit
# builds the same bytes anywhere. VERSION=v1.0.0 names a release.
dist:
	rm -rf $(DIST) && mkdir -p $(DIST)
	set -e; for p in $(PLATFORMS); do \
		name=$${p%%:*}; rest=$${p#*:}; arch=$${rest%%:*}; arm=$${rest#*:}; \
		echo "everywhere-linux-$$name"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch GOARM=$$arm nice -n 10 $(GO) build -trimpath \
			-ldflags '$(LDFLAGS)' -o $(DIST)/everywhere-linux-$$name ./cmd/everywhere; \
	done
	cd $(DIST) && sha256sum everywhere-linux-* > SHA256SUMS

# dist/image: an OCI layout, one image per architecture of dist/ (everywhere
# and a static shell, no base image) under one image index named
# everywhere:VERSION; dist/image-amd64.tar is the amd64 one for docker load.
image: dist
	nice -n 10 $(GO) run ./examples/image -dist $(DIST) -o $(DIST)/image -ref everywhere:$(VERSION) -created $(DATE) -docker amd64

# The man pages are part of the reference: `man -l docs/man/everywhere-run.1`.
man: docs

# docs/panes.png, the README's picture: the panes of a saved run (its
# result.json, or the report.html that embeds it) photographed by headless
# chromium. make screenshot RESULT=out/demo/result.json pictures another.
RESULT ?= docs/examples/machines.json
PANES  ?= docs/panes.png
screenshot:
	$(GO) run ./tools/screenshot -o $(PANES) $(RESULT)

lab-down: build
	./$(BIN) lab down --dir $(LAB_DIR)

clean:
	rm -rf bin out $(DIST)
