// Shared layer helpers: initialisation, activations, option parsing.
#include "layers/common.hpp"

#include <fmt/core.h>

#include <cmath>

#include "core/check.hpp"
#include "core/parallel.hpp"

namespace imgcls::layers::detail {

void glorot_uniform(Tensor& weights, std::int64_t fan_in, std::int64_t fan_out, Rng& rng) {
  const float limit = std::sqrt(6.0f / static_cast<float>(fan_in + fan_out));
  for (std::int64_t i = 0; i < weights.size(); ++i) weights[i] = rng.uniform(-limit, limit);
}

backend::PostOp to_post_op(Activation activation) {
  return activation == Activation::relu ? backend::PostOp::relu : backend::PostOp::none;
}

std::string to_string(Activation activation) {
  return activation == Activation::relu ? "relu" : "none";
}

std::string to_string(Padding padding) { return padding == Padding::same ? "same" : "valid"; }

namespace {
// Both values are loaded unconditionally so that the select compiles to a blend: a branch
// on the sign of random activations mispredicts half the time (20x slower here).
IMGCLS_VECTOR_CLONES
void mask_by_positive(const float* out, const float* diff_in, float* diff_out, std::int64_t count) {
#pragma omp simd
  for (std::int64_t i = 0; i < count; ++i) {
    const float diff = diff_in[i];
    diff_out[i] = out[i] > 0.0f ? diff : 0.0f;
  }
}
}  // namespace

const Tensor& gradient_before_activation(Activation activation, const Tensor& dst,
                                         const Tensor& diff_dst, Tensor& scratch) {
  if (activation == Activation::none) return diff_dst;
  scratch.resize(diff_dst.shape());
  const float* out = dst.data();
  const float* diff_in = diff_dst.data();
  float* diff_out = scratch.data();
  constexpr std::int64_t kParallelFrom = 1 << 16;  // below this, threads cost more than they save
  parallel_ranges(diff_dst.size(), kParallelFrom, [&](std::int64_t begin, std::int64_t end) {
    mask_by_positive(out + begin, diff_in + begin, diff_out + begin, end - begin);
  });
  return scratch;
}

bool RealRange::contains(double value) const {
  if (std::isnan(value)) return false;
  const bool above_low = low_open ? value > low : value >= low;
  const bool below_high = high_open ? value < high : value <= high;
  return above_low && below_high;
}

std::string RealRange::text() const {
  return fmt::format("{}{}, {}{}", low_open ? "(" : "[", low, high, high_open ? ")" : "]");
}

void check_option(const std::string& where, const std::string& key, double value,
                  const RealRange& range) {
  if (!range.contains(value))
    throw InputError(where, fmt::format("\"{}\" must be in {}, got {}", key, range.text(), value));
}

OptionReader::OptionReader(const nlohmann::json& config, std::string where)
    : config_(config), where_(std::move(where)) {
  if (!config_.is_object())
    throw InputError(where_, "a layer must be a JSON object",
                     R"(e.g. {"type": "Dense", "units": 10})");
  for (const auto& item : config_.items()) seen_[item.key()] = false;
  seen_["type"] = true;
}

std::int64_t OptionReader::positive_int(const std::string& key, std::int64_t fallback,
                                        bool required) {
  if (!config_.contains(key)) {
    if (required) throw InputError(where_, "missing required key \"" + key + "\"");
    return fallback;
  }
  seen_[key] = true;
  const auto& value = config_.at(key);
  if (!value.is_number_integer() || value.get<std::int64_t>() < 1 ||
      value.get<std::int64_t>() > (1 << 20))
    throw InputError(where_,
                     "\"" + key + "\" must be an integer from 1 to 1048576, got " + value.dump());
  return value.get<std::int64_t>();
}

double OptionReader::real(const std::string& key, double fallback, bool required,
                          const RealRange& range) {
  if (!config_.contains(key)) {
    if (required) throw InputError(where_, "missing required key \"" + key + "\"");
    return fallback;
  }
  seen_[key] = true;
  const auto& value = config_.at(key);
  if (!value.is_number())
    throw InputError(
        where_, "\"" + key + "\" must be a number in " + range.text() + ", got " + value.dump());
  check_option(where_, key, value.get<double>(), range);
  return value.get<double>();
}

Activation OptionReader::activation(const std::string& key) {
  if (!config_.contains(key)) return Activation::none;
  seen_[key] = true;
  const auto& value = config_.at(key);
  if (value == "relu") return Activation::relu;
  if (value == "none" || value == "linear") return Activation::none;
  throw InputError(where_, "\"" + key + "\" must be \"relu\" or \"none\", got " + value.dump());
}

Padding OptionReader::padding(const std::string& key) {
  if (!config_.contains(key)) return Padding::valid;
  seen_[key] = true;
  const auto& value = config_.at(key);
  if (value == "valid") return Padding::valid;
  if (value == "same") return Padding::same;
  throw InputError(where_, "\"" + key + "\" must be \"valid\" or \"same\", got " + value.dump());
}

void OptionReader::finish() const {
  for (const auto& [key, seen] : seen_)
    if (!seen) throw InputError(where_, "unknown key \"" + key + "\"");
}

Shape batch_shape(std::int64_t batch, const Shape& sample) {
  Shape shape{batch};
  shape.insert(shape.end(), sample.begin(), sample.end());
  return shape;
}

void check_src(const std::string& layer, const Tensor& src, std::int64_t batch,
               const Shape& sample) {
  IMGCLS_CHECK(src.shape() == batch_shape(batch, sample), "{}: src {}, the kernel takes {}", layer,
               imgcls::to_string(src.shape()), imgcls::to_string(batch_shape(batch, sample)));
}

bool exceeds(const Shape& shape, std::int64_t limit) {
  std::int64_t count = 1;
  for (std::int64_t d : shape) {
    IMGCLS_CHECK(d >= 0, "negative dimension in {}", imgcls::to_string(shape));
    if (d == 0) return false;
    if (count > limit / d) return true;
    count *= d;
  }
  return count > limit;
}

void check_parameter_count(const std::string& layer, const Shape& shape) {
  if (exceeds(shape, kMaxParameters))
    throw InputError(layer,
                     fmt::format("weights of shape {} would hold more than {} parameters",
                                 imgcls::to_string(shape), kMaxParameters),
                     "use fewer filters or units, a smaller kernel, or pool before this layer");
}

}  // namespace imgcls::layers::detail
