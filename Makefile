# kiln: plain make with pkg-config. `make` builds, `make deps` installs what kiln needs,
# `make check` runs every test this machine can run. See HACKING.md.

VERSION    := 0.1.0
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
DESTDIR    ?=
BUILD      ?= build

PKGS       := yaml-0.1 libarchive libcurl libguestfs libcrypto libmicrohttpd json-c libxml-2.0 libseccomp sqlite3
CC         ?= cc
WARN       := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
              -Wno-unused-parameter -Wno-missing-field-initializers
ifneq ($(CI),)
WARN       += -Werror
endif
CFLAGS     ?= -O2 -g
# builder/ is laid out by stage (HACKING.md); every folder but cli/ is the library.
SRC_DIRS   := $(filter-out builder/cli,$(patsubst %/,%,$(wildcard builder/*/))) preseed-gen hypervisors
INCS       := $(foreach d,$(SRC_DIRS) builder/cli,-iquote $(d))
ALL_CFLAGS := -std=gnu17 $(WARN) -D_GNU_SOURCE -DKILN_VERSION='"$(VERSION)"' -MMD -MP $(INCS) \
              $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(CFLAGS) $(EXTRA_CFLAGS)
LIBS       := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

LIB_SRC    := $(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c))
CLI_SRC    := $(wildcard builder/cli/*.c)
LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ    := $(CLI_SRC:%.c=$(BUILD)/%.o)
FUZZ_NAMES := fuzz-profile fuzz-index fuzz-install-log fuzz-proxy-url
FUZZ_BIN   := $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz/%)

.SECONDARY:
.PHONY: format-check analyze shellcheck all deps demo check check-unit check-asan check-net check-e2e check-e2e-api fuzz bench bench-build bench-build-e2e bench-batch install uninstall clean format

TEST_BIN   := $(BUILD)/tests/builder/test-install-log $(BUILD)/tests/builder/test-finish $(BUILD)/tests/builder/test-cache-import $(BUILD)/tests/builder/test-sandbox
# Xen's own config parser, where libxen-dev is installed.
XEN_LIBS   := $(shell pkg-config --libs xlutil xenlight 2>/dev/null)
ifneq ($(XEN_LIBS),)
TEST_BIN   += $(BUILD)/tests/hypervisors/test-xen-config
endif

all: $(BUILD)/kiln $(FUZZ_BIN) $(TEST_BIN)

$(BUILD)/tests/builder/%: $(BUILD)/tests/builder/%.o $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS) $(LDFLAGS)

$(BUILD)/tests/hypervisors/%: $(BUILD)/tests/hypervisors/%.o $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS) $(XEN_LIBS) $(LDFLAGS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/kiln: $(CLI_OBJ) $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS) $(LDFLAGS)

# Fuzz targets, linked with a replay driver: `make check` feeds them their corpus.
$(BUILD)/tests/fuzz/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay.o $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS) $(LDFLAGS)

# Debian packages kiln needs to build and test; idempotent.
DEB_RUN    := qemu-system-x86 qemu-utils gpgv dmsetup kpartx grub-pc-bin
DEB_BUILD  := build-essential pkg-config libyaml-dev libarchive-dev libcurl4-openssl-dev \
              libguestfs-dev libjson-c-dev libmicrohttpd-dev libssl-dev libxml2-dev libseccomp-dev libsqlite3-dev
DEB_TEST   := debconf-utils clang clang-format shellcheck cppcheck python3 gpg gpgv cpio dpkg-dev libarchive-tools man-db \
              qemu-system-x86 qemu-utils busybox-static linux-image-amd64 libxen-dev curl \
              mmdebstrap libguestfs-tools libxml2-utils python3-jsonschema python3-yaml slurm-wlm munge bc chromium \
              supermin binutils xz-utils e2fsprogs
deps:
	@missing=$$(for p in $(DEB_RUN) $(DEB_BUILD) $(DEB_TEST); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "make deps: installing $$missing"; \
	    if [ "$$(id -u)" -ne 0 ]; then echo "make deps: need root to install packages" >&2; exit 1; fi; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else echo "make deps: all packages present"; fi

# The compiler-bound steps run CHECK_JOBS at a time (the CI machine's 2 cores); the suite sets its
# own (KILN_TEST_JOBS, tests/run-tests.sh).
CHECK_JOBS ?= 2
check: deps
	$(MAKE) format-check
	$(MAKE) shellcheck
	$(MAKE) -j$(CHECK_JOBS) analyze
	$(MAKE) -j$(CHECK_JOBS) all
	$(MAKE) check-unit
	$(MAKE) check-asan

check-unit: all
	KILN=$(abspath $(BUILD)/kiln) FUZZ_DIR=$(abspath $(BUILD)/tests/fuzz) tests/run-tests.sh

# The real signed chain against the host's own mirror (needs the network; not part of make check).
check-net: all
	KILN=$(abspath $(BUILD)/kiln) bash tests/net/check-net.sh

# The main job: build profiles/minimal.yaml into build/minimal.qcow2 (KVM where it works, else TCG):
# install, finish, boot-test, manifest. Where the mirror lacks files it stops within seconds at the
# preflight, with the list. DEMO_PROFILE to build another profile.
DEMO_OUT ?= build/minimal.qcow2
DEMO_PROFILE ?= profiles/minimal.yaml
demo: deps
	$(MAKE) all
	@if [ -e $(DEMO_OUT) ]; then echo "make demo: $(DEMO_OUT) exists; remove it to build again"; exit 0; fi; \
	$(BUILD)/kiln build --libvirt-xml -o $(DEMO_OUT) $(DEMO_PROFILE)

# kiln build from real installs under QEMU through the mirror fixture, bootloader guest and host,
# then the same build submitted through kiln serve's API (about 45 minutes each under TCG on an
# idle machine). Both run; it fails when either did.
check-e2e: all
	rc=0; KILN=$(abspath $(BUILD)/kiln) bash tests/e2e/check-e2e.sh || rc=1; \
	KILN=$(abspath $(BUILD)/kiln) bash tests/e2e/check-e2e-api.sh || rc=1; exit $$rc

# The same real install, bootloader host, submitted through kiln serve's API as a portal would.
check-e2e-api: all
	KILN=$(abspath $(BUILD)/kiln) bash tests/e2e/check-e2e-api.sh

# One AddressSanitizer + UBSan pass over the same suite.
check-asan:
	$(MAKE) -j$(CHECK_JOBS) BUILD=build-asan CC=clang \
	    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" all
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 KILN_TEST_QUICK=1 \
	    KILN=$(abspath build-asan/kiln) FUZZ_DIR=$(abspath build-asan/tests/fuzz) tests/run-tests.sh

# libFuzzer, 10 minutes per target (FUZZ_SECONDS to change).
FUZZ_SECONDS ?= 600
fuzz:
	@mkdir -p build-fuzz/tests/fuzz
	for t in $(FUZZ_NAMES); do \
	    clang -std=gnu17 -D_GNU_SOURCE -DKILN_VERSION='"$(VERSION)"' -g -O1 $(INCS) \
	        -fsanitize=fuzzer,address,undefined $$(pkg-config --cflags $(PKGS)) \
	        -o build-fuzz/tests/fuzz/$$t tests/fuzz/$$t.c $(LIB_SRC) $(LIBS) || exit 1; \
	    mkdir -p build-fuzz/corpus-$$t; \
	    build-fuzz/tests/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	        build-fuzz/corpus-$$t tests/fuzz/corpus/$$t || exit 1; \
	done

$(BUILD)/bench/inject: $(BUILD)/bench/inject.o $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS) $(LDFLAGS)

# Benchmarks print numbers side by side; they are not tests.
bench: all $(BUILD)/bench/inject
	KILN=$(abspath $(BUILD)/kiln) bench/inject.sh

# One profile built cold, warm (proxy cache hot) and as bare QEMU + preseed: three full installs.
bench-build: all
	KILN=$(abspath $(BUILD)/kiln) bench/build.sh $(BENCH_PROFILE)

# The same on this machine's mirror, through the fixtures make check-e2e uses (bench/build-e2e.sh).
bench-build-e2e: all
	KILN=$(abspath $(BUILD)/kiln) bash bench/build-e2e.sh

# 1, 2 and 4 builds at once (the fetch stage and result reuse), against the archive fixture.
bench-batch: all
	KILN=$(abspath $(BUILD)/kiln) bench/batch.sh

install: $(BUILD)/kiln
	install -D -m 0755 $(BUILD)/kiln $(DESTDIR)$(BINDIR)/kiln
	install -D -m 0644 builder/cli/kiln.1 $(DESTDIR)$(MANDIR)/man1/kiln.1
	sed 's|/usr/local/bin/kiln|$(BINDIR)/kiln|' contrib/kiln-serve.service > $(BUILD)/kiln-serve.service
	install -D -m 0644 $(BUILD)/kiln-serve.service $(DESTDIR)$(PREFIX)/lib/systemd/system/kiln-serve.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/kiln $(DESTDIR)$(MANDIR)/man1/kiln.1 $(DESTDIR)$(PREFIX)/lib/systemd/system/kiln-serve.service

C_FILES    := $(LIB_SRC) $(CLI_SRC) $(wildcard builder/*/*.h preseed-gen/*.h hypervisors/*.h tests/*/*.c bench/*.c)
format:
	clang-format -i $(C_FILES)

# Gated: the tree is as clang-format (the checked-in .clang-format) writes it.
format-check:
	clang-format --dry-run -Werror $(C_FILES)

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' -type f 2>/dev/null)

# The habits the house style names, gated in .ci/run: shellcheck on every script (warnings and
# errors; style notes are not gated).
SH_SCRIPTS := $(wildcard tests/*.sh tests/*/*.sh bench/*.sh .ci/run)
shellcheck:
	shellcheck -S warning $(SH_SCRIPTS)

# Static analysis, gated: gcc's analyzer on every C file (its warnings are errors), and cppcheck.
# One target per file, so that `make -j` analyzes them side by side (check runs it with
# -j$(CHECK_JOBS)); they write nothing, so they always run.
# cppcheck cannot parse GNU statement expressions (TAKE_PTR): internalAstError is suppressed.
ANALYZE_T  := $(addprefix analyze/,$(LIB_SRC) $(CLI_SRC))
.PHONY: $(ANALYZE_T) analyze-gcc analyze-cppcheck
analyze: analyze-gcc analyze-cppcheck
analyze-gcc: $(ANALYZE_T)
	@echo "gcc -fanalyzer: no findings"
$(ANALYZE_T): analyze/%:
	@$(CC) -std=gnu17 -D_GNU_SOURCE -DKILN_VERSION='"$(VERSION)"' -fanalyzer -Werror $(INCS) \
	    $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -c -o /dev/null $*
analyze-cppcheck:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --std=c11 -D_GNU_SOURCE \
	    --inline-suppr --suppress=internalAstError builder hypervisors preseed-gen
