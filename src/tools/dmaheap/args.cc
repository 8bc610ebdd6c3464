// Command-line parsing for the dmaheap subcommands.
#include "tools/dmaheap/args.h"

namespace dmaheap::cli {

Result<Args> parseArgs(const std::vector<std::string>& argv, const ArgSpec& spec) {
  Args out;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") {
      out.after_dashdash.assign(argv.begin() + static_cast<long>(i) + 1, argv.end());
      break;
    }
    if (a.size() > 2 && a[0] == '-' && a[1] == '-') {
      const size_t eq = a.find('=');
      const std::string name = a.substr(0, eq);
      if (spec.flags.count(name)) {
        if (eq != std::string::npos) return makeError(EINVAL, name + " takes no value");
        out.flags.insert(name);
      } else if (spec.options.count(name)) {
        if (eq != std::string::npos) {
          out.options[name] = a.substr(eq + 1);
        } else {
          if (i + 1 >= argv.size()) return makeError(EINVAL, name + " needs a value");
          out.options[name] = argv[++i];
        }
      } else {
        return makeError(EINVAL, "unknown option " + name);
      }
      continue;
    }
    out.positional.push_back(a);
  }
  return out;
}

}  // namespace dmaheap::cli
