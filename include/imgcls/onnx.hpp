// ONNX export: a Sequential model as an ONNX graph (opset 13) that any ONNX runtime can run
// for inference, with the same outputs as imgcls's own predict.
//
//   input  "image"          float [batch, C, H, W] (NCHW; MNIST: [batch, 1, 28, 28]), pixels
//                           scaled to [0, 1] (byte / 255) outside the model, as imgcls's
//                           readers do; batch is a dynamic dimension.
//                           A model with a flat input [F] takes [batch, F].
//   outputs "logits"        float [batch, classes], the last layer's output
//           "probabilities" float [batch, classes], softmax of the logits
//
// imgcls keeps activations in NHWC; the graph runs the image layers in ONNX's NCHW and
// transposes to NHWC before each Flatten, so the flattened order (and the Dense weights
// after it) are imgcls's own. Inference semantics: BatchNorm uses its moving statistics,
// Dropout is the identity. The class names and the preprocessing name are kept in the
// model's metadata_props ("class_names" as a JSON list, "preprocessing").
#pragma once

#include <string>

#include "imgcls/model.hpp"

namespace imgcls {

// The ONNX opset the export targets.
inline constexpr int kOnnxOpset = 13;

// The serialized ONNX ModelProto of `model`, checked with onnx::checker::check_model.
// Every layer kind exports. Throws InputError naming the model when its output is not flat
// ([classes]); throws Error when the checker rejects the graph (a bug in the exporter).
std::string to_onnx(const Sequential& model);

// to_onnx, written atomically to `path` (nothing is written when the export fails).
void export_onnx(const Sequential& model, const std::string& path);

}  // namespace imgcls
