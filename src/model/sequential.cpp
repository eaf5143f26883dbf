// Sequential: layer stack, shape inference at add(), forward/backward over stored
// activations, summary and config round trip.
#include "imgcls/model.hpp"

#include <fmt/core.h>

#include "core/check.hpp"
#include "imgcls/runtime.hpp"
#include "layers/common.hpp"

namespace imgcls {

namespace {
std::int64_t count_values(const std::vector<Param>& tensors) {
  std::int64_t count = 0;
  for (const Param& p : tensors) count += p.value->size();
  return count;
}
// Keras style: "(None, 26, 26, 32)", None standing for the batch.
std::string shape_text(const Shape& shape) {
  std::string text = "(None";
  for (std::int64_t d : shape) text += ", " + std::to_string(d);
  return text + ")";
}
}  // namespace

Sequential::Sequential(Shape input_shape) : input_shape_(std::move(input_shape)) {
  if (input_shape_.empty() || element_count(input_shape_) <= 0)
    throw InputError("model", "input shape " + to_string(input_shape_) + " is empty");
  if (layers::detail::exceeds(input_shape_, layers::detail::kMaxSampleElements))
    throw InputError("model", fmt::format("input shape {} holds more than {} values",
                                          to_string(input_shape_),
                                          layers::detail::kMaxSampleElements));
}

Sequential& Sequential::add(std::unique_ptr<Layer> layer) {
  IMGCLS_CHECK(layer != nullptr, "null layer");
  std::string kind_lower = layer->kind();
  for (char& c : kind_lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  layer->set_name(fmt::format("{}_{}", kind_lower, layers_.size()));
  Shape output = layer->build(output_shape());
  // Bounded here, so a model that loads is one that can run (layers bound their own
  // weights before allocating them).
  if (layers::detail::exceeds(output, layers::detail::kMaxSampleElements))
    throw InputError(layer->name(),
                     fmt::format("output {} would hold more than {} values per sample",
                                 to_string(output), layers::detail::kMaxSampleElements),
                     "use fewer filters or units, or pool before this layer");
  if (parameter_count() + count_values(layer->params()) > layers::detail::kMaxParameters)
    throw InputError(layer->name(), fmt::format("the model would hold more than {} parameters",
                                                layers::detail::kMaxParameters));
  output_shapes_.push_back(std::move(output));
  if (!layers_.empty() && layers_.back()->ends_with_relu() && layer->absorb_input_relu_backward())
    layers_.back()->skip_relu_backward();
  if (!layers_.empty()) {
    const Shape part = layer->input_part_read(output_shapes_[output_shapes_.size() - 2]);
    if (part != output_shapes_[output_shapes_.size() - 2] && layers_.back()->compute_output_part(part))
      layer->read_trimmed_input(part);
  }
  layer->set_training_precision(training_precision_);
  param_counts_.push_back(count_values(layer->params()));
  buffer_counts_.push_back(count_values(layer->buffers()));
  layers_.push_back(std::move(layer));
  outputs_.resize(layers_.size());
  diffs_.resize(layers_.size());
  return *this;
}

void Sequential::set_training_precision(Precision precision) {
  IMGCLS_CHECK(
      precision == Precision::fp32 || bf16_supported(),
      "bf16 training steps need a CPU with AVX512-BF16 or AMX (as oneDNN sees it); this one "
      "would emulate them, slower than fp32, or not run them at all: train in fp32 here");
  training_precision_ = precision;
  for (auto& layer : layers_) layer->set_training_precision(precision);
}

void Sequential::initialize(std::uint64_t seed) {
  Rng rng(seed);
  for (auto& layer : layers_) layer->initialize(rng);
}

const Tensor& Sequential::forward(const Tensor& batch, Mode mode) {
  IMGCLS_CHECK(!layers_.empty(), "the model has no layers");
  IMGCLS_CHECK(batch.rank() == static_cast<std::int64_t>(input_shape_.size()) + 1 &&
                   Shape(batch.shape().begin() + 1, batch.shape().end()) == input_shape_,
               "batch {} does not match the model input {}", to_string(batch.shape()),
               to_string(input_shape_));
  last_input_ = &batch;
  const Tensor* src = &batch;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    layers_[i]->forward(*src, outputs_[i], mode);
    src = &outputs_[i];
  }
  return outputs_.back();
}

void Sequential::backward(const Tensor& diff_output) {
  IMGCLS_CHECK(last_input_ != nullptr, "backward before forward");
  const Tensor* diff_dst = &diff_output;
  for (std::size_t i = layers_.size(); i-- > 0;) {
    const Tensor& src = i == 0 ? *last_input_ : outputs_[i - 1];
    Tensor* diff_src = i == 0 ? nullptr : &diffs_[i - 1];
    layers_[i]->backward(src, outputs_[i], *diff_dst, diff_src);
    diff_dst = diff_src;
  }
}

std::vector<Param> Sequential::params() {
  std::vector<Param> all;
  for (auto& layer : layers_)
    for (Param& p : layer->params()) all.push_back(p);
  return all;
}

std::vector<Param> Sequential::buffers() {
  std::vector<Param> all;
  for (auto& layer : layers_)
    for (Param& p : layer->buffers()) all.push_back(p);
  return all;
}

std::vector<Param> Sequential::params_and_buffers() {
  std::vector<Param> all = params();
  for (Param& b : buffers()) all.push_back(b);
  return all;
}

void Sequential::set_noise_seed(std::uint64_t seed) {
  for (std::size_t i = 0; i < layers_.size(); ++i) layers_[i]->set_noise_seed(derive_seed(seed, i));
}

std::int64_t Sequential::parameter_count() const {
  std::int64_t count = 0;
  for (std::int64_t c : param_counts_) count += c;
  return count;
}

std::int64_t Sequential::non_trainable_count() const {
  std::int64_t count = 0;
  for (std::int64_t c : buffer_counts_) count += c;
  return count;
}

std::string Sequential::summary() const {
  constexpr int kNameWidth = 28, kShapeWidth = 22, kParamWidth = 12;
  const std::string rule(kNameWidth + kShapeWidth + kParamWidth, '-');
  std::string text = fmt::format("{:<{}}{:<{}}{:>{}}\n", "Layer (type)", kNameWidth,
                                 "Output Shape", kShapeWidth, "Param #", kParamWidth);
  text += std::string(rule.size(), '=') + "\n";
  text += fmt::format("{:<{}}{:<{}}{:>{}}\n", "input", kNameWidth,
                      shape_text(input_shape_), kShapeWidth, 0, kParamWidth);
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const Layer& layer = *layers_[i];
    text += fmt::format("{:<{}}{:<{}}{:>{}}\n", layer.name() + " (" + layer.kind() + ")",
                        kNameWidth, shape_text(output_shapes_[i]),
                        kShapeWidth, param_counts_[i] + buffer_counts_[i], kParamWidth);
  }
  text += std::string(rule.size(), '=') + "\n";
  // As Keras: a layer's count and the total include the non-trainable values.
  const std::int64_t trainable = parameter_count(), non_trainable = non_trainable_count();
  text += fmt::format("Total params: {}\nTrainable params: {}\nNon-trainable params: {}\n",
                      trainable + non_trainable, trainable, non_trainable);
  return text;
}

