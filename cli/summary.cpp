// imgcls summary: the layer table of a preset architecture.
#include <fmt/core.h>

#include "commands.hpp"
#include "imgcls/model.hpp"

namespace imgcls::cli {

Action add_summary_command(CLI::App& app) {
  auto arch = std::make_shared<std::string>("seed");
  CLI::App* cmd = app.add_subcommand("summary", "Print a model's layers, output shapes and parameter counts");
  cmd->add_option("--arch", *arch, "Architecture preset")->capture_default_str()->check(CLI::IsMember({"seed"}));
  return [arch] {
    fmt::print("{}", presets::seed().summary());
    return kSuccess;
  };
}

}  // namespace imgcls::cli
