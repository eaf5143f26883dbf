// ONNX export (see imgcls/onnx.hpp): walks the model's layers in order; each writes itself
// as ONNX nodes, with its parameters and buffers as initializers, through its registry
// record (LayerKind::to_onnx, from its typed options and the shapes the model built). Image
// tensors are NCHW in the graph (ONNX's convention) and NHWC in imgcls; the only place where
// the order of values is visible is Flatten, which transposes first.
#include <fmt/core.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "core/atomic_file.hpp"
#include "core/check.hpp"
#include "imgcls/error.hpp"
#include "imgcls/onnx.hpp"
#include "layers/registry.hpp"

namespace imgcls {

namespace {

// The graph a layer writes itself into (layers/onnx_graph.hpp), over onnx's messages. It
// follows the model: before each layer, input() is the previous layer's output.
class GraphWriter final : public layers::OnnxGraph {
 public:
  GraphWriter(onnx::GraphProto& graph, std::string input, Shape input_shape)
      : graph_(graph), input_(std::move(input)), input_shape_(std::move(input_shape)) {}

  const std::string& input() const override { return input_; }
  const Shape& input_shape() const override { return input_shape_; }
  const std::string& output() const override { return output_; }

  void node(const std::string& op, const std::string& name, const std::vector<std::string>& inputs,
            const std::string& output,
            const std::vector<layers::OnnxAttribute>& attributes) override {
    onnx::NodeProto& n = *graph_.add_node();
    n.set_op_type(op);
    n.set_name(name);
    for (const auto& in : inputs) n.add_input(in);
    n.add_output(output);
    for (const auto& [key, value] : attributes) {
      onnx::AttributeProto& a = *n.add_attribute();
      a.set_name(key);
      if (const auto* i = std::get_if<std::int64_t>(&value)) {
        a.set_type(onnx::AttributeProto::INT);
        a.set_i(*i);
      } else if (const auto* f = std::get_if<double>(&value)) {
        a.set_type(onnx::AttributeProto::FLOAT);
        a.set_f(static_cast<float>(*f));
      } else {
        a.set_type(onnx::AttributeProto::INTS);
        for (std::int64_t v : std::get<std::vector<std::int64_t>>(value)) a.add_ints(v);
      }
    }
  }

  std::string initializer(const std::string& name, const Tensor& value) override {
    onnx::TensorProto& t = *graph_.add_initializer();
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (std::int64_t d : value.shape()) t.add_dims(d);
    t.mutable_float_data()->Add(value.data(), value.data() + value.size());
    return name;
  }

  // The next layer writes `output`; afterwards its output (of `shape`) is the next input.
  void begin_layer(std::string output) { output_ = std::move(output); }
  void end_layer(const Shape& shape) {
    input_ = output_;
    input_shape_ = shape;
  }

 private:
  onnx::GraphProto& graph_;
  std::string input_, output_;
  Shape input_shape_;
};

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

std::string to_onnx(const Sequential& model) {
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
  add_metadata("preprocessing", std::string(to_string(model.preprocessing())));
  if (model.rejection())  // the last output is "none of these"; the rule is the reader's to apply
    add_metadata("rejection", nlohmann::json{{"class", model.rejection_class()},
                                             {"threshold", model.rejection()->threshold}}
                                  .dump());

  onnx::GraphProto& graph = *proto.mutable_graph();
  graph.set_name("imgcls");
  // In the graph an image input is NCHW: [H, W, C] -> [C, H, W].
  const Shape input_dims = input.size() == 3 ? Shape{input[2], input[0], input[1]} : input;
  set_batched_type(*graph.add_input(), "image", input_dims);

  GraphWriter writer(graph, "image", input);
  for (std::size_t i = 0; i < model.layer_count(); ++i) {
    const Layer& layer = model.layer(i);
    const layers::LayerKind* kind = layers::find_kind(layer.kind());
    if (!kind)
      throw InputError(
          layer.name(),
          fmt::format("layer kind {} is not registered, so it has no ONNX export", layer.kind()),
          "export supports " + layers::kind_names());
    writer.begin_layer(i + 1 == model.layer_count() ? "logits" : layer.name());
    kind->to_onnx(layer, writer);
    writer.end_layer(model.output_shape_of(i));
  }
  writer.node("Softmax", "softmax", {"logits"}, "probabilities", {{"axis", std::int64_t{1}}});
  set_batched_type(*graph.add_output(), "logits", model.output_shape());
  set_batched_type(*graph.add_output(), "probabilities", model.output_shape());

  try {
    onnx::checker::check_model(proto);
  } catch (const std::exception& e) {
    throw Error(std::string("the ONNX checker rejected the exported graph: ") + e.what());
  }
  std::string bytes;
  if (!proto.SerializeToString(&bytes)) throw Error("could not serialize the ONNX model");
  return bytes;
}

void export_onnx(const Sequential& model, const std::string& path) {
  write_file_atomically(path, to_onnx(model));
}

}  // namespace imgcls
