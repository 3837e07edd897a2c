# A thin layer over meson. The two commands a new user needs (README.md):
#   make demo   set up, build, run box A on the namespace testbed, report, tear down
#   make test   set up, build, run every test (unit, crafted-packet, end-to-end)
# Both install what they need (Debian packages, hugepages) idempotently; run as root.

BUILD ?= build
CLANG_BUILD ?= build-clang
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 20
FUZZ_TEST_SECONDS ?= 15

.PHONY: all deps build test demo clang fuzz fuzz-build clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Includes a bounded fuzz run: every libFuzzer target FUZZ_TEST_SECONDS (0: skip).
test: build fuzz-build
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_TEST_SECONDS=$(FUZZ_TEST_SECONDS) scripts/test.sh $(BUILD)

demo: build
	scripts/demo.sh $(BUILD)

# The same tree with clang 14 (we fuzz and sanitize with it); compile only.
clang: deps
	[ -f $(CLANG_BUILD)/build.ninja ] || CXX=clang++-14 meson setup $(CLANG_BUILD)
	ninja -C $(CLANG_BUILD)

# libFuzzer targets (tests/fuzz/README.md), each run FUZZ_SECONDS over its seed corpus.
fuzz: fuzz-build
	scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz-build: deps
	[ -f $(FUZZ_BUILD)/build.ninja ] || CXX=clang++-14 meson setup $(FUZZ_BUILD) -Dfuzz=true -Dtests=false
	ninja -C $(FUZZ_BUILD) fuzz

# Benchmarks (bench/run.sh): baton against peers on the namespace testbed. Not part of test.
.PHONY: bench
bench: build
	bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(CLANG_BUILD) $(FUZZ_BUILD)
