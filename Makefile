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

test: setup build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD_DIR)
