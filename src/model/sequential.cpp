// Sequential: layer stack, shape inference at add(), summary and config round trip.
#include <fmt/core.h>

#include <algorithm>

#include "core/check.hpp"
#include "imgcls/model.hpp"
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
    throw InputError(
        "model", fmt::format("input shape {} holds more than {} values", to_string(input_shape_),
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
  param_counts_.push_back(count_values(layer->params()));
  buffer_counts_.push_back(count_values(layer->buffers()));
  layers_.push_back(std::move(layer));
  return *this;
}

void Sequential::initialize(std::uint64_t seed) {
  Rng rng(seed);
  for (auto& layer : layers_) layer->initialize(rng);
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

std::string Sequential::summary(std::size_t frozen_layers) const {
  IMGCLS_CHECK(frozen_layers <= layers_.size(), "{} frozen layers of {}", frozen_layers,
               layers_.size());
  // The columns are at least this wide, and wider when a name or a shape needs it, so that
  // a space always separates them ("normalization_0 (Normalization)" takes 31 characters).
  constexpr std::size_t kMinNameWidth = 28, kMinShapeWidth = 22, kParamWidth = 12;
  std::vector<std::string> labels, shapes;
  std::size_t name_width = kMinNameWidth, shape_width = kMinShapeWidth;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    labels.push_back(layers_[i]->name() + " (" + layers_[i]->kind() + ")");
    shapes.push_back(shape_text(output_shapes_[i]));
    name_width = std::max(name_width, labels.back().size() + 1);
    shape_width = std::max(shape_width, shapes.back().size() + 1);
  }
  shape_width = std::max(shape_width, shape_text(input_shape_).size() + 1);
  const std::string rule(name_width + shape_width + kParamWidth, '=');
  std::string text = fmt::format("{:<{}}{:<{}}{:>{}}\n", "Layer (type)", name_width, "Output Shape",
                                 shape_width, "Param #", kParamWidth);
  text += rule + "\n";
  text += fmt::format("{:<{}}{:<{}}{:>{}}\n", "input", name_width, shape_text(input_shape_),
                      shape_width, 0, kParamWidth);
  for (std::size_t i = 0; i < layers_.size(); ++i)
    text += fmt::format("{:<{}}{:<{}}{:>{}}\n", labels[i], name_width, shapes[i], shape_width,
                        param_counts_[i] + buffer_counts_[i], kParamWidth);
  text += rule + "\n";
  // As Keras: a layer's count and the total include the non-trainable values.
  std::int64_t frozen = 0;
  for (std::size_t i = 0; i < frozen_layers; ++i) frozen += param_counts_[i];
  const std::int64_t trainable = parameter_count() - frozen,
                     non_trainable = non_trainable_count() + frozen;
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
    if (!d.is_number_integer() || d.get<std::int64_t>() < 1 ||
        d.get<std::int64_t>() > kMaxDimension)
      throw InputError(source,
                       "\"input_shape\" entries must be integers from 1 to 65536, got " + d.dump());
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
  // A classifier: the loss, evaluation and prediction read one score per class.
  if (model.output_shape().size() != 1) {
    const Layer& last = model.layer(model.layer_count() - 1);
    throw InputError(
        fmt::format("{}: layer {} ({})", source, model.layer_count() - 1, last.name()),
        fmt::format(
            "the model ends in {} outputs {} per image, but a classifier must end in a flat "
            "list of class scores [classes]",
            last.kind(), to_string(model.output_shape())),
        "end the architecture with Flatten (or GlobalAvgPool) and a Dense layer with one unit per "
        "class");
  }
  return model;
}

}  // namespace imgcls
