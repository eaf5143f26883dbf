// The imgcls subcommands. Each registers itself on the app and returns the action to run
// when it was chosen; the action returns the process exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace imgcls::cli {

// Exit codes, as documented in the README.
enum ExitCode : int { kSuccess = 0, kBadInput = 1, kUsage = 2, kInternal = 3, kInterrupted = 130 };

using Action = std::function<int()>;

Action add_run_command(CLI::App& app);
Action add_summary_command(CLI::App& app);
Action add_predict_command(CLI::App& app);
Action add_show_command(CLI::App& app);
Action add_train_command(CLI::App& app);
Action add_evaluate_command(CLI::App& app);
Action add_export_command(CLI::App& app);
Action add_serve_command(CLI::App& app);
Action add_explain_command(CLI::App& app);

}  // namespace imgcls::cli
