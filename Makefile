# A thin wrapper over Meson: the two commands of the README, and the
# developers' targets.  The build itself is described in meson.build.

BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
SHARED ?= $(abspath $(CURDIR)/../shared)
PYTHON ?= /usr/bin/python3
FUZZ_SECONDS ?= 60
MESON_FLAGS ?= --werror
comma := ,
# What the test programs read: the test assets, made or found by the
# project's scripts (scripts/test-fixtures.sh) and named in this file.
FIXTURES = $(BUILD)/fixtures.env
with_fixtures = set -a && . ./$(FIXTURES) && set +a &&

.PHONY: all build asan-build demo foreign check deps deps-test fixtures unit asan functional toml-conformance fuzz bench clean

all: build

deps:
	scripts/install-deps.sh run

deps-test:
	scripts/install-deps.sh test

# meson's dependency() and find_program() run when a build directory is
# configured, so packages installed after that (make check's cmocka and cross
# compilers, after make demo) would stay unseen.  A build directory is
# configured again whenever dpkg's list of installed packages has changed
# since; meson does not always rewrite build.ninja, hence the touch.
PACKAGES_CHANGED := $(wildcard /var/lib/dpkg/status)

define configure
	if [ -f $(1)/build.ninja ]; then meson setup --reconfigure $(2) $(1); \
	else meson setup $(2) $(1); fi
	touch $(1)/build.ninja
endef

$(BUILD)/build.ninja: $(PACKAGES_CHANGED)
	$(call configure,$(BUILD),$(MESON_FLAGS))

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(ASAN_BUILD)/build.ninja: $(PACKAGES_CHANGED)
	$(call configure,$(ASAN_BUILD),$(MESON_FLAGS) -Db_sanitize=address$(comma)undefined \
		-Db_lundef=false -Dbuildtype=debug)

asan-build: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

# The main job: boot the host's installed kernel on the host's userspace and
# run a command in it, then the bundled example config (with that kernel
# linked in as its ./bzImage).
demo: deps
	$(MAKE) --no-print-directory build
	mkdir -p $(BUILD)/demo
	cp examples/vmtest.toml $(BUILD)/demo/vmtest.toml
	ln -sfn "$$(ls -v /boot/vmlinuz-* | tail -n 1)" $(BUILD)/demo/bzImage
	ln -sfn "$$(scripts/test-image.sh bios)" $(BUILD)/demo/disk.qcow2
	cd $(BUILD)/demo && ../vmtest -- sh -c 'echo "Hello from $$(uname -r), $$(nproc) CPUs"'
	cd $(BUILD)/demo && ../vmtest

# Guest inits for aarch64, s390x and riscv64 too, and the QEMUs that run
# them (docs/foreign-arches.md): after make demo, or on its own.
foreign:
	scripts/install-deps.sh foreign
	$(MAKE) --no-print-directory build

check: deps-test
	$(MAKE) --no-print-directory fixtures
	$(MAKE) --no-print-directory build asan-build
	$(MAKE) --no-print-directory unit asan toml-conformance functional

# Every test asset, built or found before any test runs (the first time on
# a machine this builds the small test kernels, ~16 CPU-minutes each; then
# they come from ~/.cache, in seconds).  Tests only read them.
fixtures:
	mkdir -p $(BUILD)
	scripts/test-fixtures.sh >$(FIXTURES).tmp && mv $(FIXTURES).tmp $(FIXTURES)

unit: build fixtures
	$(with_fixtures) meson test -C $(BUILD) --print-errorlogs

# Unit tests and the fuzz corpora again under AddressSanitizer and UBSan.
asan: asan-build fixtures
	$(with_fixtures) UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(ASAN_BUILD) --print-errorlogs

# The public toml-test suite: ../shared's copy where this machine has one,
# else the older copy Debian ships inside golang-github-burntsushi-toml-dev
# (make deps-test installs it), else a line saying it was not run.
toml-conformance: asan-build
	scripts/toml-conformance.sh $(ASAN_BUILD)/toml-decode $(SHARED)/toml-test

# The end-to-end tests, a worker per CPU (pytest-xdist): most wait on a
# guest, and a guest under TCG keeps one CPU busy.  Then again under ASan,
# only those that together run every line of the host code the whole suite
# runs (tests/functional/asan_subset.txt, chosen by scripts/asan-subset.py
# from a coverage build): the ASan pass looks for vmtest's memory errors.
# pytest's directories are short, so that each test's run directories fit
# where vmtest puts them (a base of at most 72 bytes: socket paths).
TEST_JOBS ?= $(shell nproc)
PYTEST_TMP := /tmp/vt-$(shell printf %s '$(CURDIR)' | cksum | cut -c1-8)
PYTEST = $(PYTHON) -m pytest -q -n $(TEST_JOBS) --basetemp=$(PYTEST_TMP) -p no:cacheprovider \
	--durations=25

functional: build asan-build fixtures
	$(with_fixtures) VMTEST_BINARY=$(CURDIR)/$(BUILD)/vmtest $(PYTEST) tests/functional
	$(with_fixtures) VMTEST_BINARY=$(CURDIR)/$(ASAN_BUILD)/vmtest $(PYTEST) tests/functional \
		-m asan_subset
	rm -rf $(PYTEST_TMP)

# Each fuzz target runs for FUZZ_SECONDS; new inputs land in $(FUZZ_BUILD),
# the corpus in git is only read.
fuzz:
	[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang meson setup -Dfuzzing=true \
		-Db_sanitize=address,undefined -Db_lundef=false $(FUZZ_BUILD)
	ninja -C $(FUZZ_BUILD)
	for f in $(FUZZ_BUILD)/tests/fuzz-*; do \
		[ -f "$$f" ] && [ -x "$$f" ] || continue; \
		name=$${f##*/fuzz-}; mkdir -p $(FUZZ_BUILD)/corpus/$$name; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			$(FUZZ_BUILD)/corpus/$$name tests/fuzz/corpus/$$name || exit 1; \
	done

# Figures, never a verdict: vmtest's boot against QEMU's alone (bench/README.md).
bench: build
	$(PYTHON) bench/boot.py --vmtest $(BUILD)/vmtest
	$(PYTHON) bench/parallel.py --vmtest $(BUILD)/vmtest
	$(PYTHON) bench/files.py --vmtest $(BUILD)/vmtest
	$(PYTHON) bench/results.py --vmtest $(BUILD)/vmtest --parser $(BUILD)/bench-results-parse

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
