// imgcls: the command-line front end. Parses arguments (CLI11), runs one subcommand, and
// is the only place that turns errors into exit codes:
//   0 success, 1 bad input or data, 2 usage error, 3 internal error.
#include <fmt/core.h>

#include <iostream>

#include "commands.hpp"
#include "imgcls/error.hpp"

int main(int argc, char** argv) {
  using namespace imgcls::cli;
  CLI::App app{"imgcls: train, evaluate and use convolutional image classifiers on the CPU"};
  app.set_version_flag("--version", std::string("imgcls ") + IMGCLS_VERSION);
  app.require_subcommand(1);
  const Action run = add_run_command(app);
  const Action summary = add_summary_command(app);
  const Action predict = add_predict_command(app);
  const Action show = add_show_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kUsage;
  }
  try {
    if (app.got_subcommand("run")) return run();
    if (app.got_subcommand("summary")) return summary();
    if (app.got_subcommand("predict")) return predict();
    if (app.got_subcommand("show")) return show();
    return kUsage;
  } catch (const imgcls::InputError& e) {
    fmt::print(stderr, "imgcls: error: {}\n", e.what());
    return kBadInput;
  } catch (const std::exception& e) {
    fmt::print(stderr, "imgcls: internal error: {}\n", e.what());
    return kInternal;
  }
}
