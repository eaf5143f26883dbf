// save_model / load_model over safetensors. Metadata: format "imgcls-model", version 1,
// architecture (Sequential::config() as JSON text). Tensors: one per parameter and one per
// buffer (BatchNorm's moving statistics, non-trainable), by name.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "imgcls/error.hpp"
#include "imgcls/io.hpp"
#include "io/bounded_json.hpp"
#include "io/parse.hpp"
#include "io/safetensors.hpp"

namespace imgcls {

namespace {
constexpr const char* kFormat = "imgcls-model";
constexpr const char* kVersion = "1";

// What a model file stores: the parameters, then the buffers, each under its own name.
std::vector<Param> stored_tensors(Sequential& model) {
  std::vector<Param> all = model.params();
  for (const Param& b : model.buffers()) all.push_back(b);
  return all;
}
}  // namespace

void save_model(Sequential& model, const std::string& path,
                const nlohmann::json& training_summary) {
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  for (const Param& p : stored_tensors(model)) {
    for (std::int64_t i = 0; i < p.value->size(); ++i)
      if (!std::isfinite((*p.value)[i]))
        throw InputError(path, "not saved: parameter " + p.name + " holds NaN or Inf",
                         "training diverged; lower the learning rate");
    tensors.emplace_back(p.name, p.value);
  }
  std::map<std::string, std::string> metadata = {
      {"format", kFormat},
      {"version", kVersion},
      {"architecture", model.config().dump()},
      {"input_shape", nlohmann::json(model.input_shape()).dump()},
      {"class_names", nlohmann::json(class_names(model)).dump()},
      {"preprocessing", std::string(to_string(model.preprocessing()))},
      {"training", training_summary.dump()}};
  if (model.rejection())
    metadata["rejection"] = nlohmann::json{{"threshold", model.rejection()->threshold}}.dump();
  io::write_safetensors(path, metadata, tensors);
}

namespace {

// The checks of load_model on a container already read; `path` names its source.
Sequential model_from_container(const io::SafetensorsFile& file, const std::string& path) {
  const auto format = file.metadata.find("format");
  if (format == file.metadata.end() || format->second != kFormat)
    throw InputError(path, "not an imgcls model file (no \"format\": \"imgcls-model\" metadata)");
  if (file.metadata.at("format") != kFormat || !file.metadata.contains("version") ||
      file.metadata.at("version") != kVersion)
    throw InputError(path, "unsupported model file version", "this imgcls reads version 1");
  if (!file.metadata.contains("architecture"))
    throw InputError(path, "the model file has no architecture");
  Sequential model = Sequential::from_config(
      io::parse_bounded_json(file.metadata.at("architecture"), path, "the architecture"), path);
  // set_class_names names the setting; the file is the source here.
  const auto name_the_file = [&](const InputError& e) {
    return InputError(path, e.source() + ": " + e.problem(), e.hint());
  };
  if (const auto names = file.metadata.find("class_names"); names != file.metadata.end()) {
    const nlohmann::json list = io::parse_bounded_json(names->second, path, "class_names");
    if (!list.is_array() ||
        !std::all_of(list.begin(), list.end(), [](const auto& v) { return v.is_string(); }))
      throw InputError(path, "class_names must be a list of strings");
    try {
      model.set_class_names(list.get<std::vector<std::string>>());
    } catch (const InputError& e) {
      throw name_the_file(e);
    }
  }
  if (const auto pre = file.metadata.find("preprocessing"); pre != file.metadata.end())
    model.set_preprocessing(parse_preprocessing(pre->second, path));
  if (const auto rule = file.metadata.find("rejection"); rule != file.metadata.end()) {
    const nlohmann::json json = io::parse_bounded_json(rule->second, path, "rejection");
    if (!json.is_object() || !json.contains("threshold") || !json["threshold"].is_number())
      throw InputError(path, "rejection must be an object {\"threshold\": number}");
    try {
      model.set_rejection(RejectionRule{.threshold = json["threshold"].get<float>()});
    } catch (const InputError& e) {
      throw name_the_file(e);
    }
  }
  std::size_t used = 0;
  for (const Param& p : stored_tensors(model)) {
    const auto found = file.tensors.find(p.name);
    if (found == file.tensors.end()) throw InputError(path, "missing parameter " + p.name);
    const io::StoredTensor& stored = found->second;
    if (stored.dtype != "F32" || stored.shape != p.value->shape())
      throw InputError(
          path, fmt::format("parameter {} is {} {}, the architecture needs F32 {}", p.name,
                            stored.dtype, to_string(stored.shape), to_string(p.value->shape())));
    for (float v : stored.f32)
      if (!std::isfinite(v)) throw InputError(path, "parameter " + p.name + " holds NaN or Inf");
    std::copy(stored.f32.begin(), stored.f32.end(), p.value->data());
    ++used;
  }
  if (used != file.tensors.size()) {
    const auto params = stored_tensors(model);  // buffers are not extra
    for (const auto& entry :
         file.tensors) {  // not a structured binding: clang 14 cannot capture one
      const std::string& name = entry.first;
      if (std::none_of(params.begin(), params.end(),
                       [&](const Param& p) { return p.name == name; }))
        throw InputError(path, "tensor " + name + " is not a parameter of the architecture");
    }
  }
  return model;
}

}  // namespace

Sequential load_model(const std::string& path) {
  return model_from_container(io::read_safetensors(path), path);
}

ModelMetadata read_model_metadata(const std::string& path) {
  const io::SafetensorsFile file = io::read_safetensors(path);
  const Sequential model = model_from_container(file, path);
  ModelMetadata metadata{.input_shape = model.input_shape(),
                         .class_names = class_names(model),
                         .preprocessing = std::string(to_string(model.preprocessing())),
                         .rejection = model.rejection()};
  if (const auto training = file.metadata.find("training"); training != file.metadata.end()) {
    metadata.training = io::parse_bounded_json(training->second, path, "the training summary");
    if (!metadata.training.is_object())
      throw InputError(path, "the training summary is not a JSON object");
  }
  return metadata;
}

Sequential io::parse_model(std::string_view bytes, const std::string& source) {
  return model_from_container(io::parse_safetensors(bytes, source), source);
}

}  // namespace imgcls
