# Thin wrapper over CMake/Ninja. The README's two commands are `make up` and `make test`.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: all deps build asan test up down install fuzz bench sim chaos-long clean

all: build

deps:
	@bash ci/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@ninja -C $(BUILD)

asan: deps
	@CC=clang cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
		-DCONCLAVE_SANITIZE=ON >/dev/null
	@ninja -C $(ASAN_BUILD)

test: build asan
	@bash ci/test.sh $(BUILD) $(ASAN_BUILD)

up: build
	@bash ci/up.sh $(BUILD)

down:
	@bash ci/up.sh --down

install: build
	install -m 0755 $(BUILD)/daemon/conclave $(BUILD)/harness/harness $(BUILD)/harness/harness-delayer \
		$(or $(PREFIX),/usr/local)/bin/

bench: build
	@bash bench/topology.sh $(BUILD)
	@bash bench/gossip.sh $(BUILD)
	@bash bench/raft.sh $(BUILD)
	@bash bench/http.sh $(BUILD)
	@bash bench/wake.sh $(BUILD)
	@$(BUILD)/tests/lincheck_bench

# The gossip and Raft simulations with many more seeds than CI runs
# (SIM_SEEDS per scenario / cluster size).
SIM_SEEDS ?= 2000
sim: build
	@SWIM_SIM_SEEDS=$(SIM_SEEDS) $(BUILD)/tests/unit_swim_sim
	@RAFT_SIM_SEEDS=$(SIM_SEEDS) $(BUILD)/tests/unit_raft_sim

# Every chaos scenario at full length, on three and five servers (about 30 min).
chaos-long: build
	@bash ci/chaos-long.sh $(BUILD)

fuzz: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
		-DCONCLAVE_SANITIZE=ON -DCONCLAVE_FUZZ=ON -DCONCLAVE_TESTS=OFF >/dev/null
	@ninja -C $(FUZZ_BUILD)
	@bash ci/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
