// A small command-line parser: positional arguments, `--flag value`, `--flag=value`, `-f value`,
// repeatable flags and booleans. Flags are declared up front so that unknown ones are errors.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace skiff::cli {

class Args {
 public:
  // `value_flags`: flags that take a value ("-p", "--parameter", "-o", ...);
  // `bool_flags`: flags without one. Aliases map short to long names.
  Args(std::set<std::string> value_flags, std::set<std::string> bool_flags,
       std::map<std::string, std::string> aliases = {});
  Status Parse(const std::vector<std::string>& argv);

  const std::vector<std::string>& positional() const { return positional_; }
  bool Has(const std::string& flag) const;
  std::string Get(const std::string& flag, const std::string& fallback = "") const;
  std::vector<std::string> GetAll(const std::string& flag) const;

 private:
  std::set<std::string> value_flags_, bool_flags_;
  std::map<std::string, std::string> aliases_;
  std::vector<std::string> positional_;
  std::multimap<std::string, std::string> values_;
};

}  // namespace skiff::cli
