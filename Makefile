# A thin layer over meson. The two commands a new user needs (README.md):
#   make demo   set up, build, run box A on the namespace testbed, report, tear down
#   make test   set up, build, run every test (unit, crafted-packet, end-to-end)
# Both install what they need (Debian packages, hugepages) idempotently; run as root.

BUILD ?= build
CLANG_BUILD ?= build-clang

.PHONY: all deps build test demo clang clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

test: build
	scripts/test.sh $(BUILD)

demo: build
	scripts/demo.sh $(BUILD)

# The same tree with clang 14 (we fuzz and sanitize with it); compile only.
clang: deps
	[ -f $(CLANG_BUILD)/build.ninja ] || CXX=clang++-14 meson setup $(CLANG_BUILD)
	ninja -C $(CLANG_BUILD)

clean:
	rm -rf $(BUILD) $(CLANG_BUILD)
