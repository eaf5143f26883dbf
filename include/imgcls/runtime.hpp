// Process-wide runtime settings.
#pragma once

#include <string_view>

namespace imgcls {

// CPU threads for every op (oneDNN and imgcls's own loops). Call before training.
void set_num_threads(int threads);
int num_threads();

// The arithmetic of convolutions and dense layers in training steps. fp32 everywhere, or
// bf16: those layers multiply in bfloat16 (inputs, weights and gradients rounded to bf16,
// products summed in fp32), while the master weights, their gradients, the optimizer,
// the loss and every other layer stay fp32, and so do convolutions over fewer than 8
// input channels (memory-bound: bf16 would not pay there). Evaluation and prediction
// always run in fp32.
enum class Precision { fp32, bf16 };
std::string_view to_string(Precision precision);
// True when this CPU multiplies bf16 in hardware (AVX512-BF16 or AMX), as oneDNN sees it
// (ONEDNN_MAX_CPU_ISA can lower what it sees). Elsewhere bf16 would be emulated, slower
// than fp32, or not run at all, so bf16 training steps are refused there
// (fit with FitOptions::precision = Precision::bf16 throws a UsageError).
bool bf16_supported();

}  // namespace imgcls
