// Helpers shared by the layer implementations: option parsing from JSON, weight
// initialisation, the activation post-op, shape checks of kernels.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>

#include "backend/backend.hpp"
#include "imgcls/layers.hpp"

namespace imgcls::layers::detail {

// Glorot (Xavier) uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)).
void glorot_uniform(Tensor& weights, std::int64_t fan_in, std::int64_t fan_out, Rng& rng);

backend::PostOp to_post_op(Activation activation);
std::string to_string(Activation activation);
std::string to_string(Padding padding);

// Returns the gradient before the activation: diff_dst itself for Activation::none,
// otherwise diff_dst masked by the activation's derivative (read from dst), written to
// `scratch`.
const Tensor& gradient_before_activation(Activation activation, const Tensor& dst,
                                         const Tensor& diff_dst, Tensor& scratch);

// An interval of real numbers, for option checks: [low, high], either end open on request.
struct RealRange {
  double low = 0.0, high = 0.0;
  bool low_open = false, high_open = false;
  bool contains(double value) const;
  std::string text() const;  // "[0, 1)", "(0, inf)"
};

// The accepted values of the real-valued options, shared by the layers and from_config.
inline constexpr double kUnbounded = std::numeric_limits<double>::infinity();
inline constexpr RealRange kMomentumRange{.low = 0.0, .high = 1.0};  // BatchNorm
inline constexpr RealRange kEpsilonRange{
    .low = 0.0, .high = kUnbounded, .low_open = true, .high_open = true};  // BatchNorm
inline constexpr RealRange kDropoutRateRange{.low = 0.0, .high = 1.0, .high_open = true};
inline constexpr RealRange kLeakyAlphaRange{.low = 0.0, .high = kUnbounded, .high_open = true};

// Throws InputError(where, ...) naming the option when value is outside range (or NaN).
void check_option(const std::string& where, const std::string& key, double value,
                  const RealRange& range);

// Reads a layer's options from JSON, rejecting unknown keys and wrong types with an
// InputError that names `where` and the key.
class OptionReader {
 public:
  OptionReader(const nlohmann::json& config, std::string where);
  std::int64_t positive_int(const std::string& key, std::int64_t fallback, bool required);
  // A JSON number (integer or not) inside range.
  double real(const std::string& key, double fallback, bool required, const RealRange& range);
  Activation activation(const std::string& key);
  Padding padding(const std::string& key);
  // Throws if the config has a key that no read asked for.
  void finish() const;

 private:
  const nlohmann::json& config_;
  std::string where_;
  std::map<std::string, bool> seen_;
};

// Bounds on what a model may ask for, checked while it is built so that an absurd spec (a
// model file or an architecture from outside) is refused before anything is allocated.
// One sample's activations at any layer: 2^26 values (256 MiB of float).
inline constexpr std::int64_t kMaxSampleElements = std::int64_t{1} << 26;
// Parameters of one tensor, and of a whole model: 2^26 (256 MiB of float, as much again
// for the gradients).
inline constexpr std::int64_t kMaxParameters = std::int64_t{1} << 26;

// A kernel's check of its src: [batch, ...sample]. Throws UsageError naming the layer.
void check_src(const std::string& layer, const Tensor& src, std::int64_t batch,
               const Shape& sample);
// [batch, ...sample]
Shape batch_shape(std::int64_t batch, const Shape& sample);

// True when shape has more than `limit` elements; never overflows.
bool exceeds(const Shape& shape, std::int64_t limit);
// Throws InputError naming `layer` when a parameter tensor of `shape` would hold more than
// kMaxParameters values. Layers call it in build(), before allocating their weights.
void check_parameter_count(const std::string& layer, const Shape& shape);

}  // namespace imgcls::layers::detail
