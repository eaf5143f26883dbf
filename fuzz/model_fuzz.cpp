// libFuzzer harness for model files and checkpoints: the input is a whole file, parsed as
// `imgcls predict` parses a model and `imgcls train --resume` a checkpoint (the safetensors
// container, its metadata, the architecture inside it, every tensor against the
// architecture). A model that loads must run: it is given one sample when it is small.
#include <cstdint>
#include <string_view>

#include "fuzz_common.hpp"
#include "imgcls/runtime.hpp"
#include "imgcls/train.hpp"
#include "io/parse.hpp"

namespace {
constexpr std::int64_t kMaxParametersToRun = 1 << 16;
constexpr std::int64_t kMaxInputToRun = 1 << 12;
}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  imgcls::set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace imgcls;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  fuzz::expect_success_or_input_error([&] {
    Sequential model = io::parse_model(bytes, fuzz::kSource);
    fuzz::require(model.layer_count() >= 1, "a loaded model has layers");
    if (model.parameter_count() > kMaxParametersToRun ||
        element_count(model.input_shape()) > kMaxInputToRun)
      return;
    Shape batch_shape{1};
    batch_shape.insert(batch_shape.end(), model.input_shape().begin(), model.input_shape().end());
    const Tensor probabilities = predict(model, Tensor(batch_shape));
    fuzz::require(probabilities.rank() == 2 && probabilities.dim(0) == 1, "one row per sample");
  });
  fuzz::expect_success_or_input_error([&] {
    const LoadedCheckpoint checkpoint = io::parse_checkpoint(bytes, fuzz::kSource);
    fuzz::require(checkpoint.state.epoch >= 1, "a checkpoint resumes at epoch 1 or later");
  });
  return 0;
}
