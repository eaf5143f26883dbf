// Training history files: History <-> JSON (format "imgcls-history", version 1).
#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/atomic_file.hpp"
#include "imgcls/error.hpp"
#include "imgcls/io.hpp"

namespace imgcls {

namespace {

constexpr const char* kFormat = "imgcls-history";
constexpr int kVersion = 1;

double number_field(const nlohmann::json& object, const char* name, const std::string& path,
                    const std::string& where) {
  const auto found = object.find(name);
  if (found == object.end() || !found->is_number())
    throw InputError(path, fmt::format("{}: \"{}\" is missing or not a number", where, name));
  return found->get<double>();
}

std::optional<double> optional_number_field(const nlohmann::json& object, const char* name,
                                            const std::string& path, const std::string& where) {
  if (!object.contains(name)) return std::nullopt;
  return number_field(object, name, path, where);
}

// An optional true/false field; absent means false.
bool flag_field(const nlohmann::json& object, const char* name, const std::string& path) {
  const auto found = object.find(name);
  if (found == object.end()) return false;
  if (!found->is_boolean())
    throw InputError(path, fmt::format("\"{}\" is not true or false", name));
  return found->get<bool>();
}

}  // namespace

std::string history_path_for(const std::string& model_path) {
  const std::filesystem::path model(model_path);
  return (model.parent_path() / (model.stem().string() + ".history.json")).string();
}

nlohmann::json history_to_json(const History& history) {
  nlohmann::json epochs = nlohmann::json::array();
  for (const EpochStats& e : history.epochs) {
    nlohmann::json epoch = {{"epoch", e.epoch},
                            {"loss", e.loss},
                            {"accuracy", e.accuracy},
                            {"seconds", e.seconds},
                            {"learning_rate", e.learning_rate}};
    if (e.validation_loss) epoch["validation_loss"] = *e.validation_loss;
    if (e.validation_accuracy) epoch["validation_accuracy"] = *e.validation_accuracy;
    epochs.push_back(std::move(epoch));
  }
  return {{"format", kFormat},
          {"version", kVersion},
          {"train_seconds", history.train_seconds},
          {"stopped_early", history.stopped_early},
          {"interrupted", history.interrupted},
          {"epochs", std::move(epochs)}};
}

void save_history(const History& history, const std::string& path) {
  write_file_atomically(path, history_to_json(history).dump(2) + "\n");
}

History load_history(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    throw InputError(path, std::string("cannot open the training history: ") + std::strerror(errno),
                     "`imgcls run` writes history.json next to model.safetensors");
  std::stringstream text;
  text << file.rdbuf();
  if (file.bad()) throw InputError(path, "read failed");
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text.str());
  } catch (const std::exception& e) {
    throw InputError(path, std::string("not valid JSON: ") + e.what());
  }
  return history_from_json(json, path);
}

History history_from_json(const nlohmann::json& json, const std::string& path) {
  if (!json.is_object() || !json.contains("format") || json["format"] != kFormat)
    throw InputError(path, "not an imgcls training history (no \"format\": \"imgcls-history\")");
  if (!json.contains("version") || json["version"] != kVersion)
    throw InputError(path, "unsupported history version", "this imgcls reads version 1");
  if (!json.contains("epochs") || !json["epochs"].is_array())
    throw InputError(path, "\"epochs\" is missing or not an array");
  if (json["epochs"].empty()) throw InputError(path, "the history has no epochs");

  History history;
  history.train_seconds = number_field(json, "train_seconds", path, "top level");
  history.stopped_early = flag_field(json, "stopped_early", path);
  history.interrupted = flag_field(json, "interrupted", path);
  for (std::size_t i = 0; i < json["epochs"].size(); ++i) {
    const nlohmann::json& entry = json["epochs"][i];
    const std::string where = fmt::format("epochs[{}]", i);
    if (!entry.is_object()) throw InputError(path, where + " is not an object");
    EpochStats e;
    const double epoch = number_field(entry, "epoch", path, where);
    if (epoch != static_cast<double>(i + 1))
      throw InputError(path, fmt::format("{}: epoch is {}, expected {}", where, epoch, i + 1));
    e.epoch = static_cast<int>(i + 1);
    e.loss = number_field(entry, "loss", path, where);
    e.accuracy = number_field(entry, "accuracy", path, where);
    e.seconds = number_field(entry, "seconds", path, where);
    e.learning_rate = optional_number_field(entry, "learning_rate", path, where).value_or(0.0);
    e.validation_loss = optional_number_field(entry, "validation_loss", path, where);
    e.validation_accuracy = optional_number_field(entry, "validation_accuracy", path, where);
    history.epochs.push_back(e);
  }
  return history;
}

}  // namespace imgcls
