# The two commands of the README: `make demo` (the main job) and `make test`.
GO      ?= go
LAB_DIR ?= /var/lib/everywhere/lab
BIN     := bin/everywhere

.PHONY: all deps build demo demo-ns test bench lab-down clean

all: build

deps:
	./scripts/install-deps

build:
	$(GO) build -o $(BIN) ./cmd/everywhere

# Builds everywhere, brings the local six-architecture lab of virtual
# machines up (each its own kernel, Docker and LXD; the first time builds
# and boots them, later times restore them in seconds) and runs the
# built-in plan on it, side by side.
demo: deps build
	./$(BIN) lab up --machines vm --dir $(LAB_DIR)
	./$(BIN) run -i $(LAB_DIR)/inventory.yaml -o out/demo

# The quick look: the lab of network namespaces (this machine's kernel,
# foreign code under qemu-user). It replaces a lab of machines in the same
# folder (whose saved machines stay for the next demo).
demo-ns: deps build
	./$(BIN) lab up --machines ns --dir $(LAB_DIR)
	./$(BIN) run -i $(LAB_DIR)/inventory.yaml -o out/demo-ns

# vet, gofmt and every test, the lab's integration tests included (root).
test: deps
	$(GO) vet ./...
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) test -race -count=1 -timeout 80m ./...

# everywhere against pssh, pdsh, Ansible and a bare Go fan-out, on loopback;
# writes bench/RESULTS.md and bench/RESULTS.json.
bench:
	./scripts/install-deps bench
	$(GO) run ./bench -n 10,50,200 -sim 1000,5000 -runs 3 -o bench/RESULTS.md

lab-down: build
	./$(BIN) lab down --dir $(LAB_DIR)

clean:
	rm -rf bin out
