// Shared layer helpers: initialisation, activations, option parsing.
#include "layers/common.hpp"

#include <cmath>

#include "core/check.hpp"

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

const Tensor& gradient_before_activation(Activation activation, const Tensor& dst,
                                         const Tensor& diff_dst, Tensor& scratch) {
  if (activation == Activation::none) return diff_dst;
  scratch.resize(diff_dst.shape());
  const std::int64_t count = diff_dst.size();
  const float* out = dst.data();
  const float* diff_in = diff_dst.data();
  float* diff_out = scratch.data();
  constexpr std::int64_t kParallelFrom = 1 << 16;  // below this, threads cost more than they save
#pragma omp parallel for simd if (count >= kParallelFrom)
  for (std::int64_t i = 0; i < count; ++i) diff_out[i] = out[i] > 0.0f ? diff_in[i] : 0.0f;
  return scratch;
}

OptionReader::OptionReader(const nlohmann::json& config, std::string where)
    : config_(config), where_(std::move(where)) {
  if (!config_.is_object())
    throw InputError(where_, "a layer must be a JSON object", R"(e.g. {"type": "Dense", "units": 10})");
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
    throw InputError(where_, "\"" + key + "\" must be an integer from 1 to 1048576, got " +
                                 value.dump());
  return value.get<std::int64_t>();
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

}  // namespace imgcls::layers::detail
