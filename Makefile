# Thin front door over CMake. The README's two commands are `make run` and `make test`.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# Under CI nothing may be left out quietly: MPI is required (a missing MPI fails the
# configure instead of dropping the distributed tests), and the tests fail where they would
# skip (tests/support/ci.hpp).
CI_CMAKE_FLAGS =
ifdef CI
CI_CMAKE_FLAGS += -DIMGCLS_MPI=ON
CMAKE_FLAGS += -DIMGCLS_WERROR=ON $(CI_CMAKE_FLAGS)
endif
RUN_ARGS ?=

.PHONY: setup configure build run test bench clean check-sanitizers check-tsan check-style fuzz models

setup:
	@scripts/setup.sh

configure:
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Builds only the imgcls command: the tests are left for `make test`.
run: setup configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target imgcls
	$(BUILD_DIR)/imgcls run $(RUN_ARGS)

# Tests run two at a time. OpenMP threads that spin at barriers while another test holds
# the other core slow oneDNN down many times over, so the tests wait passively; the
# end-to-end MNIST gate runs alone (RUN_SERIAL). Every test has its own time limit
# (tests/CMakeLists.txt); --timeout is the backstop for one registered without.
TEST_TIMEOUT ?= 600
test: setup build
	@python3 scripts/check_layering.py
	cd $(BUILD_DIR) && OMP_WAIT_POLICY=passive ctest --output-on-failure -j $(JOBS) --timeout $(TEST_TIMEOUT)

# The built-in digits model, remade from its recipe (README, "The built-in digits model") into
# $(BUILD_DIR)/models/digits.safetensors, and its weights compared with the committed
# models/digits.safetensors. Training is deterministic for a given CPU and thread count: on the
# CPU the committed model was made on they are the same bit for bit. About 17 minutes on 2 cores
# (6 of them drawing the negatives, on one core).
# Its negatives ("not a digit": letters, signs, shapes, textures, scribbles, photos, blank
# pages) are drawn by tests/images/make_nondigits.py from a fixed seed, with other fonts and
# shapes than the committed test set tests/images/nondigits.
DIGITS_NEGATIVES = $(BUILD_DIR)/models/negatives
DIGITS_RECIPE = --data mnist --arch strong --augment digits --schedule onecycle --lr 0.003 \
  --epochs 20 --batch-size 128 --seed 1 --threads 2 \
  --negatives $(DIGITS_NEGATIVES) --negatives-name "not a digit"
models: setup
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target imgcls
	/usr/bin/python3 tests/images/make_nondigits.py --set train --count 12000 --out $(DIGITS_NEGATIVES)
	$(BUILD_DIR)/imgcls train $(DIGITS_RECIPE) --out $(BUILD_DIR)/models/digits.safetensors
	@scripts/weights_sha256.py models/digits.safetensors $(BUILD_DIR)/models/digits.safetensors \
	  | tee $(BUILD_DIR)/models/weights.sha256
	@if [ "$$(cut -d' ' -f1 $(BUILD_DIR)/models/weights.sha256 | uniq | wc -l)" = 1 ]; then \
	  echo "make models: the weights are the committed model's, bit for bit"; \
	else \
	  echo "make models: the weights differ from the committed model's (another CPU or thread count?)"; \
	  echo "  to ship these: cp $(BUILD_DIR)/models/digits.safetensors models/ && sha256sum models/digits.safetensors > models/digits.sha256"; \
	fi

# Formatting (.clang-format), clang-tidy (.clang-tidy) and the layering of src/DEPENDENCIES,
# on the configured build's compile commands (scripts/check_style.sh).
check-style: setup configure
	scripts/check_style.sh $(BUILD_DIR)

# Side-by-side benchmark with the PyTorch and ONNX Runtime peers (Debian's python3-torch,
# which setup --bench installs; onnxruntime-node, which setup installs). Prints the CPU, tables
# of medians and ratios, then the time to 99% MNIST accuracy of the seed and fast recipes, the
# fast one beside PyTorch's (bench/time_to_accuracy.py).
bench: setup
	@scripts/setup.sh --bench
	@cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DIMGCLS_BENCH=ON -DIMGCLS_TESTS=OFF >/dev/null
	@cmake --build build-bench -j $(JOBS)
	/usr/bin/python3 bench/run_bench.py --build build-bench
	/usr/bin/python3 bench/time_to_accuracy.py --build build-bench

# The sanitized build: clang, -O1, AddressSanitizer and UBSan (UBSan does not recover), with
# the fuzzers' coverage instrumentation, so that one build serves check-sanitizers (the tests)
# and fuzz (the harnesses): CI compiles it once.
ASAN_DIR ?= build-asan
SANITIZED_CONFIGURE = cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DIMGCLS_FUZZ=ON $(CI_CMAKE_FLAGS)

