#include "controllers/tuning/trial_condition.h"

#include <cstdlib>
#include <optional>
#include <vector>

namespace skiff::controllers {
namespace {

// One step of a path.
struct Step {
  enum Kind { kKey, kQuery } kind = kKey;
  std::string key;            // kKey
  std::string field, op;      // kQuery: field op value
  Json value;
  bool all = false;           // `#(...)#`
};

// A parsed path: pipe-separated segments, each a list of steps.
using Segment = std::vector<Step>;

Result<Json> ParseLiteral(std::string_view v) {
  if (v.empty()) return InvalidArgument("missing value");
  if (v.front() == '"') {
    if (v.size() < 2 || v.back() != '"') return InvalidArgument("unterminated string");
    std::string out;
    for (size_t i = 1; i + 1 < v.size(); ++i) {
      if (v[i] == '\\' && i + 2 < v.size()) ++i;
      out += v[i];
    }
    return Json(out);
  }
  if (v == "true") return Json(true);
  if (v == "false") return Json(false);
  char* end = nullptr;
  std::string s(v);
  double d = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0') return InvalidArgument("value \"" + s + "\" is not a string, number or boolean");
  return Json(d);
}

Result<Step> ParseQuery(std::string_view body, bool all) {
  static const char* kOps[] = {"==", "!=", "<=", ">=", "<", ">"};
  // The first operator, left to right: the value after it may contain operators of its own.
  for (size_t at = 0; at < body.size(); ++at) {
    if (body[at] == '"') return InvalidArgument("query without a comparison (==, !=, <, <=, >, >=)");
    for (const char* op : kOps) {
      if (body.compare(at, std::string_view(op).size(), op) != 0) continue;
      Step s;
      s.kind = Step::kQuery;
      s.all = all;
      s.field = std::string(body.substr(0, at));
      s.op = op;
      while (!s.field.empty() && s.field.back() == ' ') s.field.pop_back();
      std::string_view rest = body.substr(at + std::string_view(op).size());
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
      if (s.field.empty()) return InvalidArgument("query without a field");
      auto v = ParseLiteral(rest);
      if (!v.ok()) return v.status();
      s.value = std::move(*v);
      return s;
    }
  }
  return InvalidArgument("query without a comparison (==, !=, <, <=, >, >=)");
}

Result<std::vector<Segment>> Parse(std::string_view path) {
  std::vector<Segment> segments(1);
  size_t i = 0;
  auto fail = [&](const std::string& what) {
    return InvalidArgument("condition \"" + std::string(path) + "\", character " + std::to_string(i + 1) +
                           ": " + what);
  };
  while (i < path.size()) {
    if (path[i] == '|') {
      if (segments.back().empty()) return fail("empty path before '|'");
      segments.emplace_back();
      ++i;
      continue;
    }
    if (path[i] == '.') {
      if (segments.back().empty()) return fail("a path cannot start with '.'");
      if (i + 1 == path.size() || path[i + 1] == '.' || path[i + 1] == '|') return fail("empty key after '.'");
      ++i;
      continue;
    }
    if (path.compare(i, 2, "#(") == 0) {
      // Up to the matching ')' outside quotes.
      size_t j = i + 2;
      bool quoted = false;
      for (; j < path.size(); ++j) {
        if (path[j] == '\\') { ++j; continue; }
        if (path[j] == '"') quoted = !quoted;
        if (path[j] == ')' && !quoted) break;
      }
      if (j >= path.size()) return fail("'#(' without ')'");
      bool all = j + 1 < path.size() && path[j + 1] == '#';
      auto q = ParseQuery(path.substr(i + 2, j - i - 2), all);
      if (!q.ok()) return fail(q.status().message());
      segments.back().push_back(std::move(*q));
      i = j + 1 + (all ? 1 : 0);
      continue;
    }
    if (path.compare(i, 7, "[@this]") == 0 || path.compare(i, 5, "@this") == 0) {
      Step s;
      s.key = path[i] == '[' ? "[@this]" : "@this";
      i += s.key.size();
      segments.back().push_back(std::move(s));
      continue;
    }
    std::string key;
    while (i < path.size() && path[i] != '.' && path[i] != '|') {
      if (path[i] == '\\' && i + 1 < path.size()) ++i;
      key += path[i++];
    }
    if (key.empty()) return fail("empty key");
    Step s;
    s.key = std::move(key);
    segments.back().push_back(std::move(s));
  }
  if (segments.back().empty()) return fail("empty path");
  return segments;
}

const Json* Child(const Json& v, const std::string& key) {
  if (v.is_object()) {
    auto it = v.find(key);
    return it == v.end() ? nullptr : &*it;
  }
  if (v.is_array() && !key.empty() && key.find_first_not_of("0123456789") == std::string::npos) {
    size_t n = std::strtoul(key.c_str(), nullptr, 10);
    return n < v.size() ? &v[n] : nullptr;
  }
  return nullptr;
}

// A dotted field inside a query (`metadata.name==...`).
const Json* Field(const Json& v, const std::string& dotted) {
  const Json* cur = &v;
  size_t start = 0;
  while (cur != nullptr) {
    size_t dot = dotted.find('.', start);
    cur = Child(*cur, dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

// `a op b` for two values of one ordered type.
template <typename T>
bool Ordered(const T& a, const std::string& op, const T& b) {
  if (op == "==") return a == b;
  if (op == "!=") return a != b;
  if (op == "<") return a < b;
  if (op == "<=") return a <= b;
  if (op == ">") return a > b;
  return a >= b;
}

bool Compare(const Json& got, const std::string& op, const Json& want) {
  if (want.is_string()) {
    if (!got.is_string()) return op == "!=";
    return Ordered(got.get_ref<const std::string&>(), op, want.get_ref<const std::string&>());
  }
  if (want.is_boolean()) {
    bool eq = got.is_boolean() && got.get<bool>() == want.get<bool>();
    return op == "==" ? eq : op == "!=" ? !eq : false;
  }
  if (!got.is_number()) return op == "!=";
  return Ordered(got.get<double>(), op, want.get<double>());
}

// Evaluates one segment. `many` = the value is a list produced by an every-match query, so
// keys apply to each element.
std::optional<Json> Eval(const Json& start, const Segment& steps) {
  Json cur = start;
  bool many = false;
  for (const Step& s : steps) {
    if (s.kind == Step::kKey && s.key == "@this") continue;
    if (s.kind == Step::kKey && s.key == "[@this]") {  // the value as a one-element list
      cur = Json::array({std::move(cur)});
      many = false;
      continue;
    }
    if (s.kind == Step::kKey) {
      if (many) {
        Json out = Json::array();
        for (const auto& e : cur) {
          if (const Json* c = Child(e, s.key)) out.push_back(*c);
        }
        cur = std::move(out);
        continue;
      }
      const Json* c = Child(cur, s.key);
      if (c == nullptr) return std::nullopt;
      cur = *c;
      continue;
    }
    if (!cur.is_array()) return std::nullopt;
    Json matches = Json::array();
    const Json* first = nullptr;
    for (const auto& e : cur) {
      const Json* f = Field(e, s.field);
      if (f == nullptr || !Compare(*f, s.op, s.value)) continue;
      if (!s.all) {
        first = &e;
        break;
      }
      matches.push_back(e);
    }
    if (!s.all) {
      if (first == nullptr) return std::nullopt;  // no first match
      matches = *first;
    }
    cur = std::move(matches);
    many = s.all;
  }
  return cur;
}

}  // namespace

Status ValidateTrialCondition(std::string_view condition) { return Parse(condition).status(); }

bool TrialConditionHolds(const Json& object, std::string_view condition) {
  auto segments = Parse(condition);
  if (!segments.ok()) return false;
  Json cur = object;
  for (const Segment& seg : *segments) {
    auto next = Eval(cur, seg);
    if (!next) return false;
    cur = std::move(*next);
  }
  return !cur.is_null() && !(cur.is_array() && cur.empty());
}

std::string DefaultSuccessCondition(std::string_view kind) {
  return kind == "Job" ? R"(status.conditions.#(type=="Complete")#|#(status=="True")#)"
                       : R"(status.conditions.#(type=="Succeeded")#|#(status=="True")#)";
}

std::string DefaultFailureCondition(std::string_view) {
  return R"(status.conditions.#(type=="Failed")#|#(status=="True")#)";
}

}  // namespace skiff::controllers
