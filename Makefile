SHELL := /bin/bash
# zws — plain Makefile. Sources are found by glob, so adding a module needs no edit here.
#   make            build/libzws.a and the tools
#   make test       every test (release + ASan/UBSan), ends with "N passed, M failed"
#   make bench      micro-benchmarks (pinned to core 1 when taskset exists)
#   make fuzz       every libFuzzer target for FUZZ_SECONDS each
#   make run        the demo
#   make install PREFIX=/usr/local

CXX      ?= g++
FUZZ_CXX ?= clang++
PREFIX   ?= /usr/local
FUZZ_SECONDS ?= 30
NPROC    := $(shell nproc 2>/dev/null || echo 2)

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

LIB_SRC   := $(sort $(wildcard lib/*/*.cpp lib/*/simd/*.cpp))
UNIT_SRC  := $(sort $(wildcard test/unit/*.cpp))
INTEG_SRC := $(sort $(wildcard test/integration/*.cpp))
BENCH_SRC := $(sort $(wildcard bench/*_bench.cpp))
FUZZ_SRC  := $(sort $(wildcard test/fuzz/*_fuzz.cpp))
TOOL_SRC  := $(sort $(wildcard tools/*.cpp))

B  := build
BA := build/asan
BF := build/fuzz

obj = $(patsubst %.cpp,$2/obj/%.o,$1)

LIB      := $(B)/libzws.a
LIB_ASAN := $(BA)/libzws.a
TOOLS    := $(patsubst tools/%.cpp,$(B)/%,$(TOOL_SRC))
FUZZERS  := $(patsubst test/fuzz/%_fuzz.cpp,$(BF)/%_fuzz,$(FUZZ_SRC))

TEST_BINS := $(if $(UNIT_SRC),$(B)/unit_tests $(BA)/unit_tests) \
             $(if $(INTEG_SRC),$(B)/integration_tests $(BA)/integration_tests)

GTEST_LIBS := -lgtest -lgtest_main -pthread
BENCH_LIBS := -lbenchmark -lbenchmark_main -pthread

.PHONY: all test test-build bench bench-e2e fuzz run install clean tools tidy
.DEFAULT_GOAL := all

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
	$(CXX) $(CXXFLAGS) -o $@ $^ $(GTEST_LIBS)

$(BA)/unit_tests: $(call obj,$(UNIT_SRC),$(BA)) $(LIB_ASAN)
	$(CXX) $(ASAN_FLAGS) -o $@ $^ $(GTEST_LIBS)

$(B)/integration_tests: $(call obj,$(INTEG_SRC),$(B)) $(LIB)
	$(CXX) $(CXXFLAGS) -o $@ $^ $(GTEST_LIBS)

$(BA)/integration_tests: $(call obj,$(INTEG_SRC),$(BA)) $(LIB_ASAN)
	$(CXX) $(ASAN_FLAGS) -o $@ $^ $(GTEST_LIBS)

test-build: $(TEST_BINS) $(TOOLS) $(B)/tcp_echo

test:
	@$(MAKE) --no-print-directory -j$(NPROC) test-build
	@test/run_tests.sh test/layering.sh $(TEST_BINS) $(wildcard test/interop/run.sh)

# --- tools -------------------------------------------------------------------
$(B)/%: $(B)/obj/tools/%.o $(LIB)
	$(CXX) $(CXXFLAGS) -o $@ $^ -pthread

# --- benchmarks --------------------------------------------------------------
$(B)/zws_bench: $(call obj,$(BENCH_SRC),$(B)) $(LIB)
	$(CXX) $(CXXFLAGS) -o $@ $^ $(BENCH_LIBS)

bench:
	@$(MAKE) --no-print-directory -j$(NPROC) $(B)/zws_bench
	@if command -v taskset >/dev/null; then taskset -c 1 $(B)/zws_bench $(BENCH_ARGS); else $(B)/zws_bench $(BENCH_ARGS); fi

# End-to-end: zws-echo, a raw TCP echo (the physical yardstick) and Node ws, driven by zws-load.
$(B)/tcp_echo: $(B)/obj/bench/tcp_echo.o
	$(CXX) $(CXXFLAGS) -o $@ $^

bench-e2e:
	@$(MAKE) --no-print-directory -j$(NPROC) all $(B)/tcp_echo
	@bench/e2e.sh

# --- fuzzing -----------------------------------------------------------------
$(BF)/%_fuzz: $(BF)/obj/test/fuzz/%_fuzz.o $(BF)/libzws.a
	$(FUZZ_CXX) $(FUZZ_FLAGS) -o $@ $^

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
install: $(LIB)
	install -d $(DESTDIR)$(PREFIX)/include/zws $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/zws/*.hpp $(DESTDIR)$(PREFIX)/include/zws/
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	printf '%s\n' 'prefix=$(PREFIX)' 'includedir=$${prefix}/include' 'libdir=$${prefix}/lib' '' \
	  'Name: zws' 'Description: zero-dependency WebSocket library (RFC 6455) for Linux' 'Version: 0.1.0' \
	  'Cflags: -I$${includedir} -std=c++20' 'Libs: -L$${libdir} -lzws -pthread' > $(DESTDIR)$(PREFIX)/lib/pkgconfig/zws.pc

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
