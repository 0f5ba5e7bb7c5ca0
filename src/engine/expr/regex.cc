#include "engine/expr/regex.h"

namespace skiff::expr {
namespace {

bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

std::string EscapeLiteral(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

struct Translation {
  std::string pattern;
  std::regex::flag_type flags = std::regex::ECMAScript;
  std::vector<std::string> names;
};

Result<Translation> Translate(std::string_view p) {
  Translation t;
  bool dotall = false;
  auto unsupported = [&](std::string_view what) {
    return InvalidArgument("error parsing regexp: unsupported " + std::string(what) + " in `" +
                           std::string(p) + "`");
  };
  // Leading flag groups such as (?i) or (?is).
  while (p.size() >= 3 && p[0] == '(' && p[1] == '?') {
    size_t k = 2;
    while (k < p.size() && (p[k] == 'i' || p[k] == 'm' || p[k] == 's' || p[k] == 'U')) ++k;
    if (k == 2 || k >= p.size() || p[k] != ')') break;
    for (size_t j = 2; j < k; ++j) {
      if (p[j] == 'i') t.flags |= std::regex::icase;
      if (p[j] == 'm') t.flags |= std::regex::multiline;
      if (p[j] == 's') dotall = true;
      if (p[j] == 'U') return unsupported("flag U");
    }
    p.remove_prefix(k + 1);
  }
  std::string& out = t.pattern;
  size_t i = 0;
  while (i < p.size()) {
    char c = p[i];
    if (c == '\\') {
      if (i + 1 >= p.size()) return InvalidArgument("error parsing regexp: trailing backslash");
      char n = p[i + 1];
      if (n == 'A') {
        out += '^';
      } else if (n == 'z') {
        out += '$';
      } else if (n == 'Q') {
        size_t end = p.find("\\E", i + 2);
        std::string_view lit = p.substr(i + 2, end == std::string_view::npos ? p.npos : end - i - 2);
        out += EscapeLiteral(lit);
        i = end == std::string_view::npos ? p.size() : end + 2;
        continue;
      } else if (n == 'p' || n == 'P' || n == 'C') {
        return unsupported(std::string("\\") + n);
      } else {
        out += c;
        out += n;
      }
      i += 2;
      continue;
    }
    if (c == '[') {
      // Copy a character class verbatim; a leading ']' (after an optional '^') is literal.
      size_t j = i + 1;
      if (j < p.size() && p[j] == '^') ++j;
      if (j < p.size() && p[j] == ']') ++j;
      while (j < p.size() && p[j] != ']') {
        if (p[j] == '\\') {
          j += 2;
        } else if (p[j] == '[' && j + 1 < p.size() && p[j + 1] == ':') {
          size_t close = p.find(":]", j + 2);
          j = close == std::string_view::npos ? p.size() : close + 2;
        } else {
          ++j;
        }
      }
      if (j >= p.size()) return InvalidArgument("error parsing regexp: missing closing ]");
      std::string_view cls = p.substr(i, j + 1 - i);
      if (cls.find("\\p") != std::string_view::npos || cls.find("\\P") != std::string_view::npos) {
        return unsupported("\\p class");
      }
      out += cls;
      i = j + 1;
      continue;
    }
    if (c == '(') {
      if (i + 1 < p.size() && p[i + 1] == '?') {
        std::string_view rest = p.substr(i + 2);
        if (rest.substr(0, 2) == "P<" || rest.substr(0, 1) == "<") {
          size_t start = i + 2 + (rest[0] == 'P' ? 2 : 1);
          size_t close = p.find('>', start);
          if (close == std::string_view::npos) {
            return InvalidArgument("error parsing regexp: invalid named capture");
          }
          t.names.emplace_back(p.substr(start, close - start));
          out += '(';
          i = close + 1;
          continue;
        }
        if (rest.substr(0, 1) == ":") {
          out += "(?:";
          i += 3;
          continue;
        }
        return unsupported("Perl syntax `(?" + std::string(rest.substr(0, 1)) + "`");
      }
      t.names.emplace_back();
      out += '(';
      ++i;
      continue;
    }
    if (c == '.' && dotall) {
      out += "[\\s\\S]";
      ++i;
      continue;
    }
    out += c;
    ++i;
  }
  return t;
}

Status MatchFailure(const std::exception& e) {
  return InvalidArgument(std::string("regular expression too complex to match: ") + e.what());
}

}  // namespace

Result<std::shared_ptr<const GoRegex>> GoRegex::Compile(std::string_view pattern) {
  SKIFF_ASSIGN_OR_RETURN(Translation t, Translate(pattern));
  auto re = std::shared_ptr<GoRegex>(new GoRegex());
  re->pattern_ = std::string(pattern);
  re->group_names_ = std::move(t.names);
  try {
    re->re_ = std::regex(t.pattern, t.flags);
  } catch (const std::regex_error& e) {
    return InvalidArgument("error parsing regexp `" + std::string(pattern) + "`: " + e.what());
  }
  return std::shared_ptr<const GoRegex>(std::move(re));
}

Result<bool> GoRegex::Search(std::string_view s) const {
  try {
    return std::regex_search(s.begin(), s.end(), re_);
  } catch (const std::exception& e) {
    return MatchFailure(e);
  }
}

Result<std::vector<std::string>> GoRegex::FindAll(std::string_view s, int64_t n) const {
  std::vector<std::string> out;
  if (n == 0) return out;
  try {
    for (auto it = std::cregex_iterator(s.data(), s.data() + s.size(), re_);
         it != std::cregex_iterator(); ++it) {
      out.push_back(it->str());
      if (n > 0 && static_cast<int64_t>(out.size()) >= n) break;
    }
  } catch (const std::exception& e) {
    return MatchFailure(e);
  }
  return out;
}

Result<std::string> GoRegex::ReplaceAll(std::string_view s, std::string_view repl) const {
  std::string out;
  try {
    const char* last = s.data();
    for (auto it = std::cregex_iterator(s.data(), s.data() + s.size(), re_);
         it != std::cregex_iterator(); ++it) {
      const std::cmatch& m = *it;
      out.append(last, m[0].first);
      last = m[0].second;
      // Expand the template as Go's regexp.Regexp.Expand does.
      std::string_view tmpl = repl;
      while (!tmpl.empty()) {
        size_t dollar = tmpl.find('$');
        if (dollar == std::string_view::npos) break;
        out += tmpl.substr(0, dollar);
        tmpl.remove_prefix(dollar + 1);
        if (!tmpl.empty() && tmpl[0] == '$') {
          out += '$';
          tmpl.remove_prefix(1);
          continue;
        }
        std::string_view name;
        std::string_view rest;
        bool ok = false;
        if (!tmpl.empty() && tmpl[0] == '{') {
          size_t k = 1;
          while (k < tmpl.size() && IsWordChar(tmpl[k])) ++k;
          if (k > 1 && k < tmpl.size() && tmpl[k] == '}') {
            name = tmpl.substr(1, k - 1);
            rest = tmpl.substr(k + 1);
            ok = true;
          }
        } else {
          size_t k = 0;
          while (k < tmpl.size() && IsWordChar(tmpl[k])) ++k;
          if (k > 0) {
            name = tmpl.substr(0, k);
            rest = tmpl.substr(k);
            ok = true;
          }
        }
        if (!ok) {
          out += '$';
          continue;
        }
        tmpl = rest;
        bool numeric = name.size() < 9;
        size_t num = 0;
        for (char ch : name) {
          if (ch < '0' || ch > '9') numeric = false;
          num = num * 10 + static_cast<size_t>(ch - '0');
        }
        if (numeric) {
          if (num < m.size() && m[num].matched) out += m[num].str();
        } else {
          for (size_t g = 0; g < group_names_.size(); ++g) {
            if (group_names_[g] == name) {
              if (g + 1 < m.size() && m[g + 1].matched) out += m[g + 1].str();
              break;
            }
          }
        }
      }
      out += tmpl;
    }
    out.append(last, s.data() + s.size());
  } catch (const std::exception& e) {
    return MatchFailure(e);
  }
  return out;
}

}  // namespace skiff::expr
