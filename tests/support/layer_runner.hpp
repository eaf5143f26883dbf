// Test support: runs a single layer through its kernels as a training step or an inference
// would, without a model around it (no fusion with neighbours): a kernel per (batch size,
// mode) made on first use; a Mode::train forward folds its statistics into the layer's
// buffers, as a training plan does; backward writes the layer's parameter gradients.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "imgcls/layers.hpp"
#include "layers/kernel.hpp"

namespace imgcls::testing_support {

class LayerRunner {
 public:
  explicit LayerRunner(Layer& layer, Precision precision = Precision::fp32)
      : layer_(layer), precision_(precision) {}

  void set_noise_seed(std::uint64_t seed) {
    noise_seed_ = seed;
    for (auto& [key, kernel] : kernels_) kernel->set_noise_seed(seed);
  }

  void forward(const Tensor& src, Tensor& dst, Mode mode) {
    last_ = &kernel(src.dim(0), mode);
    last_->forward(src, dst);
    if (mode == Mode::train) {
      std::vector<Tensor*> buffers;
      for (const Param& b : layer_.buffers()) buffers.push_back(b.value);
      if (!buffers.empty()) last_->update_buffers(buffers);
    }
  }

  // The gradients of the last forward.
  void backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, Tensor* diff_src) {
    std::vector<Tensor*> diff_params;
    for (const Param& p : layer_.params()) diff_params.push_back(p.grad);
    last_->backward(src, dst, diff_dst, diff_src, diff_params);
  }

 private:
  Kernel& kernel(std::int64_t batch, Mode mode) {
    auto& slot = kernels_[{batch, mode}];
    if (!slot) {
      slot = layer_.make_kernel({.batch = batch, .mode = mode, .precision = precision_});
      if (noise_seed_) slot->set_noise_seed(*noise_seed_);
    }
    return *slot;
  }

  Layer& layer_;
  Precision precision_;
  std::optional<std::uint64_t> noise_seed_;
  std::map<std::pair<std::int64_t, Mode>, std::unique_ptr<Kernel>> kernels_;
  Kernel* last_ = nullptr;
};

}  // namespace imgcls::testing_support
