# moat: the two commands a new machine needs are `make demo` and `make test`.
BUILD    ?= build
GENERATOR = $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")
CMAKE_FLAGS ?=

.PHONY: all deps configure build test test-local test-lab demo bench loc asan fuzz fuzz-build fuzz-smoke clean

all: build

deps:
	@scripts/install-deps

configure: deps
	@cmake -S . -B $(BUILD) -G "$(GENERATOR)" $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD)

# The whole suite: unit tests, the KVM tests (freestanding guests on this host's /dev/kvm when a
# VM runs there, else in the test lab; Linux guests in the lab), then a short run of every
# libFuzzer target (built with clang in $(BUILD)-fuzz). First, where the KVM tests run.
test: build
	@tests/kvm/kvm-run --build $(BUILD) --lane
	cd $(BUILD) && ctest --output-on-failure
	@$(MAKE) --no-print-directory fuzz-smoke

FUZZ_BUILD = $(BUILD)-fuzz
fuzz-build: deps
	@cmake -S . -B $(FUZZ_BUILD) -G "$(GENERATOR)" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	  -DMOAT_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) --target fuzzers

fuzz-smoke: fuzz-build
	cd $(FUZZ_BUILD) && ctest --output-on-failure -L fuzz

# A campaign (fuzz/campaign): FUZZ_SECONDS of CPU time per target on one core (default 1800, the campaign of
# docs/fuzzing.md), FUZZ_TARGETS to choose (default all), FUZZ_UPDATE=1 to replace the committed
# seeds with the minimised corpus. Results in $(FUZZ_BUILD)/campaign/results.jsonl.
FUZZ_SECONDS ?= 1800
fuzz: fuzz-build
	@fuzz/campaign --build $(FUZZ_BUILD) --seconds $(FUZZ_SECONDS) $(if $(FUZZ_UPDATE),--update) $(FUZZ_TARGETS)

test-local: build
	@tests/kvm/kvm-run --build $(BUILD) --lane
	cd $(BUILD) && ctest --output-on-failure -LE lab

test-lab: build
	cd $(BUILD) && ctest --output-on-failure -L lab

# Builds moat and the default guest, then boots it (in the test lab where the host's KVM
# cannot boot Linux).
demo: build
	@scripts/demo $(BUILD)

# Benchmarks against QEMU microvm (see bench/README.md): bench/run makes a release build in
# build-release and runs them. RUNS=N changes the number of runs per figure (default 10);
# BENCH_FLAGS=--no-storm skips the launch storm.
# The series reports how long it took, installing packages included (BENCH_STARTED).
bench:
	@started=$$(date +%s); scripts/install-deps bench && \
	  BENCH_STARTED=$$started bench/run --build build-release $(if $(RUNS),--runs $(RUNS)) $(BENCH_FLAGS)

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer (in build-asan):
# unit tests, the KVM tests and the hostile guests, every program under both sanitizers. Not
# repeated: the fuzz smokes (libFuzzer targets run with ASan anyway) and what runs none of
# moat's code (ctest label `unsanitized`: the spin models, the tree checks, the lab's self-test).
asan:
	@$(MAKE) --no-print-directory build BUILD=build-asan CMAKE_FLAGS="-DMOAT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug"
	@tests/kvm/kvm-run --build build-asan --lane
	cd build-asan && ctest --output-on-failure -LE unsanitized

# Lines of code by folder, and the trusted base: what bin/moat-monitor is built from.
loc: build
	@BUILD=$(BUILD) scripts/loc

clean:
	rm -rf $(BUILD) $(BUILD)-fuzz build-asan build-release
