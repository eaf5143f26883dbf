// Checkpoint files: a safetensors container (format "imgcls-checkpoint", version 1) with
//   tensors   <param name>          the weights
//             <buffer name>         non-trainable state (BatchNorm's moving statistics)
//             optimizer.<k>         the optimizer's k-th state buffer
//             best.<param name>     early stopping's best weights, when it has them
//   metadata  architecture, frozen_layers (absent: 0), optimizer_kind, optimizer_steps,
//             state (JSON), run_config (JSON)
// The optimizer's buffers take turns over the parameters the run trains (those after the
// frozen layers): optimizer.k belongs to the (k mod count)-th of them.
#include <fmt/core.h>

#include <algorithm>
#include <limits>
#include <type_traits>
#include <utility>

#include "core/check.hpp"
#include "imgcls/io.hpp"
#include "io/bounded_json.hpp"
#include "io/parse.hpp"
#include "io/safetensors.hpp"

namespace imgcls {

namespace {

constexpr const char* kFormat = "imgcls-checkpoint";
constexpr const char* kVersion = "1";

nlohmann::json state_to_json(const TrainingState& state) {
  History finished;
  finished.epochs = state.finished;
  return {{"epoch", state.epoch},
          {"step", state.step},
          {"epoch_loss_sum", state.epoch_loss_sum},
          {"epoch_correct", state.epoch_correct},
          {"epoch_seen", state.epoch_seen},
          {"finished", history_to_json(finished)},
          {"best_val_loss", state.best_val_loss},
          {"epochs_since_best", state.epochs_since_best}};
}

nlohmann::json parse_json(const std::map<std::string, std::string>& metadata,
                          const std::string& key, const std::string& path) {
  const auto found = metadata.find(key);
  if (found == metadata.end()) throw InputError(path, "the checkpoint has no \"" + key + "\"");
  return io::parse_bounded_json(found->second, path, "\"" + key + "\"");
}

// An integer field must hold an integer that T can represent (a float such as 1e300 would
// not convert); a floating-point field any number.
template <class T>
T field(const nlohmann::json& object, const char* name, const std::string& path) {
  const auto found = object.is_object() ? object.find(name) : object.end();
  bool valid = found != object.end() && found->is_number();
  if constexpr (std::is_integral_v<T>) {
    valid =
        valid && found->is_number_integer() &&
        (found->is_number_unsigned() ? found->template get<std::uint64_t>() <=
                                           static_cast<std::uint64_t>(std::numeric_limits<T>::max())
                                     : std::in_range<T>(found->template get<std::int64_t>()));
  }
  if (!valid) throw InputError(path, fmt::format("the checkpoint state has no valid \"{}\"", name));
  return found->template get<T>();
}

const io::StoredTensor& f32_tensor(const io::SafetensorsFile& file, const std::string& name,
                                   const Shape& shape, const std::string& path) {
  const auto found = file.tensors.find(name);
  if (found == file.tensors.end()) throw InputError(path, "missing tensor " + name);
  if (found->second.dtype != "F32" || found->second.shape != shape)
    throw InputError(path,
                     fmt::format("tensor {} is {} {}, expected F32 {}", name, found->second.dtype,
                                 to_string(found->second.shape), to_string(shape)));
  return found->second;
}

// frozen_layers: absent (checkpoints from before fine-tuning) is 0.
std::size_t read_frozen_layers(const std::map<std::string, std::string>& metadata,
                               std::size_t layer_count, const std::string& path) {
  const auto found = metadata.find("frozen_layers");
  if (found == metadata.end()) return 0;
  const std::string& text = found->second;
  const bool digits =
      !text.empty() && text.size() <= 9 &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || std::stoul(text) > layer_count)
    throw InputError(path,
                     fmt::format("frozen_layers is not a layer count from 0 to {}", layer_count));
  return std::stoul(text);
}

// The optimizer's buffers take turns over the trained parameters, each the size of its own.
void check_optimizer_buffers(LoadedCheckpoint& loaded, const std::string& path) {
  const std::vector<Param> trained = trainable_params(loaded.model, loaded.frozen_layers);
  const auto& buffers = loaded.optimizer_buffers;
  if (buffers.empty()) return;
  if (trained.empty() || buffers.size() % trained.size() != 0)
    throw InputError(path, fmt::format("{} optimizer buffers for {} trained parameters",
                                       buffers.size(), trained.size()));
  for (std::size_t k = 0; k < buffers.size(); ++k) {
    const Param& p = trained[k % trained.size()];
    if (static_cast<std::int64_t>(buffers[k].size()) != p.value->size())
      throw InputError(path, fmt::format("optimizer.{} holds {} values, {} has {}", k,
                                         buffers[k].size(), p.name, p.value->size()));
  }
}

}  // namespace

