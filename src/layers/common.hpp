// Helpers shared by the layer implementations: option parsing from JSON, weight
// initialisation, the activation post-op, and a per-batch-size cache of backend primitives.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
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

// Reads a layer's options from JSON, rejecting unknown keys and wrong types with an
// InputError that names `where` and the key.
class OptionReader {
 public:
  OptionReader(const nlohmann::json& config, std::string where);
  std::int64_t positive_int(const std::string& key, std::int64_t fallback, bool required);
  Activation activation(const std::string& key);
  Padding padding(const std::string& key);
  // Throws if the config has a key that no read asked for.
  void finish() const;

 private:
  const nlohmann::json& config_;
  std::string where_;
  std::map<std::string, bool> seen_;
};

// Backend primitives are built for one batch size; a layer keeps one per size it has met
// (typically the training batch, the last partial batch and the evaluation batch).
template <class Primitive>
class PerBatchSize {
 public:
  template <class Make>
  Primitive& get(std::int64_t batch, Make make) {
    auto& slot = by_batch_[batch];
    if (!slot) slot = make();
    return *slot;
  }

 private:
  std::map<std::int64_t, std::unique_ptr<Primitive>> by_batch_;
};

}  // namespace imgcls::layers::detail
