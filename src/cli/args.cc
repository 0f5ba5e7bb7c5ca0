#include "cli/args.h"

namespace skiff::cli {

Args::Args(std::set<std::string> value_flags, std::set<std::string> bool_flags,
           std::map<std::string, std::string> aliases)
    : value_flags_(std::move(value_flags)), bool_flags_(std::move(bool_flags)),
      aliases_(std::move(aliases)) {}

Status Args::Parse(const std::vector<std::string>& argv) {
  bool only_positional = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string a = argv[i];
    if (only_positional || a.size() < 2 || a[0] != '-') {
      positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positional = true;
      continue;
    }
    std::string value;
    bool has_value = false;
    size_t eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_value = true;
    }
    auto alias = aliases_.find(a);
    if (alias != aliases_.end()) a = alias->second;
    if (bool_flags_.count(a)) {
      values_.emplace(a, has_value ? value : "true");
      continue;
    }
    if (!value_flags_.count(a)) return InvalidArgument("unknown flag " + argv[i]);
    if (!has_value) {
      if (i + 1 >= argv.size()) return InvalidArgument("flag " + a + " needs a value");
      value = argv[++i];
    }
    values_.emplace(a, value);
  }
  return OkStatus();
}

bool Args::Has(const std::string& flag) const { return values_.count(flag) > 0; }

std::string Args::Get(const std::string& flag, const std::string& fallback) const {
  auto range = values_.equal_range(flag);
  if (range.first == range.second) return fallback;
  auto last = range.second;
  --last;
  return last->second;
}

std::vector<std::string> Args::GetAll(const std::string& flag) const {
  std::vector<std::string> out;
  auto range = values_.equal_range(flag);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

}  // namespace skiff::cli