void save_checkpoint(const std::string& path, Sequential& model, Optimizer& optimizer,
                     const TrainingState& state, const nlohmann::json& run_config,
                     std::size_t frozen_layers) {
  IMGCLS_CHECK(frozen_layers <= model.layer_count(), "{} frozen layers of {}", frozen_layers,
               model.layer_count());
  const std::vector<Param> params = model.params();
  std::vector<Tensor> optimizer_tensors, best = state.best_weights;
  for (const auto& buffer : optimizer.state_buffers())
    optimizer_tensors.emplace_back(Shape{static_cast<std::int64_t>(buffer.size())}, buffer);
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  tensors.reserve(params.size() + model.buffers().size() + optimizer_tensors.size());
  for (const Param& p : params) tensors.emplace_back(p.name, p.value);
  for (const Param& b : model.buffers()) tensors.emplace_back(b.name, b.value);
  for (std::size_t k = 0; k < optimizer_tensors.size(); ++k)
    tensors.emplace_back(fmt::format("optimizer.{}", k), &optimizer_tensors[k]);
  const std::vector<Param> everything = model.params_and_buffers();
  for (std::size_t i = 0; i < best.size(); ++i)
    tensors.emplace_back("best." + everything[i].name, &best[i]);
  io::write_safetensors(path,
                        {{"format", kFormat},
                         {"version", kVersion},
                         {"architecture", model.config().dump()},
                         {"frozen_layers", std::to_string(frozen_layers)},
                         {"optimizer_kind", optimizer.kind()},
                         {"optimizer_steps", std::to_string(optimizer.steps_taken())},
                         {"state", state_to_json(state).dump()},
                         {"run_config", run_config.dump()}},
                        tensors);
}

namespace {

// The checks of load_checkpoint on a container already read; `path` names its source.
LoadedCheckpoint checkpoint_from_container(const io::SafetensorsFile& file,
                                           const std::string& path) {
  const auto format = file.metadata.find("format");
  if (format == file.metadata.end() || format->second != kFormat)
    throw InputError(path, "not an imgcls checkpoint (no \"format\": \"imgcls-checkpoint\")",
                     "pass the checkpoint.safetensors written by imgcls train");
  if (!file.metadata.contains("version") || file.metadata.at("version") != kVersion)
    throw InputError(path, "unsupported checkpoint version", "this imgcls reads version 1");

  LoadedCheckpoint loaded{
      Sequential::from_config(parse_json(file.metadata, "architecture", path), path)};
  const nlohmann::json state = parse_json(file.metadata, "state", path);
  loaded.run_config = parse_json(file.metadata, "run_config", path);
  loaded.frozen_layers = read_frozen_layers(file.metadata, loaded.model.layer_count(), path);
  loaded.optimizer_kind =
      file.metadata.contains("optimizer_kind") ? file.metadata.at("optimizer_kind") : "";
  try {
    loaded.optimizer_steps = std::stoll(
        file.metadata.contains("optimizer_steps") ? file.metadata.at("optimizer_steps") : "x");
  } catch (const std::exception&) {
    throw InputError(path, "optimizer_steps is missing or not a number");
  }
  if (loaded.optimizer_steps < 0) throw InputError(path, "optimizer_steps is negative");

  TrainingState& s = loaded.state;
  s.epoch = field<int>(state, "epoch", path);
  s.step = field<std::int64_t>(state, "step", path);
  s.epoch_loss_sum = field<double>(state, "epoch_loss_sum", path);
  s.epoch_correct = field<std::int64_t>(state, "epoch_correct", path);
  s.epoch_seen = field<std::int64_t>(state, "epoch_seen", path);
  s.best_val_loss = field<double>(state, "best_val_loss", path);
  s.epochs_since_best = field<int>(state, "epochs_since_best", path);
  if (s.epoch < 1 || s.step < 0 || s.epoch_seen < 0 || s.epoch_correct < 0 ||
      s.epoch_correct > s.epoch_seen)
    throw InputError(path, "the checkpoint state is inconsistent");
  if (state.contains("finished") && state["finished"].contains("epochs") &&
      !state["finished"]["epochs"].empty())
    s.finished = history_from_json(state["finished"], path).epochs;

  std::size_t used = 0;
  const std::vector<Param> params = loaded.model.params();
  for (const Param& p : params) {
    const auto& stored = f32_tensor(file, p.name, p.value->shape(), path);
    std::copy(stored.f32.begin(), stored.f32.end(), p.value->data());
    ++used;
  }
  for (const Param& b : loaded.model.buffers()) {
    const auto& stored = f32_tensor(file, b.name, b.value->shape(), path);
    std::copy(stored.f32.begin(), stored.f32.end(), b.value->data());
    ++used;
  }
  const std::vector<Param> everything = loaded.model.params_and_buffers();
  for (const Param& p : everything)
    if (file.tensors.contains("best." + p.name)) {
      s.best_weights.emplace_back(p.value->shape(),
                                  f32_tensor(file, "best." + p.name, p.value->shape(), path).f32);
      ++used;
    }
  if (!s.best_weights.empty() && s.best_weights.size() != everything.size())
    throw InputError(path, "the checkpoint holds best weights for only some parameters");
  for (std::size_t k = 0; file.tensors.contains(fmt::format("optimizer.{}", k)); ++k) {
    const auto& stored = file.tensors.at(fmt::format("optimizer.{}", k));
    if (stored.dtype != "F32" || stored.shape.size() != 1)
      throw InputError(path, fmt::format("optimizer.{} is not a flat F32 tensor", k));
    loaded.optimizer_buffers.push_back(stored.f32);
    ++used;
  }
  if (used != file.tensors.size())
    throw InputError(path, fmt::format("{} tensors the checkpoint format does not use",
                                       file.tensors.size() - used));
  check_optimizer_buffers(loaded, path);
  return loaded;
}

}  // namespace

LoadedCheckpoint load_checkpoint(const std::string& path) {
  return checkpoint_from_container(io::read_safetensors(path), path);
}

LoadedCheckpoint io::parse_checkpoint(std::string_view bytes, const std::string& source) {
  return checkpoint_from_container(io::parse_safetensors(bytes, source), source);
}

}  // namespace imgcls
