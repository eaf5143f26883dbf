// Kernels: the executable form of a layer. A Layer (imgcls/layers.hpp) is the math: its
// options, shapes and parameters. Layer::make_kernel(spec) returns a Kernel that runs the
// layer's forward and backward for one batch size, mode and precision, owning everything an
// execution needs: oneDNN primitives, workspaces, and what forward keeps for backward (max
// positions, batch statistics, dropout masks). A kernel reads its layer's weights when it
// runs and never writes to the layer: parameter gradients and updated statistics go to
// tensors the caller passes. So a const model can be run by any number of kernels at once,
// one set per thread (src/plan/).
//
// The plan (src/plan/arrange.cpp) decides how neighbouring kernels cooperate and says so in
// the spec: which part of an output is computed, which ReLU mask is applied where, which
// layers multiply in bf16. Layers know nothing of their neighbours.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "imgcls/layers.hpp"

namespace imgcls {

struct KernelSpec {
  std::int64_t batch = 1;
  Mode mode = Mode::infer;  // Mode::train: training forward, and backward after it
  // The arithmetic of a training kernel that multiplies (Conv2D, Dense); see Precision.
  // Inference kernels are fp32.
  Precision precision = Precision::fp32;
  // Output trimming: compute only this top-left part of one sample's output (the next layer
  // reads no more of it). Only a layer that can (Conv2D) is given one.
  std::optional<Shape> output_part;
  // The src tensors hold only this top-left part of one sample's declared input (the
  // previous layer's output_part).
  std::optional<Shape> input_part;
  // ReLU fusion in backward. next_masks_relu: the layer's fused ReLU mask is applied by the
  // next layer, so skip it here. masks_input_relu: before backward, mask diff_dst where dst
  // is 0 (the previous layer's ReLU; exact for max pooling, which passes gradient only to
  // window maxima, and four times less memory traffic on a 2x2 pool's output).
  bool next_masks_relu = false;
  bool masks_input_relu = false;
  // Whether backward may follow forward: training, and the gradient plan of explanations
  // (which runs Mode::infer). An inference plan says no, and a kernel then keeps nothing for
  // it (max pooling skips writing its window maxima's positions).
  bool backward = true;
};

class Kernel {
 public:
  virtual ~Kernel() = default;

  // src [N, ...input] -> dst [N, ...output] (resized), in the spec's mode. Keeps what
  // backward needs until the next forward.
  virtual void forward(const Tensor& src, Tensor& dst) = 0;
  // Given the last forward's src and dst and d(loss)/d(dst): writes d(loss)/d(each
  // parameter) into diff_params (one tensor per Layer::params(), in that order, shaped like
  // it) and, when diff_src is not null, d(loss)/d(src). An empty diff_params asks for no
  // parameter gradient (explanations want d(src) alone, of a model they only read).
  virtual void backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst,
                        Tensor* diff_src, const std::vector<Tensor*>& diff_params) = 0;
  // After a Mode::train forward: folds what that batch measured into the layer's buffers
  // (one tensor per Layer::buffers(), in that order): BatchNorm's moving statistics.
  virtual void update_buffers(const std::vector<Tensor*>& /*buffers*/) {}
  // Layers that draw random numbers in training (Dropout) take them from this seed, set
  // before every training step, so that a step can be replayed exactly.
  virtual void set_noise_seed(std::uint64_t /*seed*/) {}
};

}  // namespace imgcls
