# Thin wrapper: every target installs what is missing, configures and builds first.
#   make run    build, then run the demo fleet against the embedded reference platform;
#               MQTT=1: through Debian's mosquitto on a free loopback port (started, then stopped)
#   make test   build with -Werror and run every test; build a headless hubsim (no dashboards) and
#               check that it links neither ncurses nor SDL2; rebuild with ASan+UBSan and run the
#               unit and integration tests again; run every fuzz target (tests/fuzz) for FUZZ_SECONDS each,
#               JOBS at a time (scripts/fuzz.sh)
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
HEADLESS_BUILD ?= build-headless
JOBS       ?= $(shell nproc)
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
ARGS       ?= --speedup 60
MQTT       ?=

.PHONY: all deps build run test test-main test-headless test-asan fuzz format clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHUBSIM_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
ifeq ($(MQTT),1)
	bash scripts/run-mqtt.sh ./$(BUILD)/hubsim $(ARGS)
else
	./$(BUILD)/hubsim run $(ARGS)
endif

test: test-main test-headless test-asan fuzz

test-main: build
	cd $(BUILD) && ctest --output-on-failure -j2 --timeout 600

# The headless build (-DHUBSIM_TUI=OFF -DHUBSIM_GUI=OFF, for servers and containers): only the
# hubsim target, then its dynamic section must name neither ncurses (nor its tinfo) nor SDL2,
# --ui gui must be refused as not built (exit 2), and a virtual-clock demo must pass.
test-headless: deps
	@cmake -S . -B $(HEADLESS_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHUBSIM_WERROR=ON \
	  -DHUBSIM_TUI=OFF -DHUBSIM_GUI=OFF -DHUBSIM_TESTS=OFF >/dev/null
	@cmake --build $(HEADLESS_BUILD) -j$(JOBS) --target hubsim
	@if readelf -d $(HEADLESS_BUILD)/hubsim | grep -iE 'NEEDED.*(ncurses|tinfo|SDL2)'; then \
	  echo "test-headless: $(HEADLESS_BUILD)/hubsim links a dashboard library" >&2; exit 1; fi
	@rc=0; ./$(HEADLESS_BUILD)/hubsim run --ui gui -q >/dev/null 2>&1 || rc=$$?; \
	  if [ $$rc -ne 2 ]; then echo "test-headless: --ui gui exited $$rc, not 2" >&2; exit 1; fi
	@./$(HEADLESS_BUILD)/hubsim run demo --clock virtual --ui none -q >/dev/null
	@echo "test-headless: hubsim builds without ncurses and SDL2, refuses --ui gui, runs the demo"

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHUBSIM_SANITIZE=ON -DHUBSIM_WERROR=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j2 -L 'unit|integration' --timeout 900

fuzz: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHUBSIM_FUZZ=ON -DHUBSIM_TESTS=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS)
	@bash scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(JOBS) $(FUZZ_TARGETS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(HEADLESS_BUILD)
