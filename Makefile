SHELL := /bin/bash
# zws — plain Makefile. Sources are found by glob, so adding a module needs no edit here.
#   make            build/libzws.a (the dependency-free core) and the tools
#   make TLS=1 DEFLATE=1 REDIS=1   the same with optional parts, in build/<parts>/
#   make test       installs what tests need (make deps), builds the core and the build
#                   with every part, runs every test (release + ASan/UBSan) and ends
#                   with "N passed, M failed"
#   make deps       installs the Debian and npm packages the tests need (root)
#   make bench      micro-benchmarks (pinned to core 1 when taskset exists)
#   make fuzz       every libFuzzer target for FUZZ_SECONDS each
#   make run        the demo
#   make install PREFIX=/usr/local

CXX      ?= g++
FUZZ_CXX ?= clang++
PREFIX   ?= /usr/local
FUZZ_SECONDS ?= 30
VERSION  := 0.2.0
NPROC    := $(shell nproc 2>/dev/null || echo 2)

# Optional parts, each off by default: the core links nothing but libc and libstdc++.
#   TLS=1      wss:// and TLS listeners (OpenSSL 3: libssl-dev)
#   DEFLATE=1  permessage-deflate (zlib: zlib1g-dev)
#   REDIS=1    the Redis bridge for topics (hiredis: libhiredis-dev)
# A part's sources end in .<part>.cpp and are compiled only with it on; the stand-ins that
# fail its calls with "zws was built without <part>" end in .no-<part>.cpp. Each set of
# parts builds in its own folder, so the core build/ and build/tls-deflate-redis/ coexist.
TLS     ?= 0
DEFLATE ?= 0
REDIS   ?= 0
PARTS_ALL := tls deflate redis
PARTS := $(strip $(if $(filter 1,$(TLS)),tls) $(if $(filter 1,$(DEFLATE)),deflate) $(if $(filter 1,$(REDIS)),redis))
PARTS_OFF := $(filter-out $(PARTS),$(PARTS_ALL))
PART_LIBS := $(strip $(if $(filter tls,$(PARTS)),-lssl -lcrypto) $(if $(filter deflate,$(PARTS)),-lz) $(if $(filter redis,$(PARTS)),-lhiredis))
empty :=
space := $(empty) $(empty)
# keep(files): a file of a part that is on, a stand-in of a part that is off, or a core file.
part_of = $(lastword $(subst ., ,$(basename $1)))
keep = $(foreach f,$1,$(if $(filter $(PARTS_ALL),$(call part_of,$f)),$(if $(filter $(call part_of,$f),$(PARTS)),$f),$(if $(filter $(addprefix no-,$(PARTS_ALL)),$(call part_of,$f)),$(if $(filter $(call part_of,$f),$(addprefix no-,$(PARTS_OFF))),$f),$f)))

CXXFLAGS_BASE := -std=c++20 -g -Wall -Wextra -Werror -Iinclude -Ilib -MMD -MP
CXXFLAGS ?= -O2
ASAN_FLAGS := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_FLAGS := -O1 -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer

# One file per instruction set, each with its own -m flags (STYLE.md rule 5).
isa_flags = $(strip \
  $(if $(findstring /simd/sse2.,$1),-msse2) \
  $(if $(findstring /simd/avx2.,$1),-mavx2 -mbmi -mbmi2 -mlzcnt -mpopcnt) \
  $(if $(findstring /simd/avx512.,$1),-mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mbmi -mbmi2 -mlzcnt -mpopcnt) \
  $(if $(findstring /simd/sha_ni.,$1),-msha -msse4.1 -mssse3))

