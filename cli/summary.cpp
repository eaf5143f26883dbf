// imgcls summary: the layer table (output shapes, parameter counts) of a saved model, a
// preset or an architecture file.
#include <fmt/core.h>

#include "commands.hpp"
#include "common.hpp"
#include "imgcls/io.hpp"

namespace imgcls::cli {

Action add_summary_command(CLI::App& app) {
  struct Options {
    std::string model_path, arch;
  };
  auto options = std::make_shared<Options>();
  CLI::App* cmd =
      app.add_subcommand("summary", "Print a model's layers, output shapes and parameter counts");
  auto* model_option = cmd->add_option("model", options->model_path, "A model file (.safetensors)");
  auto* arch_option = cmd->add_option(
      "--arch", options->arch, "A preset (seed, lenet5, strong) or an architecture JSON file");
  model_option->excludes(arch_option);
  return [options] {
    if (options->model_path.empty() && options->arch.empty()) {
      fmt::print(stderr,
                 "imgcls summary: give a model file or --arch NAME|FILE.json (see --help)\n");
      return kUsage;
    }
    const Sequential model = options->model_path.empty() ? resolve_architecture(options->arch)
                                                         : load_model(options->model_path);
    fmt::print("{}", model.summary());
    return kSuccess;
  };
}

}  // namespace imgcls::cli
