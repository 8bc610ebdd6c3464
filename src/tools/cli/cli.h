// The command-line layer shared by dmaheap and dmaheapd (docs/cli.md): a CLI11 App tree that
// holds every option once, plus what a completion needs to know about an option's value (a
// finite set of words, or a file). The same tree prints --help, parses, words usage errors
// (exit 2), and is walked by the manual check (--print-cli tree) and the generated bash
// completion (--print-cli bash-completion).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace dmaheap::cli {

// Exit codes shared by every command (docs/cli.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the operation failed (allocation error, error diagnostics)
inline constexpr int kExitUsage = 2;    // bad arguments or unreadable input

// "TOOL RELEASE (git DESCRIBE)", or "TOOL RELEASE" when the source was not a git checkout.
std::string versionText(const std::string& tool);

class Cli {
 public:
  // `tool` is the program name used in messages and help ("dmaheap", "dmaheapd").
  Cli(const std::string& tool, const std::string& description);
  Cli(const Cli&) = delete;
  Cli& operator=(const Cli&) = delete;

  CLI::App& app() { return app_; }
  const CLI::App& app() const { return app_; }
  const std::string& tool() const { return tool_; }

  // What a completion offers for an option's or positional's value.
  CLI::Option* words(CLI::Option* opt, std::vector<std::string> values);
  CLI::Option* file(CLI::Option* opt);
  // The subcommand's positionals end with a program and its arguments (dmaheap run -- PROG ARGS).
  void program(CLI::App* sub) { program_apps_.insert(sub); }

  // Adds a subcommand whose parse runs `run` (the command's own function).
  CLI::App* command(const std::string& name, const std::string& description);
  void onRun(CLI::App* sub, std::function<int()> run) { runners_[sub] = std::move(run); }

  // Parses and runs the chosen command; returns the exit status. --help and --version print to
  // stdout and return 0; a usage error prints "TOOL[ SUB]: what\nRun 'TOOL[ SUB] --help' ..."
  // to stderr and returns 2. `fallback` runs when the tool takes no subcommand (dmaheapd).
  int run(int argc, char** argv, std::function<int()> fallback = nullptr);

  // The arguments as given (after the program name), for checks CLI11 cannot make.
  const std::vector<std::string>& args() const { return args_; }

  // A usage error in the words of run(): for checks made after parsing.
  int usageError(const CLI::App* where, const std::string& what) const;

  // The walked tree: JSON for the manual check, a bash completion script.
  std::string treeJson() const;
  std::string bashCompletion() const;

 private:
  std::string pathOf(const CLI::App* app) const;

  std::string tool_;
  CLI::App app_;
  std::optional<std::string> print_cli_;
  std::map<const CLI::Option*, std::vector<std::string>> words_;
  std::set<const CLI::Option*> files_;
  std::set<const CLI::App*> program_apps_;
  std::map<const CLI::App*, std::function<int()>> runners_;
  std::vector<std::string> args_;
};

// The kernel releases --kernel accepts (what KernelVersion::parse takes, walked), for completion.
std::vector<std::string> kernelReleases();

}  // namespace dmaheap::cli
