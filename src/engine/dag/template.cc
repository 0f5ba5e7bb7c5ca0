#include "engine/dag/template.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "engine/expr/expr.h"

namespace skiff::dag {

void Vars::Set(const std::string& key, std::string value) {
  values_[key] = Json(std::move(value));
  env_.reset();
}

void Vars::SetJson(const std::string& key, Json value) {
  values_[key] = std::move(value);
  env_.reset();
}

void Vars::Erase(const std::string& key) {
  values_.erase(key);
  env_.reset();
}

const Json* Vars::Find(std::string_view key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

void Vars::Merge(const Vars& other) {
  for (const auto& [k, v] : other.values_) values_[k] = v;
  env_.reset();
}

const Json& Vars::ExprEnv() const {
  if (env_) return *env_;
  auto env = std::make_shared<Json>(Json::object());
  // Shorter keys first (std::map order puts "a.b" before "a.b.c"), so that nested objects
  // written later replace scalar values at the same path.
  for (const auto& [key, value] : values_) {
    Json* cur = env.get();
    size_t start = 0;
    bool ok = true;
    while (true) {
      size_t dot = key.find('.', start);
      std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (dot == std::string::npos) {
        Json& slot = (*cur)[part];
        if (!(slot.is_object() && !value.is_object())) slot = value;
        break;
      }
      Json& next = (*cur)[part];
      if (!next.is_object()) next = Json::object();
      cur = &next;
      start = dot + 1;
      if (start > key.size()) {
        ok = false;
        break;
      }
    }
    (void)ok;
  }
  env_ = env;
  return *env_;
}

const Json* VarScope::Find(std::string_view key) const {
  for (const Vars* v : layers_) {
    if (const Json* j = v->Find(key)) return j;
  }
  return nullptr;
}

const Json& VarScope::ExprEnv() const {
  if (env_) return *env_;
  if (layers_.size() == 1) return layers_[0]->ExprEnv();
  Vars merged;
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) merged.Merge(**it);
  env_ = std::make_shared<const Json>(merged.ExprEnv());
  return *env_;
}

namespace {

std::string FormatFloatG(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  // Shortest representation that round-trips.
  char buf[64];
  int prec = 1;
  for (; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  // buf holds d.ddde±XX with `prec` significant digits.
  std::string s(buf);
  size_t epos = s.find('e');
  std::string mant = s.substr(0, epos);
  int exp = std::atoi(s.c_str() + epos + 1);
  bool neg = !mant.empty() && mant[0] == '-';
  if (neg) mant.erase(0, 1);
  std::string digits;
  for (char c : mant) {
    if (c != '.') digits += c;
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out;
  // strconv.FormatFloat(d, 'g', -1, 64): with the shortest precision Go switches to exponent
  // form when the exponent is < -4 or >= 6 (fmt's %v for float64 is exactly this).
  if (exp < -4 || exp >= 6) {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char e[16];
    std::snprintf(e, sizeof e, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    out += e;
  } else if (exp >= 0) {
    if (static_cast<int>(digits.size()) <= exp + 1) {
      out = digits + std::string(static_cast<size_t>(exp + 1) - digits.size(), '0');
    } else {
      out = digits.substr(0, static_cast<size_t>(exp) + 1) + "." +
            digits.substr(static_cast<size_t>(exp) + 1);
    }
  } else {
    out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
  }
  return neg ? "-" + out : out;
}

Status ExpressionError(std::string_view expr, const Status& s) {
  return InvalidArgument("failed to evaluate expression \"" + std::string(expr) + "\": " +
                         s.message());
}

}  // namespace

std::string GoFormatV(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "<nil>";
    case Json::value_t::string: return v.get<std::string>();
    case Json::value_t::boolean: return v.get<bool>() ? "true" : "false";
    case Json::value_t::number_integer: return std::to_string(v.get<int64_t>());
    case Json::value_t::number_unsigned: return std::to_string(v.get<uint64_t>());
    case Json::value_t::number_float: return FormatFloatG(v.get<double>());
    case Json::value_t::array: {
      std::string out = "[";
      bool first = true;
      for (const auto& e : v) {
        if (!first) out += ' ';
        first = false;
        out += GoFormatV(e);
      }
      return out + "]";
    }
    case Json::value_t::object: {
      std::string out = "map[";
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out += ' ';
        first = false;
        out += it.key() + ":" + GoFormatV(it.value());
      }
      return out + "]";
    }
    default: return v.dump();
  }
}

bool HasTags(std::string_view text) {
  size_t open = text.find("{{");
  return open != std::string_view::npos && text.find("}}", open + 2) != std::string_view::npos;
}

static std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

std::vector<std::string> SimpleTagNames(std::string_view text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) break;
    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    std::string_view tag = Trim(text.substr(open + 2, close - open - 2));
    if (!tag.empty() && tag.front() != '=') out.emplace_back(tag);
    pos = close + 2;
  }
  return out;
}