# The tests again in the sanitized build, all but the end-to-end accuracy gates (label e2e)
# and the tests below, which measure a result over a whole 10,000-picture test set or over
# many trainings or pictures (fine-tuning against training from scratch, the explanations'
# statistics), through code that smaller tests run too: under the sanitizers they took about
# 700 of the 1,360 test seconds. Also left out, for CI's 30 minutes (about 300 more seconds):
# the C interface's thread tests, which check-tsan runs; its agreement with the library on
# picture files (the C interface's own tests stay); the MPI run with augmentation, the one
# over TCP between network namespaces and the hung and killed rank tests (the step-by-step and
# resumed MPI tests stay); the elastic augmentation's statistics; the interrupted-run
# test (52 s; the storm of stop signals stays); the browser test, the training example and
# the ONNX Runtime run of every layer kind, whose code paths the unit tests take; the shipped
# model's rejection rates. All run, at full size, in `make test`. Leaks count, except fontconfig's caches (tests/lsan.supp).
SANITIZER_ENV = ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:strict_init_order=1 \
  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
SANITIZER_LEFT_OUT = ^(ShippedModel\.IsTheCommittedFileAndReachesItsMnistAccuracy|TtaCli\.EvaluateOnMnistAgreesWithTheLibrary|CifarTest\.FashionMnistByNameTrainsAModelThatNamesClothes|ExplainDeletion\.RemovingTheMostSalientPixelsHurtsMoreThanRandomOnes|CApiAgreement\.PredictOnMnistTestImagesMatchesTheLibrary|PredictAccuracy\.MnistIsAFixedPointOfPreprocessing|FinetuneCli\.FineTuningADigitsModelBeatsTrainingFromScratchOnAFewPictures|ExplainTargets\.MapsAreLargerOnTheStrokesThanOnTheBackground|ExplainSanity\.MapsDependOnTheWeightsAndOnTheClass|CApiThreads\.(TwoModelsUsedAtOnceAnswerAsOneThreadDoes|OneModelSharedByEightThreadsAnswersAsOneThreadDoes)|Mpi\.TwoRanksMatchOneProcessWithAugmentation|serve_browser_test|example_train_mnist|onnx_runtime_every_kind|ShippedModel\.RejectsNonDigitsButNotDigits|CApiAgreement\.(PredictFileOnPictureFilesMatchesTheLibrary|Grey8OnPictureFilesMatchesTheLibrary|Grey8OnMnistPicturesMatchesTheLibrary)|CApiThreads\.LastErrorIsPerThread|Mpi\.TwoHostsOverTcpBetweenNetworkNamespaces|TrainCli\.InterruptedRunsResumeToTheSameWeights|Mpi\.(HungRankEndsTheJobThroughTheWatchdog|KilledRankEndsTheJobWithAnErrorInBoundedTime)|Augment\.ElasticAloneWarpsLocallyWithAMoveThatGrowsWithAlpha)$$
check-sanitizers: setup
	@$(SANITIZED_CONFIGURE) >/dev/null
	@cmake --build $(ASAN_DIR) -j $(JOBS)
	cd $(ASAN_DIR) && $(SANITIZER_ENV) OMP_WAIT_POLICY=passive ctest --output-on-failure -j $(JOBS) -LE e2e \
	  -E '$(SANITIZER_LEFT_OUT)' --timeout $(TEST_TIMEOUT)

# The concurrent code again, under ThreadSanitizer: the serve and C interface tests (8 threads
# sharing one model), with clang and LLVM's OpenMP, whose Archer tool makes TSan see OpenMP's
# barriers (docs/robustness.md). Only these tests and what they run are built. The first
# report stops the test, which fails; tests/tsan.supp ignores only what oneDNN and the OpenMP
# runtime do inside their own (uninstrumented) code.
TSAN_DIR ?= build-tsan
TSAN_TARGETS = imgcls serve_test c_api_test c_api_colour_test c_api_threads_test
TSAN_TESTS = ^(ServeTest|ColourServeTest|CApi|CApiColour|CApiLoad|CApiThreads)\.
TSAN_ENV = TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:print_suppressions=0:suppressions=$(CURDIR)/tests/tsan.supp
check-tsan: setup
	@cmake -S . -B $(TSAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_CXX_COMPILER=clang++ -DIMGCLS_TSAN=ON -DIMGCLS_MPI=OFF >/dev/null
	@cmake --build $(TSAN_DIR) -j $(JOBS) --target $(TSAN_TARGETS)
	cd $(TSAN_DIR) && $(TSAN_ENV) OMP_WAIT_POLICY=passive ctest --output-on-failure -j $(JOBS) \
	  -R '$(TSAN_TESTS)' --no-tests=error --timeout $(TEST_TIMEOUT)

# The libFuzzer harnesses of fuzz/ (in the sanitized build), FUZZ_SECONDS each on their seed
# corpora, one after the other, with the fixed libFuzzer seed FUZZ_SEED, so a run repeats
# (fuzz/run.sh; a finding fails and names its input).
FUZZ_SECONDS ?= 30
FUZZ_SEED ?= 1
fuzz: setup
	@$(SANITIZED_CONFIGURE) >/dev/null
	@cmake --build $(ASAN_DIR) -j $(JOBS) --target fuzz_harnesses
	FUZZ_SEED=$(FUZZ_SEED) fuzz/run.sh $(ASAN_DIR) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD_DIR)
