# Thin front door over CMake. The README's two commands are `make run` and `make test`.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
ifdef CI
CMAKE_FLAGS += -DIMGCLS_WERROR=ON
endif
RUN_ARGS ?=

.PHONY: setup build run test bench clean

setup:
	@scripts/setup.sh

build:
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: setup build
	$(BUILD_DIR)/imgcls run $(RUN_ARGS)

# Tests run two at a time. OpenMP threads that spin at barriers while another test holds
# the other core slow oneDNN down many times over, so the tests wait passively; the
# end-to-end MNIST gate runs alone (RUN_SERIAL).
test: setup build
	cd $(BUILD_DIR) && OMP_WAIT_POLICY=passive ctest --output-on-failure -j $(JOBS)

# Side-by-side benchmark with the PyTorch peer (needs Debian's python3-torch; setup --bench
# installs it). Prints a table of medians and ratios.
bench: setup
	@scripts/setup.sh --bench
	@cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DIMGCLS_BENCH=ON -DIMGCLS_TESTS=OFF >/dev/null
	@cmake --build build-bench -j $(JOBS)
	/usr/bin/python3 bench/run_bench.py --build build-bench

clean:
	rm -rf $(BUILD_DIR)
