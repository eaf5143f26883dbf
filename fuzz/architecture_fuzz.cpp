// libFuzzer harness for architecture specs: the input is JSON text, parsed as
// `imgcls train --arch FILE` parses it (bounded JSON, then Sequential::from_config). A spec
// that is accepted must run: when it is small, the model is initialised and trained for
// one step on two samples (forward in train mode, backward) and run once in inference.
#include <cmath>
#include <cstdint>
#include <string_view>

#include "fuzz_common.hpp"
#include "imgcls/model.hpp"
#include "imgcls/predictor.hpp"
#include "imgcls/runtime.hpp"
#include "io/bounded_json.hpp"
#include "plan/training_plan.hpp"

namespace {
constexpr std::int64_t kMaxParametersToRun = 1 << 16;
constexpr std::int64_t kMaxValuesToRun = 1 << 14;  // per sample, at any layer
constexpr std::int64_t kBatch = 2;
constexpr std::uint64_t kSeed = 1;

// True when every layer's output (and the input) is small enough to run quickly.
bool small_enough(const imgcls::Sequential& model) {
  using namespace imgcls;
  if (model.parameter_count() > kMaxParametersToRun ||
      element_count(model.input_shape()) > kMaxValuesToRun)
    return false;
  // Rebuilt layer by layer to see every intermediate shape.
  Sequential probe(model.input_shape());
  const nlohmann::json config = model.config();
  for (const auto& layer : config.at("layers")) {
    probe.add(layers::from_config(layer, fuzz::kSource));
    if (element_count(probe.output_shape()) > kMaxValuesToRun) return false;
  }
  return true;
}

imgcls::Tensor batch_of(const imgcls::Shape& sample_shape, float value) {
  imgcls::Shape shape{kBatch};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  imgcls::Tensor batch(shape);
  batch.fill(value);
  return batch;
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  imgcls::set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace imgcls;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_success_or_input_error([&] {
    Sequential model = Sequential::from_config(
        io::parse_bounded_json(text, fuzz::kSource, "the architecture"), fuzz::kSource);
    fuzz::require(Sequential::from_config(model.config(), fuzz::kSource).config() == model.config(),
                  "config() round-trips");
    if (!small_enough(model)) return;
    model.initialize(kSeed);
    const Tensor input = batch_of(model.input_shape(), 0.5f);
    plan::TrainingPlan training(model, Precision::fp32);
    const Tensor& output = training.forward(input, kSeed);
    fuzz::require(output.dim(0) == kBatch, "one output per sample");
    training.backward(batch_of(model.output_shape(), 1.0f));
    const Tensor inferred = Predictor(model).logits(input);
    for (std::int64_t i = 0; i < inferred.size(); ++i)
      fuzz::require(std::isfinite(inferred[i]), "finite outputs from finite inputs");
  });
  return 0;
}
