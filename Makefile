# moat: the two commands a new machine needs are `make demo` and `make test`.
BUILD    ?= build
GENERATOR = $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")
CMAKE_FLAGS ?=

.PHONY: all deps configure build test test-local test-lab demo guest loc asan clean

all: build

deps:
	@scripts/install-deps

configure: deps
	@cmake -S . -B $(BUILD) -G "$(GENERATOR)" $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD)

# The whole suite: unit tests, local-KVM tests and the lab tests.
test: build
	cd $(BUILD) && ctest --output-on-failure

test-local: build
	cd $(BUILD) && ctest --output-on-failure -LE lab

test-lab: build
	cd $(BUILD) && ctest --output-on-failure -L lab

# Builds moat and the default guest, then boots it (in the test lab where the host's KVM
# cannot boot Linux).
demo: build
	@scripts/demo $(BUILD)

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer.
asan:
	@$(MAKE) --no-print-directory test BUILD=build-asan CMAKE_FLAGS="-DMOAT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug"

loc: deps
	@scripts/loc

clean:
	rm -rf $(BUILD) build-asan
