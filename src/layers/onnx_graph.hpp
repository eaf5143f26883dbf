// The ONNX graph a layer writes itself into (its LayerKind::to_onnx, src/layers/registry.hpp).
// An interface without protobuf: src/io/onnx_export.cpp implements it over onnx's messages,
// so layers depend on no ONNX library. Image tensors are NCHW in the graph (ONNX's
// convention) and NHWC in imgcls.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "imgcls/tensor.hpp"

namespace imgcls::layers {

// A node attribute: an integer, a float, or a list of integers.
using OnnxAttribute =
    std::pair<std::string, std::variant<std::int64_t, double, std::vector<std::int64_t>>>;

class OnnxGraph {
 public:
  virtual ~OnnxGraph() = default;
  // The tensor holding the layer's input, and one sample's shape in imgcls's terms: [H, W, C]
  // (NCHW in the graph) or [F].
  virtual const std::string& input() const = 0;
  virtual const Shape& input_shape() const = 0;
  // The name the layer's last node must give its output.
  virtual const std::string& output() const = 0;
  // Adds the node op(inputs) -> output.
  virtual void node(const std::string& op, const std::string& name,
                    const std::vector<std::string>& inputs, const std::string& output,
                    const std::vector<OnnxAttribute>& attributes = {}) = 0;
  // A float initializer holding `value` under `name` (a parameter's name); returns the name.
  virtual std::string initializer(const std::string& name, const Tensor& value) = 0;
};

}  // namespace imgcls::layers
