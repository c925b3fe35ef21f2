# The two commands of the README: `make demo` (the main job) and `make test`.
GO      ?= go
LAB_DIR ?= /var/lib/everywhere/lab
BIN     := bin/everywhere

.PHONY: all deps build demo test bench lab-down clean docs man dist image

all: build

deps:
	./scripts/install-deps

build:
	$(GO) build -o $(BIN) ./cmd/everywhere

# Builds everywhere, brings the local six-architecture lab up (rootfs cached
# after the first time) and runs the built-in plan on it, side by side.
demo: deps build
	./$(BIN) lab up --dir $(LAB_DIR)
	./$(BIN) run -i $(LAB_DIR)/inventory.yaml -o out/demo

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

# The reference generated from the code (docs/reference: CLI pages, step
# kinds, inventory blocks, exit codes, result.schema.json; docs/man): run it
# after changing a command, a flag, a step kind or the result. A test fails
# while the committed files differ from what the code generates.
docs:
	$(GO) test ./cmd/everywhere -run '^TestReferenceIsCurrent$$' -count=1 -update-reference

# The man pages are part of the reference: `man -l docs/man/everywhere-run.1`.
man: docs

lab-down: build
	./$(BIN) lab down --dir $(LAB_DIR)

clean:
	rm -rf bin out
