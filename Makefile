# rviewer: two commands for a newcomer on a fresh Debian/Ubuntu machine.
#   make run   installs what is missing, builds, starts the daemon on 127.0.0.1:23300
#   make test  installs what is missing, builds, runs the whole test suite
#   make bench installs what is missing, runs the benchmarks against the peers
#              (writes Benchmarks/results/latest.md and detect.md; needs root)
#   make soak  10 minutes of load while a viewer runs (Benchmarks/results/soak.md; needs root)
#   make test-asan / test-tsan  the whole suite under AddressSanitizer / ThreadSanitizer
#   make fuzz  runs each libFuzzer target (one per parser) for FUZZ_SECONDS (default 60)
#   make install  builds and installs for this user (PREFIX, default ~/.local) with a
#              systemd user unit: systemctl --user enable --now rviewer
#   make test-libssh2-next / bench-libssh2-next  the same against the next Debian
#              release's libssh2 (1.11 on Debian 12), downloaded, not installed
SWIFT ?= swift
CONFIG ?= config/rviewer.json
ARGS ?=

PREFIX ?= $(HOME)/.local

.PHONY: install run test test-asan test-tsan fuzz soak bench micro-bench build setup-build setup-test setup-bench clean test-libssh2-next bench-libssh2-next

setup-build:
	@scripts/setup.sh build

setup-test:
	@scripts/setup.sh test

setup-bench:
	@scripts/setup.sh bench

build: setup-build
	$(SWIFT) build -c release --product rviewer

install: build
	scripts/install.sh .build/release/rviewer $(PREFIX)

run: build
	$(SWIFT) run -c release --skip-build rviewer serve --config $(CONFIG) $(ARGS)

test: setup-test
	$(SWIFT) build --build-tests
	SWIFT=$(SWIFT) scripts/run-tests.sh
	SWIFT=$(SWIFT) scripts/fuzz.sh $(FUZZ_SMOKE_SECONDS)

# The whole suite under AddressSanitizer / ThreadSanitizer (own build paths).
test-asan: setup-test
	SWIFT=$(SWIFT) scripts/sanitize.sh address

test-tsan: setup-test
	SWIFT=$(SWIFT) scripts/sanitize.sh thread

# Each libFuzzer target over its seed corpus: briefly in `make test`, longer here.
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_SECONDS ?= 60
fuzz: setup-build
	SWIFT=$(SWIFT) scripts/fuzz.sh $(FUZZ_SECONDS)

bench: setup-bench build
	python3 Benchmarks/harness/bench.py --binary .build/release/rviewer --out Benchmarks/results/latest.md
	Benchmarks/detect_bench.sh | tee Benchmarks/results/detect.md

# Ten minutes of steady load while a viewer runs; fds, RSS, threads, sessions sampled.
SOAK_MINUTES ?= 10
soak: setup-bench build
	python3 Benchmarks/harness/soak.py --binary .build/release/rviewer --minutes $(SOAK_MINUTES) --out Benchmarks/results/soak.md

test-libssh2-next: setup-test
	SWIFT=$(SWIFT) scripts/libssh2-next.sh test

bench-libssh2-next: setup-bench
	SWIFT=$(SWIFT) scripts/libssh2-next.sh bench

micro-bench:
	cd Benchmarks/Micro && $(SWIFT) package benchmark

clean:
	rm -rf .build
