// Per-op benchmarks of the seed model's layers through the backend at batch 32:
// forward, backward-data and backward-weights, with FLOP rates as counters.
#include <benchmark/benchmark.h>

#include <vector>

#include "backend/backend.hpp"
#include "imgcls/model.hpp"
#include "imgcls/optim.hpp"
#include "imgcls/rng.hpp"

namespace {

using namespace imgcls;

std::vector<float> random_values(std::int64_t n) {
  Rng rng(7);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = rng.uniform(-1.0f, 1.0f);
  return v;
}

enum class Pass { forward, backward_data, backward_weights };

Conv2dGeometry seed_conv(int which, std::int64_t batch) {
  Conv2dGeometry g;
  g.batch = batch;
  g.in_h = g.in_w = which == 1 ? 28 : 13;
  g.in_c = which == 1 ? 1 : 32;
  g.out_c = which == 1 ? 32 : 64;
  g.window.kernel_h = g.window.kernel_w = 3;
  return g;
}

void BM_Conv(benchmark::State& state, int which, Pass pass) {
  const Conv2dGeometry g = seed_conv(which, state.range(0));
  backend::Conv2d conv(g, backend::PostOp::relu);
  auto src = random_values(g.batch * g.in_h * g.in_w * g.in_c);
  auto weights = random_values(g.out_c * g.in_c * 9);
  auto bias = random_values(g.out_c);
  auto dst = random_values(g.batch * g.out_h() * g.out_w() * g.out_c);
  auto diff_src = src, diff_weights = weights, diff_bias = bias;
  conv.forward(src.data(), weights.data(), bias.data(), dst.data());
  for (auto _ : state) {
    switch (pass) {
      case Pass::forward:
        conv.forward(src.data(), weights.data(), bias.data(), dst.data());
        break;
      case Pass::backward_data:
        conv.backward_data(dst.data(), weights.data(), diff_src.data());
        break;
      case Pass::backward_weights:
        conv.backward_weights(src.data(), dst.data(), diff_weights.data(), diff_bias.data());
        break;
    }
  }
  const double flops = 2.0 * double(g.batch * g.out_h() * g.out_w() * g.out_c * g.in_c * 9);
  state.counters["GFLOPS"] =
      benchmark::Counter(flops * 1e-9 * double(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_MaxPool(benchmark::State& state, int which, bool backward) {
  Pool2dGeometry g;
  g.batch = state.range(0);
  g.in_h = g.in_w = which == 1 ? 26 : 11;
  g.channels = which == 1 ? 32 : 64;
  g.window.kernel_h = g.window.kernel_w = g.window.stride_h = g.window.stride_w = 2;
  backend::Pool2d pool(g, backend::PoolKind::max, /*with_backward=*/true);  // as in training
  auto src = random_values(g.batch * g.in_h * g.in_w * g.channels);
  auto dst = random_values(g.batch * g.out_h() * g.out_w() * g.channels);
  auto diff_src = src;
  pool.forward(src.data(), dst.data());
  for (auto _ : state) {
    if (backward)
      pool.backward(src.data(), dst.data(), diff_src.data());
    else
      pool.forward(src.data(), dst.data());
  }
}

void BM_Dense(benchmark::State& state, Pass pass) {
  DenseGeometry g{.batch = state.range(0), .in_features = 1600, .out_features = 64};
  backend::Dense dense(g, backend::PostOp::relu);
  auto src = random_values(g.batch * g.in_features);
  auto weights = random_values(g.out_features * g.in_features);
  auto bias = random_values(g.out_features);
  auto dst = random_values(g.batch * g.out_features);
  auto diff_src = src, diff_weights = weights, diff_bias = bias;
  dense.forward(src.data(), weights.data(), bias.data(), dst.data());
  for (auto _ : state) {
    switch (pass) {
      case Pass::forward:
        dense.forward(src.data(), weights.data(), bias.data(), dst.data());
        break;
      case Pass::backward_data:
        dense.backward_data(dst.data(), weights.data(), diff_src.data());
        break;
      case Pass::backward_weights:
        dense.backward_weights(src.data(), dst.data(), diff_weights.data(), diff_bias.data());
        break;
    }
  }
}

BENCHMARK_CAPTURE(BM_Conv, conv1_forward, 1, Pass::forward)
    ->Arg(1)
    ->Arg(32)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Conv, conv1_backward_data, 1, Pass::backward_data)
    ->Arg(32)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Conv, conv1_backward_weights, 1, Pass::backward_weights)
    ->Arg(32)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Conv, conv2_forward, 2, Pass::forward)
    ->Arg(32)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Conv, conv2_backward_data, 2, Pass::backward_data)
    ->Arg(32)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Conv, conv2_backward_weights, 2, Pass::backward_weights)
    ->Arg(32)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_MaxPool, pool1_forward, 1, false)
    ->Arg(32)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_MaxPool, pool1_backward, 1, true)
    ->Arg(32)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_MaxPool, pool2_forward, 2, false)
    ->Arg(32)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_MaxPool, pool2_backward, 2, true)
    ->Arg(32)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Dense, fc1_forward, Pass::forward)
    ->Arg(1)
    ->Arg(32)
    ->Arg(256)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Dense, fc1_backward_data, Pass::backward_data)
    ->Arg(1)
    ->Arg(32)
    ->Arg(256)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Dense, fc1_backward_weights, Pass::backward_weights)
    ->Arg(1)
    ->Arg(32)
    ->Arg(256)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// One Adam update of the seed model's 121,930 parameters (gradients held fixed).
void BM_AdamStep(benchmark::State& state) {
  imgcls::Sequential model = imgcls::presets::seed();
  model.initialize(1);
  const auto params = model.params();
  imgcls::Rng rng(4);
  for (const auto& p : params)
    for (std::int64_t i = 0; i < p.grad->size(); ++i) (*p.grad)[i] = rng.uniform(-1e-2f, 1e-2f);
  imgcls::Adam adam;
  for (auto _ : state) adam.step(params);
}
BENCHMARK(BM_AdamStep)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
