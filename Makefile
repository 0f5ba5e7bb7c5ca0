# One-word targets over CMake + Ninja. `make demo` and `make test` work on a fresh Debian 12
# machine: both install what is missing first (scripts/install-deps.sh), then build.
BUILD ?= build
CMAKE_FLAGS ?= -DSKIFF_WERROR=ON
JOBS ?= 2
# ccache hits across clones (CI builds a fresh clone each time): paths are relative to here.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: all deps configure build test test-fast demo bench format clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja: CMakeLists.txt
	@cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS) >/dev/null

configure: deps $(BUILD)/build.ninja

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# Every test: unit, integration, e2e and the Argo conformance corpus.
test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Unit tests only.
test-fast: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

demo: build
	@examples/digits/run-demo.sh $(BUILD)/skiff

bench: build
	@bench/pipelines/run.sh $(BUILD)/skiff
	@bench/server/run.sh $(BUILD)/skiff
	@bench/tuning/run.sh $(BUILD)
	@bench/tuning/overhead.sh $(BUILD)/skiff
	@SKIFF_BINARY=$(BUILD)/skiff bench/serving/run.sh
	@SKIFF_BINARY=$(BUILD)/skiff bench/serving/batching.sh
	@bench/training/run.sh $(BUILD)/skiff
	@bench/metadata/run.sh $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	@rm -rf $(BUILD)
