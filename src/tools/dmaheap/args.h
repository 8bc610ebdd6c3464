// A small command-line parser for the dmaheap subcommands: positional arguments, `--flag`,
// `--option VALUE` / `--option=VALUE`, and `--` ending options. Unknown options are an error.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"

namespace dmaheap::cli {

struct ArgSpec {
  std::set<std::string> flags;    // e.g. "--json"
  std::set<std::string> options;  // take a value, e.g. "--kernel"
};

struct Args {
  std::vector<std::string> positional;
  std::set<std::string> flags;
  std::map<std::string, std::string> options;
  std::vector<std::string> after_dashdash;  // arguments after "--"

  bool has(const std::string& flag) const { return flags.count(flag) != 0; }
  const std::string* option(const std::string& name) const {
    auto it = options.find(name);
    return it == options.end() ? nullptr : &it->second;
  }
};

// EINVAL with a message for unknown options or a missing value.
Result<Args> parseArgs(const std::vector<std::string>& argv, const ArgSpec& spec);

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the operation failed (allocation error, error diagnostics)
inline constexpr int kExitUsage = 2;    // bad arguments or unreadable input

}  // namespace dmaheap::cli
