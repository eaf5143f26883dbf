// The hardware reference: oneDNN's single-precision GEMM on 2048^3, the peak the
// end-to-end figures are reported against.
#include <benchmark/benchmark.h>

#include <dnnl.hpp>
#include <vector>

namespace {

void BM_SgemmPeak(benchmark::State& state) {
  const dnnl_dim_t n = state.range(0);
  std::vector<float> a(static_cast<std::size_t>(n * n), 1.0f), b = a, c = a;
  for (auto _ : state)
    dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  state.counters["GFLOPS"] = benchmark::Counter(
      2.0 * double(n * n * n) * 1e-9 * double(state.iterations()), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_SgemmPeak)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