Result<std::string> ReplaceTags(std::string_view text, const VarScope& vars, bool allow_unresolved) {
  size_t open = text.find("{{");
  if (open == std::string_view::npos) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (open != std::string_view::npos) {
    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    out.append(text.substr(pos, open - pos));
    std::string_view raw = text.substr(open + 2, close - open - 2);
    std::string_view tag = Trim(raw);
    if (!tag.empty() && tag.front() == '=') {
      std::string_view expression = tag.substr(1);
      auto result = expr::Evaluate(expression, vars.ExprEnv());
      if (!result.ok() || result->is_null()) {
        if (allow_unresolved) {
          out.append(text.substr(open, close + 2 - open));
        } else if (!result.ok()) {
          return ExpressionError(expression, result.status());
        } else {
          return InvalidArgument("failed to evaluate expression \"" + std::string(expression) +
                                 "\": result is nil");
        }
      } else {
        out += GoFormatV(*result);
      }
    } else {
      const Json* v = vars.Find(tag);
      if (v == nullptr || v->is_null()) {
        if (!allow_unresolved) {
          return InvalidArgument("failed to resolve {{" + std::string(tag) + "}}");
        }
        out.append(text.substr(open, close + 2 - open));
      } else if (v->is_string()) {
        out += v->get_ref<const std::string&>();
      } else {
        out += v->is_object() || v->is_array() ? DumpJson(*v) : GoFormatV(*v);
      }
    }
    pos = close + 2;
    open = text.find("{{", pos);
  }
  out.append(text.substr(pos));
  return out;
}

bool ContainsTagOpen(const Json& value) {
  switch (value.type()) {
    case Json::value_t::string:
      return value.get_ref<const std::string&>().find("{{") != std::string::npos;
    case Json::value_t::array:
    case Json::value_t::object:
      for (const auto& e : value) {
        if (ContainsTagOpen(e)) return true;
      }
      return false;
    default:
      return false;
  }
}

Status ReplaceTagsInPlace(Json& value, const VarScope& vars, bool allow_unresolved) {
  switch (value.type()) {
    case Json::value_t::string: {
      std::string& s = value.get_ref<std::string&>();
      if (s.find("{{") == std::string::npos) return OkStatus();
      SKIFF_ASSIGN_OR_RETURN(std::string r, ReplaceTags(s, vars, allow_unresolved));
      s = std::move(r);
      return OkStatus();
    }
    case Json::value_t::array:
      for (auto& e : *value.get_ptr<Json::array_t*>()) {
        SKIFF_RETURN_IF_ERROR(ReplaceTagsInPlace(e, vars, allow_unresolved));
      }
      return OkStatus();
    case Json::value_t::object:
      // The container itself, not the JSON iterators (a template has dozens of values and a
      // pass processes hundreds of templates).
      for (auto& [key, e] : *value.get_ptr<Json::object_t*>()) {
        SKIFF_RETURN_IF_ERROR(ReplaceTagsInPlace(e, vars, allow_unresolved));
      }
      return OkStatus();
    default:
      return OkStatus();
  }
}

Result<Json> ReplaceTagsInJson(const Json& value, const VarScope& vars, bool allow_unresolved) {
  // Most of a template has no tags: copy it once and rewrite only the strings that have.
  if (!ContainsTagOpen(value)) return value;
  Json out = value;
  SKIFF_RETURN_IF_ERROR(ReplaceTagsInPlace(out, vars, allow_unresolved));
  return out;
}

}  // namespace skiff::dag
