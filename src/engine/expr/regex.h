// Go regular expressions (RE2 syntax) on top of std::regex's ECMAScript grammar. The common RE2
// forms are translated: leading flag groups `(?i)` `(?s)` `(?m)`, named groups `(?P<name>...)`,
// `\A`, `\z` and `\Q...\E`. Unsupported RE2 features (`\p{...}` classes, flags in the middle of a
// pattern) are compile errors rather than silent mismatches. Matching never throws; a pattern
// that std::regex gives up on (too complex) is reported as an error.
// A compiled `GoRegex` is immutable and may be shared across threads.
#pragma once

#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skiff::expr {

class GoRegex {
 public:
  static Result<std::shared_ptr<const GoRegex>> Compile(std::string_view pattern);

  // Go's MatchString: is there a match anywhere in `s`?
  Result<bool> Search(std::string_view s) const;
  // Go's FindAllString(s, n); n < 0 means all.
  Result<std::vector<std::string>> FindAll(std::string_view s, int64_t n) const;
  // Go's ReplaceAllString: `$1`, `${1}`, `$name` and `$$` in `repl` are expanded.
  Result<std::string> ReplaceAll(std::string_view s, std::string_view repl) const;

  const std::string& pattern() const { return pattern_; }

 private:
  GoRegex() = default;
  std::string pattern_;
  std::regex re_;
  std::vector<std::string> group_names_;  // index i is group i+1; empty when unnamed
};

}  // namespace skiff::expr
