// The layer registry: every layer kind, with everything the rest of imgcls needs to know
// about it in one record. Each layer's own file defines its record in a function
//   LayerKind layer_kind_<id>() { ... }
// at the start of a line; the build finds those functions in src/layers/*.cpp and lists them
// (generated layer_kinds.inc), so a new layer file is registered by existing, with no list
// to edit. from_config, the ONNX export, error messages naming the kinds, the fuzz dictionary
// and corpus (fuzz/make_corpus.cpp) and the parameterised test suites (tests/registry_test.cpp:
// kernel vs reference, gradient check, save/load, ONNX Runtime) all iterate the registry, and
// a record that lacks a part fails those tests.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "imgcls/layers.hpp"
#include "layers/common.hpp"
#include "layers/onnx_graph.hpp"

namespace imgcls::layers {

// A small instance of the kind for the test suites, the fuzz corpus and the ONNX check:
// its config and an input [N, ...sample] it takes.
struct LayerExample {
  nlohmann::json config;
  Shape input_shape;
};

// The naive loops of src/ref computing what a built layer computes in Mode::infer: forward,
// and backward after it (diff_params resized, one per Layer::params(), in that order).
struct ReferenceOps {
  std::function<void(const Layer& layer, const Tensor& src, Tensor& dst)> forward;
  std::function<void(const Layer& layer, const Tensor& src, const Tensor& dst,
                     const Tensor& diff_dst, Tensor& diff_src, std::vector<Tensor>& diff_params)>
      backward;
};

struct LayerKind {
  std::string name;  // the config's "type": "Conv2D"
  // Reads the options (each read through `options`, which afterwards rejects any key no read
  // asked for) and makes the layer, unbuilt.
  std::function<std::unique_ptr<Layer>(detail::OptionReader& options)> from_config;
  // Writes the built layer into an ONNX graph (inference semantics).
  std::function<void(const Layer& layer, OnnxGraph& graph)> to_onnx;
  ReferenceOps reference;
  // Largest |kernel - reference| / max(1, |reference|) accepted in the suites.
  double reference_tolerance = 1e-5;
  std::vector<LayerExample> examples;
  // Option names and values the fuzzer's dictionary should hold, besides the kind's name.
  std::vector<std::string> fuzz_tokens;
};

// Every registered kind, sorted by name.
const std::vector<LayerKind>& registry();
// The kind called `name`, or null.
const LayerKind* find_kind(std::string_view name);
// "AvgPool2D, BatchNorm, ...": the kinds, for messages.
std::string kind_names();

}  // namespace imgcls::layers
