// Conv2D: src [N, H, W, C] -> dst [N, H', W', filters]; weights [filters, C, k, k] (OIHW),
// bias [filters]; an optional activation fused into the convolution. The class is visible to
// the plan (src/plan/arrange.cpp), which reads its options and geometry to arrange output
// trimming and ReLU fusion with its neighbours.
#pragma once

#include "layers/common.hpp"
#include "layers/kernel.hpp"
#include "tensor/geometry.hpp"

namespace imgcls::layers {

class Conv2DLayer final : public Layer {
 public:
  explicit Conv2DLayer(const Conv2DOptions& options) : options_(options) {}

  std::string kind() const override { return "Conv2D"; }
  Shape build(const Shape& input_shape) override;
  void initialize(Rng& rng) override;
  std::vector<Param> params() override;
  nlohmann::json config() const override;
  // Honours spec.output_part (computes only the top-left part of the output and reads only
  // the input rows and columns it needs) and spec.next_masks_relu.
  std::unique_ptr<Kernel> make_kernel(const KernelSpec& spec) const override;

  const Conv2DOptions& options() const { return options_; }
  // The full convolution as declared (batch 0).
  const Conv2dGeometry& geometry() const { return geometry_; }
  const Tensor& weights() const { return weights_; }
  const Tensor& bias() const { return bias_; }

 private:
  Conv2DOptions options_;
  Conv2dGeometry geometry_;
  Tensor weights_, bias_, diff_weights_, diff_bias_;
};

}  // namespace imgcls::layers
