// ONNX export (see imgcls/onnx.hpp): walks the model's layers in order, tracking one
// sample's shape, and emits each layer as ONNX nodes with its parameters and buffers as
// initializers. Image tensors are NCHW in the graph (ONNX's convention) and NHWC in imgcls;
// the only place where the order of values is visible is Flatten, which transposes first.
#include "imgcls/onnx.hpp"

#include <fmt/core.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/atomic_file.hpp"
#include "core/check.hpp"
#include "imgcls/error.hpp"

namespace imgcls {

namespace {

// The tensor holding the last layer's output and one sample's shape in imgcls's terms:
// [H, W, C] (stored NCHW in the graph) or [F].
struct Cursor {
  std::string tensor;
  Shape shape;
};

class GraphWriter {
 public:
  explicit GraphWriter(onnx::GraphProto& graph) : graph_(graph) {}

  onnx::NodeProto& node(const std::string& op, const std::string& name,
                        const std::vector<std::string>& inputs, const std::string& output) {
    onnx::NodeProto& n = *graph_.add_node();
    n.set_op_type(op);
    n.set_name(name);
    for (const auto& input : inputs) n.add_input(input);
    n.add_output(output);
    return n;
  }

  // A float initializer named like the parameter ("conv2d_0.weight"), of the tensor's shape.
  const std::string& initializer(const Param& param) {
    onnx::TensorProto& t = *graph_.add_initializer();
    t.set_name(param.name);
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (std::int64_t d : param.value->shape()) t.add_dims(d);
    t.mutable_float_data()->Add(param.value->data(), param.value->data() + param.value->size());
    return param.name;
  }