nlohmann::json Sequential::config() const {
  nlohmann::json layer_configs = nlohmann::json::array();
  for (const auto& layer : layers_) layer_configs.push_back(layer->config());
  return {{"input_shape", input_shape_}, {"layers", layer_configs}};
}

Sequential Sequential::from_config(const nlohmann::json& config, const std::string& source) {
  constexpr std::int64_t kMaxDimension = 1 << 16;
  constexpr std::size_t kMaxLayers = 1000;
  if (!config.is_object() || !config.contains("input_shape") || !config.contains("layers"))
    throw InputError(source, "an architecture needs \"input_shape\" and \"layers\"",
                     R"({"input_shape": [28, 28, 1], "layers": [...]})");
  for (const auto& item : config.items())
    if (item.key() != "input_shape" && item.key() != "layers")
      throw InputError(source, "unknown key \"" + item.key() + "\"");
  const auto& shape_json = config.at("input_shape");
  if (!shape_json.is_array() || shape_json.empty() || shape_json.size() > 3)
    throw InputError(source, "\"input_shape\" must be a list of 1 to 3 positive integers");
  Shape input_shape;
  for (const auto& d : shape_json) {
    if (!d.is_number_integer() || d.get<std::int64_t>() < 1 || d.get<std::int64_t>() > kMaxDimension)
      throw InputError(source, "\"input_shape\" entries must be integers from 1 to 65536, got " +
                                   d.dump());
    input_shape.push_back(d.get<std::int64_t>());
  }
  const auto& layer_list = config.at("layers");
  if (!layer_list.is_array() || layer_list.empty() || layer_list.size() > kMaxLayers)
    throw InputError(source, "\"layers\" must be a non-empty list (at most 1000 layers)");
  Sequential model = [&] {
    try {
      return Sequential(input_shape);
    } catch (const InputError& e) {
      throw InputError(source, e.problem(), e.hint());
    }
  }();
  for (std::size_t i = 0; i < layer_list.size(); ++i) {
    const std::string where = fmt::format("{}: layer {}", source, i);
    try {
      model.add(layers::from_config(layer_list[i], where));
    } catch (const InputError& e) {
      if (e.source().rfind(source, 0) == 0) throw;
      throw InputError(where, e.problem(), e.hint());
    }
  }
  return model;
}


}  // namespace imgcls
