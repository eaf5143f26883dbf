// Gradient checking: holds a layer's backward (and the loss's gradient) to central finite
// differences of its own forward, so every layer is tested the same way (STYLE.md,
// principle 5).
//
//   imgcls::GradientCheckResult r = imgcls::check_layer_gradients(
//       *imgcls::layers::Conv2D({.filters = 4}), {2, 7, 7, 3}, {});
//   if (!r.ok()) std::cerr << r.worst;
//
// The scalar being differentiated is loss = sum_i dst[i] * R[i] for a fixed random R, so
// d(loss)/d(dst) = R is what backward receives. Forward passes run in float, as in
// training; the loss is summed in double.
//
// Error of one point: |analytic - numeric| / max(|analytic|, |numeric|, typical), where
// typical is the root mean square of the analytic gradient over the whole tensor. A point is
// relative to itself when its gradient is large, and to the tensor's scale when it is tiny
// (a gradient that is 0 up to rounding is not held to a relative tolerance it cannot meet).
//
// Kinks (ReLU at 0, a max whose winner changes): a difference across a kink is no
// derivative. Each point is probed at x + k h / 2 for k = -2..2; the function is linear there
// exactly when the four half-step slopes agree. A point is a kink, and skipped, when the
// largest and smallest of those slopes differ by more than `tolerance` in the error measure
// above (a smooth function bends them by about 1.5 h f'', far less); otherwise the central
// difference (f(x + h) - f(x - h)) / 2h is compared with the analytic gradient. A wrong
// backward is not a kink, so it is checked and fails. Callers should also assert that
// `checked` is a large share of the points, so that a check cannot pass by skipping them all.
#pragma once

#include <cstdint>
#include <string>

#include "imgcls/layers.hpp"

namespace imgcls {

struct GradientCheckOptions {
  // h of the differences. Float rounding in the forward pass puts about 1e-7 / h of noise on
  // a difference (1e-4 here, relative); a larger step meets more kinks. Piecewise-linear
  // layers have no truncation error; the loss's is about h^2 f''' / 6.
  double step = 1e-3;
  // Largest accepted error of a checked point (see the error measure above).
  double tolerance = 1e-2;
  // Draws the layer's initial parameters, the input, R, and which points are checked.
  std::uint64_t seed = 1;
  // Points per tensor (the input and each parameter); all of them when the tensor is smaller.
  int max_points = 200;
};

struct GradientCheckResult {
  int checked = 0;         // points compared
  int skipped = 0;         // points at a kink
  double max_error = 0.0;  // largest error over the checked points
  double tolerance = 0.0;  // the tolerance it was checked against
  std::string worst;       // the point with max_error: tensor, index, both gradients
  // At least one point checked and every checked point within the tolerance.
  bool ok() const { return checked > 0 && max_error <= tolerance; }
};

// Requires: `layer` not yet built; input_shape has the batch first ([N, H, W, C] or [N, F]).
// Builds the layer on input_shape without the batch, initialises it from Rng(seed), draws
// the input and R uniformly from [-1, 1], runs forward (Mode::train) and backward once, then
// compares d(loss)/d(src) and d(loss)/d(every parameter) with central differences. Every
// forward gets the same set_noise_seed, so a layer with training noise (Dropout) is checked
// with one fixed mask.
// Parameters are restored exactly afterwards; the layer's parameter gradients hold the
// analytic gradients of this loss.
GradientCheckResult check_layer_gradients(Layer& layer, const Shape& input_shape,
                                          const GradientCheckOptions& options = {});

// The same for softmax_cross_entropy (imgcls/loss.hpp): logits [N, K] drawn from [-3, 3],
// labels drawn from [0, K); compares its diff_logits with central differences of the mean
// loss it returns.
GradientCheckResult check_loss_gradients(const Shape& logits_shape,
                                         const GradientCheckOptions& options = {});

}  // namespace imgcls
