// Dense: src [N, F] -> dst [N, units]; weights [units, F], bias [units]; an optional
// activation fused into the inner product. Visible to the plan (src/plan/arrange.cpp), which
// reads its activation to arrange ReLU fusion and decides its precision.
#pragma once

#include "layers/common.hpp"
#include "layers/kernel.hpp"
#include "tensor/geometry.hpp"

namespace imgcls::layers {

class DenseLayer final : public Layer {
 public:
  explicit DenseLayer(const DenseOptions& options) : options_(options) {}

  std::string kind() const override { return "Dense"; }
  Shape build(const Shape& input_shape) override;
  void initialize(Rng& rng) override;
  std::vector<Param> params() override;
  nlohmann::json config() const override;
  std::unique_ptr<Kernel> make_kernel(const KernelSpec& spec) const override;

  const DenseOptions& options() const { return options_; }
  const DenseGeometry& geometry() const { return geometry_; }  // batch 0
  const Tensor& weights() const { return weights_; }
  const Tensor& bias() const { return bias_; }

 private:
  DenseOptions options_;
  DenseGeometry geometry_;
  Tensor weights_, bias_, diff_weights_, diff_bias_;
};

}  // namespace imgcls::layers