LIB_SRC   := $(call keep,$(sort $(wildcard lib/*/*.cpp lib/*/simd/*.cpp)))
UNIT_SRC  := $(call keep,$(sort $(wildcard test/unit/*.cpp)))
INTEG_SRC := $(call keep,$(sort $(wildcard test/integration/*.cpp)))
BENCH_SRC := $(call keep,$(sort $(wildcard bench/*_bench.cpp bench/*_bench.*.cpp)))
FUZZ_SRC  := $(call keep,$(sort $(wildcard test/fuzz/*_fuzz*.cpp)))
TOOL_SRC  := $(sort $(wildcard tools/*.cpp))

B  := build$(if $(PARTS),/$(subst $(space),-,$(PARTS)))
BA := $(B)/asan
BF := $(B)/fuzz
# The build make test checks everything with: every part on.
FULL_MAKE := $(MAKE) --no-print-directory TLS=1 DEFLATE=1 REDIS=1
FULL_B    := build/tls-deflate-redis

obj = $(patsubst %.cpp,$2/obj/%.o,$1)

LIB      := $(B)/libzws.a
LIB_ASAN := $(BA)/libzws.a
TOOLS    := $(patsubst tools/%.cpp,$(B)/%,$(TOOL_SRC))
FUZZERS  := $(foreach f,$(FUZZ_SRC),$(BF)/$(firstword $(subst ., ,$(notdir $f))))

TEST_BINS := $(if $(UNIT_SRC),$(B)/unit_tests $(BA)/unit_tests) \
             $(if $(INTEG_SRC),$(B)/integration_tests $(BA)/integration_tests)

GTEST_LIBS := -lgtest -lgtest_main -pthread
BENCH_LIBS := -lbenchmark -lbenchmark_main -pthread

.PHONY: all test test-build test-core deps bench bench-e2e fuzz run install clean tools tidy
.DEFAULT_GOAL := all
# The tools' objects are kept, so a second make with nothing changed does nothing.
.SECONDARY:

all: $(LIB) $(TOOLS)
tools: $(TOOLS)

# --- objects -----------------------------------------------------------------
$(B)/obj/%.o: %.cpp
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS_BASE) $(CXXFLAGS) $(call isa_flags,$<) -c $< -o $@

$(BA)/obj/%.o: %.cpp
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS_BASE) $(ASAN_FLAGS) $(call isa_flags,$<) -c $< -o $@

$(BF)/obj/%.o: %.cpp
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(CXXFLAGS_BASE) $(FUZZ_FLAGS) $(call isa_flags,$<) -c $< -o $@

# --- the library -------------------------------------------------------------
$(LIB): $(call obj,$(LIB_SRC),$(B))
	@rm -f $@
	ar rcs $@ $^

$(LIB_ASAN): $(call obj,$(LIB_SRC),$(BA))
	@rm -f $@
	ar rcs $@ $^

$(BF)/libzws.a: $(call obj,$(LIB_SRC),$(BF))
	@rm -f $@
	ar rcs $@ $^

# --- tests -------------------------------------------------------------------
$(B)/unit_tests: $(call obj,$(UNIT_SRC),$(B)) $(LIB)
	$(CXX) $(CXXFLAGS) -o $@ $^ $(GTEST_LIBS) $(PART_LIBS)

$(BA)/unit_tests: $(call obj,$(UNIT_SRC),$(BA)) $(LIB_ASAN)
	$(CXX) $(ASAN_FLAGS) -o $@ $^ $(GTEST_LIBS) $(PART_LIBS)

$(B)/integration_tests: $(call obj,$(INTEG_SRC),$(B)) $(LIB)
	$(CXX) $(CXXFLAGS) -o $@ $^ $(GTEST_LIBS) $(PART_LIBS)

$(BA)/integration_tests: $(call obj,$(INTEG_SRC),$(BA)) $(LIB_ASAN)
	$(CXX) $(ASAN_FLAGS) -o $@ $^ $(GTEST_LIBS) $(PART_LIBS)

# The end-to-end yardsticks are compiled here too, so they never rot: tls_echo
# and the zlib benchmark (inside zws_bench) only in a build with their part.
E2E_BINS := $(B)/tcp_echo $(B)/fanout_tcp $(if $(filter tls,$(PARTS)),$(B)/tls_echo) \
            $(if $(filter deflate,$(PARTS)),$(B)/zws_bench)
test-build: $(TEST_BINS) $(TOOLS) $(E2E_BINS)

# The core build's own checks: its unit and integration tests (the parts' stand-ins among
# them) and that libzws.a needs no symbol of OpenSSL, zlib or hiredis.
test-core: $(B)/unit_tests $(B)/integration_tests $(TOOLS)

# make test: set-up first (as root it installs what is missing; anyone else is told the
# one command to run), then the core build and the build with every part.
test:
	@if ! test/deps.sh check >/dev/null; then \
	  if [ "$$(id -u)" -eq 0 ]; then test/deps.sh install || exit 1; \
	  else test/deps.sh check; echo "make test: packages are missing; run 'sudo make deps' once, then make test"; exit 1; fi; \
	fi
	@$(MAKE) --no-print-directory -j$(NPROC) test-core
	@$(FULL_MAKE) -j$(NPROC) test-build
	@ZWS_BUILD=$(FULL_B) ZWS_LIBS="-lssl -lcrypto -lz -lhiredis" test/run_tests.sh test/layering.sh test/core_link.sh build/unit_tests build/integration_tests \
	  $(FULL_B)/unit_tests $(FULL_B)/asan/unit_tests $(FULL_B)/integration_tests $(FULL_B)/asan/integration_tests \
	  $(wildcard test/interop/run.sh) $(wildcard test/install_check.sh)

deps:
	@test/deps.sh install

# --- tools -------------------------------------------------------------------
$(B)/%: $(B)/obj/tools/%.o $(LIB)
	$(CXX) $(CXXFLAGS) -o $@ $^ -pthread $(PART_LIBS)

# --- benchmarks --------------------------------------------------------------
$(B)/zws_bench: $(call obj,$(BENCH_SRC),$(B)) $(LIB)
	$(CXX) $(CXXFLAGS) -o $@ $^ $(BENCH_LIBS) $(PART_LIBS)

bench:
	@$(MAKE) --no-print-directory -j$(NPROC) $(B)/zws_bench
	@if command -v taskset >/dev/null; then taskset -c 1 $(B)/zws_bench $(BENCH_ARGS); else $(B)/zws_bench $(BENCH_ARGS); fi

# End-to-end: zws-echo against the physical yardsticks (raw TCP echo, raw TLS
# echo, raw TCP fan-out) and Node ws, driven by zws-load. It runs the build with
# every part, so the TLS, deflate and fan-out rows (T, Z, F) can run.
$(B)/tcp_echo: $(B)/obj/bench/tcp_echo.o
	$(CXX) $(CXXFLAGS) -o $@ $^

$(B)/fanout_tcp: $(B)/obj/bench/fanout_tcp.o
	$(CXX) $(CXXFLAGS) -o $@ $^

ifneq ($(filter tls,$(PARTS)),)
$(B)/tls_echo: $(B)/obj/bench/tls_echo.o
	$(CXX) $(CXXFLAGS) -o $@ $^ -lssl -lcrypto
endif

bench-e2e:
	@$(FULL_MAKE) -j$(NPROC) all $(FULL_B)/tcp_echo $(FULL_B)/tls_echo $(FULL_B)/fanout_tcp $(FULL_B)/zws_bench
	@E2E_BUILD=$(FULL_B) bench/e2e.sh

# --- fuzzing -----------------------------------------------------------------
# One target per source: test/fuzz/x_fuzz.cpp, or x_fuzz.<part>.cpp of an optional part.
define fuzz_rule
$(BF)/$(firstword $(subst ., ,$(notdir $1))): $(call obj,$1,$(BF)) $(BF)/libzws.a
	$$(FUZZ_CXX) $$(FUZZ_FLAGS) -o $$@ $$^ $$(PART_LIBS)
endef
$(foreach f,$(FUZZ_SRC),$(eval $(call fuzz_rule,$f)))

fuzz:
	@$(MAKE) --no-print-directory -j$(NPROC) $(FUZZERS)
	@set -e; for f in $(FUZZERS); do \
	  name=$$(basename $$f _fuzz); corpus=$(BF)/corpus/$$name; mkdir -p $$corpus; \
	  if [ -d test/fuzz/corpus/$$name ]; then cp -n test/fuzz/corpus/$$name/* $$corpus/ 2>/dev/null || true; fi; \
	  echo "== fuzz $$name for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	      -artifact_prefix=$(BF)/ $$corpus 2>&1 | tail -n 12; \
	  test $${PIPESTATUS[0]} -eq 0 || { echo "fuzz $$name FAILED"; exit 1; }; \
	done; echo "fuzz: all targets clean"

# --- demo --------------------------------------------------------------------
run: all
	@if [ -x $(B)/zws-chat ]; then $(B)/zws-chat; else $(MAKE) --no-print-directory bench; fi

# --- static analysis ---------------------------------------------------------
tidy:
	clang-tidy --quiet $(LIB_SRC) -- $(filter-out -MMD -MP,$(CXXFLAGS_BASE)) -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mbmi -mbmi2 -msha -msse4.1

# --- install -----------------------------------------------------------------
# Headers, the archive of this build (with the parts it was built with), zws.pc and a
# CMake package (find_package(zws) -> zws::zws), whose flags name the parts' libraries.
PC_LIBS    := -L$${libdir} -lzws -pthread $(PART_LIBS)
CMAKE_LIBS := $(subst $(space),;,$(strip Threads::Threads $(patsubst -l%,%,$(PART_LIBS))))
install: $(LIB)
	install -d $(DESTDIR)$(PREFIX)/include/zws $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/lib/cmake/zws
	install -m 644 include/zws/*.hpp $(DESTDIR)$(PREFIX)/include/zws/
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	printf '%s\n' 'prefix=$(PREFIX)' 'includedir=$${prefix}/include' 'libdir=$${prefix}/lib' '' \
	  'Name: zws' 'Description: WebSocket library (RFC 6455) for Linux$(if $(PARTS), with $(PARTS))' 'Version: $(VERSION)' \
	  'Cflags: -I$${includedir} -std=c++20 -pthread' 'Libs: $(PC_LIBS)' > $(DESTDIR)$(PREFIX)/lib/pkgconfig/zws.pc
	sed -e 's|@LIBS@|$(CMAKE_LIBS)|' -e 's|@PARTS@|$(PARTS)|' cmake/zwsConfig.cmake.in > $(DESTDIR)$(PREFIX)/lib/cmake/zws/zwsConfig.cmake
	sed -e 's|@VERSION@|$(VERSION)|' cmake/zwsConfigVersion.cmake.in > $(DESTDIR)$(PREFIX)/lib/cmake/zws/zwsConfigVersion.cmake

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
