// init_from (imgcls/io.hpp): a model's layers loaded from another model's tensors of the same
// name and shape, layer by layer.
#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <set>

#include "imgcls/io.hpp"

namespace imgcls {

namespace {

// A layer's parameters, then its buffers.
std::vector<Param> tensors_of(Layer& layer) {
  std::vector<Param> tensors = layer.params();
  for (const Param& b : layer.buffers()) tensors.push_back(b);
  return tensors;
}

// Why `wanted` cannot be loaded from the source's tensors, or "" when it can.
std::string mismatch(const Param& wanted, const std::map<std::string, const Tensor*>& source) {
  const auto found = source.find(wanted.name);
  if (found == source.end()) return "the source has no " + wanted.name;
  if (found->second->shape() != wanted.value->shape())
    return fmt::format("{} is {} here, {} in the source", wanted.name,
                       to_string(wanted.value->shape()), to_string(found->second->shape()));
  return "";
}

}  // namespace

std::size_t InitReport::loaded_count() const {
  return static_cast<std::size_t>(
      std::count_if(layers.begin(), layers.end(), [](const LayerInit& l) { return l.loaded; }));
}

bool InitReport::loaded(const std::string& layer) const {
  return std::any_of(layers.begin(), layers.end(),
                     [&](const LayerInit& l) { return l.loaded && l.layer == layer; });
}

InitReport init_from(Sequential& model, const Sequential& source) {
  // Layer::params() and buffers() are not const because training writes through them; here
  // the source's are only read.
  std::map<std::string, const Tensor*> source_tensors;
  std::vector<std::pair<std::string, std::vector<std::string>>> source_layers;  // name, tensors
  for (std::size_t i = 0; i < source.layer_count(); ++i) {
    Layer& layer = const_cast<Layer&>(source.layer(i));
    const std::vector<Param> tensors = tensors_of(layer);
    if (tensors.empty()) continue;
    source_layers.emplace_back(layer.name(), std::vector<std::string>{});
    for (const Param& t : tensors) {
      source_tensors.emplace(t.name, t.value);
      source_layers.back().second.push_back(t.name);
    }
  }

  InitReport report;
  std::set<std::string> copied;
  for (std::size_t i = 0; i < model.layer_count(); ++i) {
    Layer& layer = model.layer(i);
    const std::vector<Param> tensors = tensors_of(layer);
    if (tensors.empty()) continue;
    LayerInit entry{.layer = layer.name()};
    for (const Param& t : tensors)
      if (entry.reason = mismatch(t, source_tensors); !entry.reason.empty()) break;
    entry.loaded = entry.reason.empty();
    if (entry.loaded)
      for (const Param& t : tensors) {
        const Tensor& from = *source_tensors.at(t.name);
        std::copy(from.data(), from.data() + from.size(), t.value->data());
        copied.insert(t.name);
      }
    report.layers.push_back(std::move(entry));
  }
  for (const auto& [name, tensors] : source_layers)
    if (std::none_of(tensors.begin(), tensors.end(),
                     [&](const std::string& t) { return copied.contains(t); }))
      report.unused.push_back(name);
  return report;
}

}  // namespace imgcls