 private:
  onnx::GraphProto& graph_;
};

void set_int(onnx::NodeProto& node, const std::string& key, std::int64_t value) {
  onnx::AttributeProto& a = *node.add_attribute();
  a.set_name(key);
  a.set_type(onnx::AttributeProto::INT);
  a.set_i(value);
}

void set_float(onnx::NodeProto& node, const std::string& key, double value) {
  onnx::AttributeProto& a = *node.add_attribute();
  a.set_name(key);
  a.set_type(onnx::AttributeProto::FLOAT);
  a.set_f(static_cast<float>(value));
}

void set_ints(onnx::NodeProto& node, const std::string& key,
              const std::vector<std::int64_t>& values) {
  onnx::AttributeProto& a = *node.add_attribute();
  a.set_name(key);
  a.set_type(onnx::AttributeProto::INTS);
  for (std::int64_t v : values) a.add_ints(v);
}

// The layer's parameter or buffer whose name ends in `suffix` (".weight", ".moving_mean").
Param find_param(Layer& layer, const std::string& suffix) {
  std::vector<Param> all = layer.params();
  const std::vector<Param> buffers = layer.buffers();
  all.insert(all.end(), buffers.begin(), buffers.end());
  for (const Param& p : all)
    if (p.name == layer.name() + suffix) return p;
  throw UsageError(fmt::format("{}: no parameter {}", layer.name(), suffix));
}

// Keras/TensorFlow "same" padding, as Conv2D builds it: ceil(in / stride) outputs, the odd
// pixel of padding at the bottom/right. Returns {before, after}.
std::pair<std::int64_t, std::int64_t> same_padding(std::int64_t in, std::int64_t kernel,
                                                   std::int64_t stride) {
  const std::int64_t out = (in + stride - 1) / stride;
  const std::int64_t total = std::max<std::int64_t>((out - 1) * stride + kernel - in, 0);
  return {total / 2, total - total / 2};
}

std::int64_t pooled_size(std::int64_t in, std::int64_t window, std::int64_t stride) {
  return (in - window) / stride + 1;
}

// Each function emits one layer, reading `at` and leaving it on the layer's output, whose
// final tensor is named `out`.

// src [N, C, H, W] -> Conv (-> Relu) -> dst [N, filters, H', W']
void export_conv2d(GraphWriter& g, Layer& layer, Cursor& at, const std::string& out) {
  const nlohmann::json c = layer.config();
  const auto kernel = c.at("kernel_size").get<std::int64_t>();
  const auto stride = c.at("strides").get<std::int64_t>();
  const auto filters = c.at("filters").get<std::int64_t>();
  const bool relu = c.at("activation") == "relu";
  std::pair<std::int64_t, std::int64_t> pad_h{0, 0}, pad_w{0, 0};
  if (c.at("padding") == "same") {
    pad_h = same_padding(at.shape[0], kernel, stride);
    pad_w = same_padding(at.shape[1], kernel, stride);
  }
  const std::string conv_out = relu ? layer.name() + "/conv" : out;
  auto& conv = g.node("Conv", layer.name(),
                      {at.tensor, g.initializer(find_param(layer, ".weight")),
                       g.initializer(find_param(layer, ".bias"))},
                      conv_out);
  set_ints(conv, "kernel_shape", {kernel, kernel});
  set_ints(conv, "strides", {stride, stride});
  set_ints(conv, "pads", {pad_h.first, pad_w.first, pad_h.second, pad_w.second});
  if (relu) g.node("Relu", layer.name() + "/relu", {conv_out}, out);
  at.shape = {(at.shape[0] + pad_h.first + pad_h.second - kernel) / stride + 1,
              (at.shape[1] + pad_w.first + pad_w.second - kernel) / stride + 1, filters};
}

// src [N, C, H, W] -> dst [N, C, H', W'], no padding, floor rounding
void export_pool2d(GraphWriter& g, Layer& layer, Cursor& at, const std::string& out) {
  const nlohmann::json c = layer.config();
  const auto window = c.at("pool_size").get<std::int64_t>();
  const auto stride = c.at("strides").get<std::int64_t>();
  const bool max = layer.kind() == "MaxPool2D";
  auto& pool = g.node(max ? "MaxPool" : "AveragePool", layer.name(), {at.tensor}, out);
  set_ints(pool, "kernel_shape", {window, window});
  set_ints(pool, "strides", {stride, stride});
  at.shape = {pooled_size(at.shape[0], window, stride), pooled_size(at.shape[1], window, stride),
              at.shape[2]};
}

// src [N, F] -> Gemm (-> Relu) -> dst [N, units]; weights [units, F], hence transB.
void export_dense(GraphWriter& g, Layer& layer, Cursor& at, const std::string& out) {
  const nlohmann::json c = layer.config();
  const bool relu = c.at("activation") == "relu";
  const std::string gemm_out = relu ? layer.name() + "/gemm" : out;
  auto& gemm = g.node("Gemm", layer.name(),
                      {at.tensor, g.initializer(find_param(layer, ".weight")),
                       g.initializer(find_param(layer, ".bias"))},
                      gemm_out);
  set_int(gemm, "transB", 1);
  if (relu) g.node("Relu", layer.name() + "/relu", {gemm_out}, out);
  at.shape = {c.at("units").get<std::int64_t>()};
}

// src [N, C, H, W] or [N, C] -> dst of the same shape, with the moving statistics
void export_batch_norm(GraphWriter& g, Layer& layer, Cursor& at, const std::string& out) {
  auto& bn = g.node(
      "BatchNormalization", layer.name(),
      {at.tensor, g.initializer(find_param(layer, ".gamma")),
       g.initializer(find_param(layer, ".beta")), g.initializer(find_param(layer, ".moving_mean")),
       g.initializer(find_param(layer, ".moving_variance"))},
      out);
  set_float(bn, "epsilon", layer.config().at("epsilon").get<double>());
}

// src [N, C, H, W] -> Transpose -> [N, H, W, C] -> Flatten -> dst [N, H*W*C]: imgcls's order.
// A flat src is passed through.
void export_flatten(GraphWriter& g, Layer& layer, Cursor& at, const std::string& out) {
  if (at.shape.size() == 1) {
    g.node("Identity", layer.name(), {at.tensor}, out);
    return;
  }
  const std::string nhwc = layer.name() + "/nhwc";
  set_ints(g.node("Transpose", layer.name() + "/to_nhwc", {at.tensor}, nhwc), "perm", {0, 2, 3, 1});
  set_int(g.node("Flatten", layer.name(), {nhwc}, out), "axis", 1);
  at.shape = {element_count(at.shape)};
}

// src [N, C, H, W] -> GlobalAveragePool -> [N, C, 1, 1] -> Flatten -> dst [N, C]
void export_global_avg_pool(GraphWriter& g, Layer& layer, Cursor& at, const std::string& out) {
  const std::string pooled = layer.name() + "/pooled";
  g.node("GlobalAveragePool", layer.name(), {at.tensor}, pooled);
  set_int(g.node("Flatten", layer.name() + "/flatten", {pooled}, out), "axis", 1);
  at.shape = {at.shape[2]};
}

void export_layer(GraphWriter& g, Layer& layer, Cursor& at, const std::string& out) {
  const std::string kind = layer.kind();
  if (kind == "Conv2D") {
    export_conv2d(g, layer, at, out);
  } else if (kind == "MaxPool2D" || kind == "AvgPool2D") {
    export_pool2d(g, layer, at, out);
  } else if (kind == "Dense") {
    export_dense(g, layer, at, out);
  } else if (kind == "BatchNorm") {
    export_batch_norm(g, layer, at, out);
  } else if (kind == "Flatten") {
    export_flatten(g, layer, at, out);
  } else if (kind == "GlobalAvgPool") {
    export_global_avg_pool(g, layer, at, out);
  } else if (kind == "ReLU") {
    g.node("Relu", layer.name(), {at.tensor}, out);
  } else if (kind == "LeakyReLU") {
    set_float(g.node("LeakyRelu", layer.name(), {at.tensor}, out), "alpha",
              layer.config().at("alpha").get<double>());
  } else if (kind == "Dropout") {
    g.node("Identity", layer.name(), {at.tensor}, out);  // inference: no dropout
  } else {
    throw InputError(layer.name(), fmt::format("{} layers have no ONNX export", kind),
                     "export supports Conv2D, MaxPool2D, AvgPool2D, GlobalAvgPool, BatchNorm, "
                     "Dropout, LeakyReLU, ReLU, Flatten and Dense");
  }
  at.tensor = out;
}

// A float tensor type [batch, dims...] with a dynamic batch dimension.
void set_batched_type(onnx::ValueInfoProto& value, const std::string& name, const Shape& dims) {
  value.set_name(name);
  auto& tensor_type = *value.mutable_type()->mutable_tensor_type();
  tensor_type.set_elem_type(onnx::TensorProto::FLOAT);
  auto& shape = *tensor_type.mutable_shape();
  shape.add_dim()->set_dim_param("batch");
  for (std::int64_t d : dims) shape.add_dim()->set_dim_value(d);
}

}  // namespace

std::string to_onnx(Sequential& model) {
  if (model.layer_count() == 0) throw InputError("model", "the model has no layers to export");
  const Shape& input = model.input_shape();
  if (input.size() != 1 && input.size() != 3)
    throw InputError("model",
                     "ONNX export needs an input [H, W, C] or [F], got " + to_string(input));
  if (model.output_shape().size() != 1)
    throw InputError(
        "model",
        "ONNX export needs a flat output [classes], got " + to_string(model.output_shape()),
        "end the model with a Dense layer");

  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.set_producer_name("imgcls");
  proto.set_doc_string(
      "input 'image': float [batch, C, H, W] (NCHW), pixel bytes / 255; outputs 'logits' and "
      "'probabilities' (softmax): float [batch, classes]");
  onnx::OperatorSetIdProto& opset = *proto.add_opset_import();
  opset.set_domain("");
  opset.set_version(kOnnxOpset);
  auto add_metadata = [&](const std::string& key, const std::string& value) {
    onnx::StringStringEntryProto& entry = *proto.add_metadata_props();
    entry.set_key(key);
    entry.set_value(value);
  };
  add_metadata("class_names", nlohmann::json(class_names(model)).dump());
  add_metadata("preprocessing", model.preprocessing());

  onnx::GraphProto& graph = *proto.mutable_graph();
  graph.set_name("imgcls");
  // In the graph an image input is NCHW: [H, W, C] -> [C, H, W].
  const Shape input_dims = input.size() == 3 ? Shape{input[2], input[0], input[1]} : input;
  set_batched_type(*graph.add_input(), "image", input_dims);

  GraphWriter writer(graph);
  Cursor at{.tensor = "image", .shape = input};
  for (std::size_t i = 0; i < model.layer_count(); ++i) {
    Layer& layer = model.layer(i);
    export_layer(writer, layer, at, i + 1 == model.layer_count() ? "logits" : layer.name());
  }
  IMGCLS_CHECK(at.shape == model.output_shape(), "exported output {} vs the model's {}",
               to_string(at.shape), to_string(model.output_shape()));
  set_int(writer.node("Softmax", "softmax", {"logits"}, "probabilities"), "axis", 1);
  set_batched_type(*graph.add_output(), "logits", at.shape);
  set_batched_type(*graph.add_output(), "probabilities", at.shape);

  try {
    onnx::checker::check_model(proto);
  } catch (const std::exception& e) {
    throw Error(std::string("the ONNX checker rejected the exported graph: ") + e.what());
  }
  std::string bytes;
  if (!proto.SerializeToString(&bytes)) throw Error("could not serialize the ONNX model");
  return bytes;
}

void export_onnx(Sequential& model, const std::string& path) {
  write_file_atomically(path, to_onnx(model));
}

}  // namespace imgcls
