# dmaheap: the two commands of README.md, plus bench and oracle.
#   make demo   installs what is missing (apt-get), builds, runs the showcase on the default board
#   make test   the same set-up, then every test (unit, sanitizer run, corpus, fuzz, conformance)
#   make deb    the Debian packages of debian/ into $(BUILD)/deb (scripts/build-deb.sh)
#   make fuzz   a fuzzing campaign over every fuzz target (fuzz/campaign.sh, fuzz/README.md):
#               FUZZ_SECONDS per target (default 600), FUZZ_JOBS targets at once (default 1)
#   make hostkernels  the host-kernel matrix alone (tests/hostkernels/run.sh), EXTRA="prog ..."
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)

# Debian 12 packages, each justified in README.md.
PACKAGES := build-essential cmake pkg-config git ca-certificates \
            libfdt-dev device-tree-compiler nlohmann-json3-dev libseccomp-dev libcli11-dev scdoc \
            libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev \
            apt-utils dpkg-dev python3 ccache mount
# The i386 conformance build (32-bit callers of `dmaheap run`); Debian has it on amd64 only.
ifeq ($(shell dpkg --print-architecture 2>/dev/null),amd64)
PACKAGES += gcc-multilib
# The host-kernel matrix (tests/hostkernels/run.sh): Debian amd64 kernels under QEMU.
PACKAGES += qemu-system-x86 cpio xz-utils
endif

.PHONY: all deps build asan test demo bench oracle oracle-shipped deb deb-test fuzz hostkernels clean

all: build

deps:
	@scripts/install-deps.sh $(PACKAGES)

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDMAHEAP_SANITIZE=ON -DDMAHEAP_BENCH=OFF >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)

test: build asan
	@scripts/run-tests.sh $(BUILD) $(ASAN_BUILD)

demo: build
	@scripts/demo.sh $(BUILD)

# Builds only what the benchmarks run (the tests are not needed), then runs them.
BENCH_TARGETS := alloc_bench service_paths_bench run_bench trace_bench cma_placement_bench memory_model_bench \
                 dtcheck_bench dmaheap dmaheapd
bench: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS) --target $(BENCH_TARGETS)
	@scripts/run-bench.sh $(BUILD)

oracle: deps
	@oracle/record.sh

# Debian's arm64 board trees booted on Debian's stock kernels (oracle/README.md, "Shipped trees").
oracle-shipped: deps
	@oracle/record-shipped.sh

# The host-kernel matrix alone (docs/host-kernels.md): Debian's stock amd64 6.1 and 6.12 under
# QEMU with this build's tools; EXTRA="prog ..." adds static programs run under `dmaheap run` in
# each guest. Builds only what the guests run.
HOSTKERNEL_TARGETS := dmaheap dmaheapd dmaheap-static dmaheapd-static dmaheap-conformance \
                      dmaheap-conformance-static dmaheap-conformance-lib
hostkernels: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS) --target $(HOSTKERNEL_TARGETS)
	@tests/hostkernels/run.sh $(BUILD) $(if $(EXTRA),-- $(EXTRA))

# Installs its own build dependencies (debhelper, lintian and debian/control's Build-Depends).
deb:
	@scripts/build-deb.sh $(BUILD)/deb

# The packages installed into a fresh Debian 12 root and used there (builds them when stale).
deb-test:
	@tests/deb-install.sh $(BUILD)

FUZZ_SECONDS ?= 600
FUZZ_JOBS    ?= 1
fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) fuzz/campaign.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
