// imgcls export: a saved model as an ONNX file (opset 13) for other runtimes; the layout,
// scaling and tensor names are those of imgcls/onnx.hpp.
#include <fmt/core.h>

#include "commands.hpp"
#include "imgcls/io.hpp"
#include "imgcls/onnx.hpp"

namespace imgcls::cli {

Action add_export_command(CLI::App& app) {
  struct Options {
    std::string model_path, onnx_path;
  };
  auto options = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("export", "Write a saved model as an ONNX file");
  cmd->add_option("model", options->model_path, "A model file (.safetensors)")->required();
  cmd->add_option("--onnx", options->onnx_path, "The ONNX file to write (replaced atomically)")
      ->required();
  return [options] {
    Sequential model = load_model(options->model_path);
    export_onnx(model, options->onnx_path);
    const Shape& input = model.input_shape();
    const std::string input_dims =
        input.size() == 3 ? fmt::format("[N, {}, {}, {}]", input[2], input[0], input[1])
                          : fmt::format("[N, {}]", input[0]);
    fmt::print(
        "wrote {} (ONNX opset {}): input \"image\" {} in [0, 1], outputs \"logits\" and "
        "\"probabilities\" [N, {}]\n",
        options->onnx_path, kOnnxOpset, input_dims, model.output_shape()[0]);
    return kSuccess;
  };
}

}  // namespace imgcls::cli
