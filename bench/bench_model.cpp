// End-to-end benchmarks of the seed model: one training step (forward, loss, backward,
// Adam) at batch 32, 128 and 256, in fp32 and bf16, and inference at batch 1 and over
// 10,000 images in batches of 32, 256 and 1000. Random data: the cost does not depend on the
// values.
#include <benchmark/benchmark.h>

#include "imgcls/loss.hpp"
#include "imgcls/model.hpp"
#include "imgcls/optim.hpp"
#include "imgcls/runtime.hpp"
#include "imgcls/train.hpp"
#include "plan/training_plan.hpp"

namespace {

using namespace imgcls;

constexpr double kTrainFlopsPerImage = 14.78e6;  // forward + both backward passes
constexpr double kForwardFlopsPerImage = 5.06e6;

Tensor random_images(std::int64_t n) {
  Rng rng(3);
  Tensor images({n, 28, 28, 1});
  for (std::int64_t i = 0; i < images.size(); ++i) images[i] = rng.uniform(0.0f, 1.0f);
  return images;
}

void train_step(benchmark::State& state, Precision precision) {
  const std::int64_t batch = state.range(0);
  Sequential model = presets::seed();
  model.initialize(1);
  plan::TrainingPlan plan(model, precision);
  Adam adam;
  const auto params = model.params();
  const Tensor images = random_images(batch);
  std::vector<std::int32_t> labels(static_cast<std::size_t>(batch));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int32_t>(i % 10);
  Tensor diff;
  for (auto _ : state) {
    const Tensor& logits = plan.forward(images, 0);
    benchmark::DoNotOptimize(softmax_cross_entropy(logits, labels, &diff));
    plan.backward(diff);
    adam.step(params);
  }
  state.counters["images/s"] =
      benchmark::Counter(double(batch * state.iterations()), benchmark::Counter::kIsRate);
  state.counters["GFLOPS"] = benchmark::Counter(
      kTrainFlopsPerImage * 1e-9 * double(batch * state.iterations()), benchmark::Counter::kIsRate);
}

void BM_TrainStep(benchmark::State& state) { train_step(state, Precision::fp32); }

// Skipped with a message on CPUs without AVX512-BF16 (there, training refuses bf16).
void BM_TrainStepBf16(benchmark::State& state) {
  if (!bf16_supported()) {
    state.SkipWithError("this CPU has no AVX512-BF16");
    return;
  }
  train_step(state, Precision::bf16);
}

void BM_Inference(benchmark::State& state) {
  const std::int64_t total = state.range(0), batch = state.range(1);
  Sequential model = presets::seed();
  model.initialize(1);
  const Tensor images = random_images(total);
  Predictor predictor(model, batch);  // compiled once, as a server or a loop keeps it
  for (auto _ : state) benchmark::DoNotOptimize(predictor.predict(images));
  state.counters["images/s"] =
      benchmark::Counter(double(total * state.iterations()), benchmark::Counter::kIsRate);
  state.counters["GFLOPS"] =
      benchmark::Counter(kForwardFlopsPerImage * 1e-9 * double(total * state.iterations()),
                         benchmark::Counter::kIsRate);
}

BENCHMARK(BM_TrainStep)->Arg(32)->Arg(128)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TrainStepBf16)
    ->Arg(32)
    ->Arg(128)
    ->Arg(256)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Inference)
    ->Args({1, 1})
    ->Args({10000, 32})
    ->Args({10000, 256})
    ->Args({10000, 1000})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
