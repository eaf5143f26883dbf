// MaxPool2D and AvgPool2D: src [N, H, W, C] -> dst [N, floor((H - p) / s) + 1,
// floor((W - p) / s) + 1, C], no padding. Visible to the plan (src/plan/arrange.cpp): the
// part of its input a pooling reads lets the previous convolution compute only that part,
// and max pooling can apply the previous layer's ReLU mask on its smaller output.
#pragma once

#include "backend/backend.hpp"
#include "layers/common.hpp"
#include "layers/kernel.hpp"
#include "tensor/geometry.hpp"

namespace imgcls::layers {

class Pool2DLayer final : public Layer {
 public:
  Pool2DLayer(const Pool2DOptions& options, backend::PoolKind kind);

  std::string kind() const override {
    return pool_kind_ == backend::PoolKind::max ? "MaxPool2D" : "AvgPool2D";
  }
  Shape build(const Shape& input_shape) override;
  nlohmann::json config() const override;
  // Honours spec.input_part (src holds only that top-left part of the declared input) and,
  // for max pooling, spec.masks_input_relu.
  std::unique_ptr<Kernel> make_kernel(const KernelSpec& spec) const override;

  backend::PoolKind pool_kind() const { return pool_kind_; }
  const Pool2dGeometry& geometry() const { return geometry_; }  // batch 0
  // The top-left part of one input sample the windows read: rows up to
  // (out_h - 1) * stride + pool_size, and as many columns.
  Shape input_part_read() const;

 private:
  Pool2DOptions options_;
  backend::PoolKind pool_kind_;
  Pool2dGeometry geometry_;
};

}  // namespace imgcls::layers
