// The shared command-line layer: parsing, help, usage errors, and the walks of the option tree
// (docs/cli.md "Help, version, manuals and completion").
#include "tools/cli/cli.h"

#include <cctype>
#include <cstdio>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "base/json_text.h"
#include "base/kernel.h"
#include "tools/cli/version.h"

namespace dmaheap::cli {
namespace {

// An option or subcommand with an empty group is internal (the walks themselves): never in
// --help, the manual or the completion.
bool hidden(const CLI::Option* o) { return o->get_group().empty(); }
bool hidden(const CLI::App* a) { return a->get_group().empty(); }

bool isPositional(const CLI::Option* o) { return o->get_lnames().empty() && o->get_snames().empty(); }
bool takesValue(const CLI::Option* o) { return o->get_expected_max() != 0; }

std::vector<std::string> namesOf(const CLI::Option* o) {
  std::vector<std::string> names;
  for (const auto& s : o->get_snames()) names.push_back("-" + s);
  for (const auto& l : o->get_lnames()) names.push_back("--" + l);
  return names;
}

// The deepest subcommand the parse reached (the one a message is about).
const CLI::App* deepest(const CLI::App* app) {
  for (const CLI::App* sub : app->get_subcommands()) return deepest(sub);
  return app;
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

// A shell function name from the tool's name: "dmaheap" -> "_dmaheap".
std::string functionName(const std::string& tool) {
  std::string out = "_";
  for (char c : tool) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

}  // namespace

std::string versionText(const std::string& tool) {
  std::string text = tool + " " + kRelease;
  if (std::string(kGitDescribe).size() != 0) text += std::string(" (git ") + kGitDescribe + ")";
  return text;
}

std::vector<std::string> kernelReleases() {
  std::vector<std::string> out;
  for (int major = 5; major <= 7; ++major) {
    for (int minor = 0; minor < 100; ++minor) {
      const std::string v = std::to_string(major) + "." + std::to_string(minor);
      if (KernelVersion::parse(v)) out.push_back(v);
    }
  }
  return out;
}

Cli::Cli(const std::string& tool, const std::string& description) : tool_(tool), app_(description, tool) {
  // The contract's forms: a repeated option keeps its last value (docs/cli.md).
  app_.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app_.set_version_flag("--version", versionText(tool), "Print the release (and git describe of the source) and exit");
  app_.set_help_flag("-h,--help", "Print this help and exit");
  app_.add_option("--print-cli", print_cli_, "tree (JSON) or bash-completion: the walked option tree")
      ->group("")
      ->type_name("WHAT");
}

CLI::Option* Cli::words(CLI::Option* opt, std::vector<std::string> values) {
  words_[opt] = std::move(values);
  return opt;
}

CLI::Option* Cli::file(CLI::Option* opt) {
  files_.insert(opt);
  return opt;
}

CLI::App* Cli::command(const std::string& name, const std::string& description) {
  CLI::App* sub = app_.add_subcommand(name, description);
  sub->set_help_flag("-h,--help", "Print this help and exit");
  sub->footer("The manual is " + tool_ + "(1).");
  return sub;
}

std::string Cli::pathOf(const CLI::App* app) const {
  std::vector<std::string> parts;
  for (; app != nullptr && app != &app_; app = app->get_parent()) parts.push_back(app->get_name());
  std::string path = tool_;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) path += " " + *it;
  return path;
}

int Cli::usageError(const CLI::App* where, const std::string& what) const {
  const std::string path = pathOf(where);
  std::fprintf(stderr, "%s: %s\nRun '%s --help' for the options.\n", path.c_str(), what.c_str(), path.c_str());
  return kExitUsage;
}

int Cli::run(int argc, char** argv, std::function<int()> fallback) {
  args_.assign(argv + 1, argv + argc);
  const bool has_commands = !runners_.empty();
  // `dmaheap help` answers as `dmaheap --help` did before the parser was CLI11's.
  if (has_commands && args_.size() == 1 && args_[0] == "help") {
    std::fputs(app_.help().c_str(), stdout);
    return kExitOk;
  }
  try {
    app_.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app_.exit(e);  // --help, --version: stdout, 0
  } catch (const CLI::ParseError& e) {
    const CLI::App* where = deepest(&app_);
    const std::vector<std::string> extra = app_.remaining(true);
    std::string what = e.what();
    if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr && !extra.empty()) {
      const std::string& first = extra.front();
      if (first.size() > 1 && first[0] == '-') {
        what = "unknown option " + first.substr(0, first.find('='));
      } else if (where == &app_ && has_commands) {
        what = "unknown command '" + first + "'";
      } else {
        what = "unexpected argument '" + first + "'";
      }
    } else {
      // CLI11 says "--count: 1 required N missing" for an option given without its value.
      static const std::regex missing("^(-[^:]+): [0-9]+ required .* missing$");
      std::smatch m;
      if (std::regex_match(what, m, missing)) what = m[1].str() + " needs a value";
      // ... and "json was given a disallowed flag override" for --json=VALUE.
      static const std::regex valued("^([a-z][a-z0-9-]*) was given a disallowed flag override$");
      if (std::regex_match(what, m, valued)) what = "--" + m[1].str() + " takes no value";
    }
    return usageError(where, what);
  }
  if (print_cli_) {
    if (*print_cli_ == "tree") {
      std::fputs(treeJson().c_str(), stdout);
    } else if (*print_cli_ == "bash-completion") {
      std::fputs(bashCompletion().c_str(), stdout);
    } else {
      return usageError(&app_, "--print-cli is tree or bash-completion, not '" + *print_cli_ + "'");
    }
    return kExitOk;
  }
  for (const CLI::App* sub : app_.get_subcommands()) {
    auto it = runners_.find(sub);
    if (it != runners_.end()) return it->second();
  }
  if (fallback) return fallback();
  // No command: the overview, on stderr (a script that forgot the command learns it failed).
  std::fputs(app_.help().c_str(), stderr);
  return kExitUsage;
}

std::string Cli::treeJson() const {
  std::function<nlohmann::json(const CLI::App*)> walk = [&](const CLI::App* app) {
    nlohmann::json node;
    node["name"] = app == &app_ ? tool_ : app->get_name();
    node["path"] = pathOf(app);
    node["description"] = app->get_description();
    node["options"] = nlohmann::json::array();
    node["positionals"] = nlohmann::json::array();
    for (const CLI::Option* o : app->get_options()) {
      if (hidden(o)) continue;
      nlohmann::json e;
      e["description"] = o->get_description();
      e["group"] = o->get_group();
      e["value"] = takesValue(o) ? nlohmann::json(o->get_type_name()) : nlohmann::json(nullptr);
      if (auto w = words_.find(o); w != words_.end()) e["words"] = w->second;
      e["file"] = files_.count(o) != 0;
      if (isPositional(o)) {
        e["name"] = o->get_name();
        node["positionals"].push_back(e);
      } else {
        e["names"] = namesOf(o);
        node["options"].push_back(e);
      }
    }
    node["program"] = program_apps_.count(app) != 0;
    node["subcommands"] = nlohmann::json::array();
    for (const CLI::App* sub : app->get_subcommands({})) {
      if (!hidden(sub)) node["subcommands"].push_back(walk(sub));
    }
    return node;
  };
  return jsonText(walk(&app_)) + "\n";
}

std::string Cli::bashCompletion() const {
  const std::string fn = functionName(tool_);
  std::vector<const CLI::App*> apps = {&app_};
  std::vector<std::string> commands;
  for (const CLI::App* sub : app_.get_subcommands({})) {
    if (hidden(sub)) continue;
    apps.push_back(sub);
    commands.push_back(sub->get_name());
  }
  std::ostringstream s;
  s << "# bash completion for " << tool_ << "; generated from its parser by `" << tool_
    << " --print-cli bash-completion`\n# (docs/cli.md). Do not edit: rebuild.\n\n";
  // COMMAND: the options it takes.
  s << fn << "_options() {\n  case $1 in\n";
  for (const CLI::App* app : apps) {
    std::vector<std::string> names;
    for (const CLI::Option* o : app->get_options())
      if (!hidden(o) && !isPositional(o))
        for (const auto& n : namesOf(o)) names.push_back(n);
    s << "    '" << (app == &app_ ? "" : app->get_name()) << "') echo '" << join(names) << "' ;;\n";
  }
  s << "  esac\n}\n\n";
  // COMMAND OPTION CUR: COMPREPLY for the option's value; status 1 when the option takes none.
  s << fn << "_value() {\n  case \"$1 $2\" in\n";
  for (const CLI::App* app : apps) {
    const std::string cmd = app == &app_ ? "" : app->get_name();
    for (const CLI::Option* o : app->get_options()) {
      if (hidden(o) || isPositional(o) || !takesValue(o)) continue;
      std::string action = "COMPREPLY=()";
      if (auto w = words_.find(o); w != words_.end()) {
        action = "COMPREPLY=($(compgen -W '" + join(w->second) + "' -- \"$3\"))";
      } else if (files_.count(o)) {
        action = "compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$3\"))";
      }
      for (const auto& n : namesOf(o)) s << "    '" << cmd << " " << n << "') " << action << " ;;\n";
    }
  }
  s << "    *) return 1 ;;\n  esac\n}\n\n";
  // COMMAND: 0 when its positionals are files; 2 when they end with a program (after --).
  s << fn << "_positional() {\n  case $1 in\n";
  for (const CLI::App* app : apps) {
    const std::string cmd = app == &app_ ? "" : app->get_name();
    if (program_apps_.count(app)) {
      s << "    '" << cmd << "') return 2 ;;\n";
      continue;
    }
    for (const CLI::Option* o : app->get_options()) {
      if (!hidden(o) && isPositional(o) && files_.count(o)) {
        s << "    '" << cmd << "') return 0 ;;\n";
        break;
      }
    }
  }
  s << "  esac\n  return 1\n}\n\n";
  s << fn << "() {\n"
    << "  local cur=${COMP_WORDS[COMP_CWORD]} prev= cmd= i w opt= dashdash=0\n"
    << "  COMPREPLY=()\n"
    << "  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD-1]}\n"
    << "  local commands='" << join(commands) << "'\n"
    << "  # The command is the first word that is not an option or an option's value.\n"
    << "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
    << "    w=${COMP_WORDS[i]}\n"
    << "    if [[ $w == -- ]]; then dashdash=$i; break; fi\n"
    << "    if [[ $w == = ]]; then ((i++)); continue; fi\n"
    << "    if [[ $w == -* ]]; then\n"
    << "      if [[ ${COMP_WORDS[i+1]} != = ]] && " << fn << "_value \"$cmd\" \"$w\" '' >/dev/null; then ((i++)); fi\n"
    << "      continue\n"
    << "    fi\n"
    << "    if [[ -z $cmd && \" $commands \" == *\" $w \"* ]]; then cmd=$w; fi\n"
    << "  done\n"
    << "  COMPREPLY=()\n"
    << "  if ((dashdash)); then\n"
    << "    # After --: the program, then its arguments.\n"
    << "    if ((COMP_CWORD == dashdash + 1)); then COMPREPLY=($(compgen -c -- \"$cur\"));\n"
    << "    else compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\")); fi\n"
    << "    return 0\n"
    << "  fi\n"
    << "  # An option's value: --opt VALUE, or --opt=VALUE (bash splits the = off).\n"
    << "  if [[ $prev == = ]] && ((COMP_CWORD > 1)); then opt=${COMP_WORDS[COMP_CWORD-2]};\n"
    << "  elif [[ $cur == = ]]; then opt=$prev; cur=;\n"
    << "  elif [[ $prev == -* ]]; then opt=$prev; fi\n"
    << "  if [[ -n $opt ]] && " << fn << "_value \"$cmd\" \"$opt\" \"$cur\"; then return 0; fi\n"
    << "  if [[ $cur == -* ]]; then\n"
    << "    COMPREPLY=($(compgen -W \"$(" << fn << "_options \"$cmd\")\" -- \"$cur\"))\n"
    << "    return 0\n"
    << "  fi\n"
    << "  if [[ -z $cmd && -n $commands ]]; then\n"
    << "    COMPREPLY=($(compgen -W \"$commands\" -- \"$cur\"))\n"
    << "    return 0\n"
    << "  fi\n"
    << "  " << fn << "_positional \"$cmd\"\n"
    << "  case $? in\n"
    << "    0) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
    << "    2) COMPREPLY=($(compgen -W '--' -- \"$cur\")) ;;\n"
    << "  esac\n"
    << "  return 0\n"
    << "}\n"
    << "complete -F " << fn << " " << tool_ << "\n";
  return s.str();
}

}  // namespace dmaheap::cli
