// The registry (see registry.hpp) and from_config, which reads any registered kind.
#include "layers/registry.hpp"

#include <algorithm>

#include "core/check.hpp"

namespace imgcls::layers {

// The record makers found in src/layers/*.cpp by the build (CMakeLists.txt).
#define IMGCLS_LAYER_KIND(id) LayerKind layer_kind_##id();
#include "layers/layer_kinds.inc"
#undef IMGCLS_LAYER_KIND

namespace {

std::vector<LayerKind> collect() {
  std::vector<LayerKind> kinds;
#define IMGCLS_LAYER_KIND(id) kinds.push_back(layer_kind_##id());
#include "layers/layer_kinds.inc"
#undef IMGCLS_LAYER_KIND
  std::sort(kinds.begin(), kinds.end(),
            [](const LayerKind& a, const LayerKind& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < kinds.size(); ++i)
    IMGCLS_CHECK(kinds[i - 1].name != kinds[i].name, "layer kind {} registered twice",
                 kinds[i].name);
  return kinds;
}

}  // namespace

const std::vector<LayerKind>& registry() {
  static const std::vector<LayerKind> kinds = collect();
  return kinds;
}

const LayerKind* find_kind(std::string_view name) {
  for (const LayerKind& kind : registry())
    if (kind.name == name) return &kind;
  return nullptr;
}

std::string kind_names() {
  std::string names;
  for (const LayerKind& kind : registry()) names += (names.empty() ? "" : ", ") + kind.name;
  return names;
}

std::unique_ptr<Layer> from_config(const nlohmann::json& config, const std::string& where) {
  detail::OptionReader read(config, where);
  const std::string expected = "one of " + kind_names();
  if (!config.contains("type") || !config.at("type").is_string())
    throw InputError(where, "a layer needs a string \"type\"", expected);
  const std::string type = config.at("type").get<std::string>();
  const LayerKind* kind = find_kind(type);
  if (!kind) throw InputError(where, "unknown layer type \"" + type + "\"", expected);
  std::unique_ptr<Layer> layer = kind->from_config(read);
  read.finish();
  return layer;
}

}  // namespace imgcls::layers
