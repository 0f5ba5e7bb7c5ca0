#include "common/json.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>
#include <regex>
#include <sstream>

namespace skiff {
namespace {

bool IsNullScalar(const std::string& s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// Returns true and sets `out` if `s` is a YAML 1.2 core-schema int or float.
bool ParseNumber(const std::string& s, Json& out) {
  if (s.empty()) return false;
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kOct("0o[0-7]+");
  static const std::regex kHex("0x[0-9a-fA-F]+");
  static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  char c = s[0];
  if (!(c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'))) return false;
  if (std::regex_match(s, kInt)) {
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (errno == ERANGE) {
      out = std::strtod(s.c_str(), nullptr);
    } else {
      out = static_cast<int64_t>(v);
    }
    return true;
  }
  if (std::regex_match(s, kOct)) {
    out = static_cast<int64_t>(std::strtoll(s.c_str() + 2, nullptr, 8));
    return true;
  }
  if (std::regex_match(s, kHex)) {
    out = static_cast<int64_t>(std::strtoll(s.c_str() + 2, nullptr, 16));
    return true;
  }
  if (std::regex_match(s, kFloat)) {
    out = std::strtod(s.c_str(), nullptr);
    return true;
  }
  if (s == ".inf" || s == "+.inf" || s == ".Inf" || s == ".INF") {
    out = INFINITY;
    return true;
  }
  if (s == "-.inf" || s == "-.Inf" || s == "-.INF") {
    out = -INFINITY;
    return true;
  }
  return false;
}

Json ResolvePlainScalar(const std::string& s) {
  if (IsNullScalar(s)) return Json(nullptr);
  if (s == "true" || s == "True" || s == "TRUE") return Json(true);
  if (s == "false" || s == "False" || s == "FALSE") return Json(false);
  Json n;
  if (ParseNumber(s, n)) return n;
  return Json(s);
}

Json YamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return Json(nullptr);
    case YAML::NodeType::Scalar: {
      const std::string& tag = node.Tag();
      const std::string& v = node.Scalar();
      if (tag == "!" || tag == "tag:yaml.org,2002:str") return Json(v);
      if (tag == "?" || tag.empty()) return ResolvePlainScalar(v);
      if (tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float") {
        Json n;
        if (ParseNumber(v, n)) return n;
        return Json(v);
      }
      if (tag == "tag:yaml.org,2002:bool") return ResolvePlainScalar(v);
      if (tag == "tag:yaml.org,2002:null") return Json(nullptr);
      return Json(v);
    }
    case YAML::NodeType::Sequence: {
      Json arr = Json::array();
      for (const auto& item : node) arr.push_back(YamlToJson(item));
      return arr;
    }
    case YAML::NodeType::Map: {
      Json obj = Json::object();
      for (const auto& kv : node) {
        std::string key = kv.first.IsScalar() ? kv.first.Scalar() : YAML::Dump(kv.first);
        obj[key] = YamlToJson(kv.second);
      }
      return obj;
    }
  }
  return Json(nullptr);
}

// True if a plain (unquoted) YAML scalar with this text would read back as the same string.
bool PlainSafe(const std::string& s) {
  if (s.empty()) return false;
  if (ResolvePlainScalar(s).is_string() == false) return false;
  // YAML 1.1 booleans that other readers (PyYAML, go-yaml v2) would turn into bools.
  static const char* kYaml11[] = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
                                  "on", "On", "ON", "off", "Off", "OFF"};
  for (const char* w : kYaml11) {
    if (s == w) return false;
  }
  if (s.front() == ' ' || s.back() == ' ' || s.front() == '\t' || s.back() == '\t') return false;
  static const std::string kIndicators = "-?:,[]{}#&*!|>'\"%@`";
  if (kIndicators.find(s.front()) != std::string::npos) {
    // "-" and "?" and ":" are fine when followed by a non-space, but keep it simple.
    return false;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return false;
    if (c == ':' && (i + 1 == s.size() || s[i + 1] == ' ')) return false;
    if (c == '#' && i > 0 && s[i - 1] == ' ') return false;
  }
  return true;
}

std::string Quote(const std::string& s) {
  // JSON string syntax is valid YAML double-quoted syntax.
  return Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
}

void EmitScalar(const Json& v, std::string& out) {
  if (v.is_null()) {
    out += "null";
  } else if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    out += PlainSafe(s) ? s : Quote(s);
  } else {
    out += v.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
}

bool IsMultilineBlockable(const std::string& s) {
  if (s.find('\n') == std::string::npos) return false;
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\n') || c == 0x7f) return false;
  }
  // Literal blocks cannot keep trailing spaces on lines or leading blank-space-only first line
  // faithfully in every reader; fall back to quoting for those.
  if (s.front() == ' ' || s.front() == '\n') return false;
  size_t pos = 0;
  while ((pos = s.find('\n', pos)) != std::string::npos) {
    if (pos > 0 && (s[pos - 1] == ' ' || s[pos - 1] == '\t')) return false;
    ++pos;
  }
  return true;
}

void Emit(const Json& v, int indent, std::string& out);

void EmitBlockString(const std::string& s, int indent, std::string& out) {
  bool trailing_nl = !s.empty() && s.back() == '\n';
  size_t trailing = 0;
  while (trailing < s.size() && s[s.size() - 1 - trailing] == '\n') ++trailing;
  out += trailing == 0 ? "|-" : (trailing == 1 ? "|" : "|+");
  out += '\n';
  std::string pad(static_cast<size_t>(indent), ' ');
  size_t start = 0;
  std::string body = trailing_nl ? s.substr(0, s.size() - 1) : s;
  if (trailing > 1) body = s.substr(0, s.size() - 1);
  while (start <= body.size()) {
    size_t nl = body.find('\n', start);
    std::string line = body.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!line.empty()) out += pad + line;
    out += '\n';
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  out.pop_back();  // the caller adds the final newline
}

void EmitValueAfterKey(const Json& v, int indent, std::string& out) {
  if (v.is_object() && !v.empty()) {
    out += '\n';
    Emit(v, indent + 2, out);
  } else if (v.is_array() && !v.empty()) {
    out += '\n';
    Emit(v, indent, out);  // Kubernetes style: list items at the key's indentation
  } else if (v.is_string() && IsMultilineBlockable(v.get_ref<const std::string&>())) {
    out += ' ';
    EmitBlockString(v.get_ref<const std::string&>(), indent + 2, out);
    out += '\n';
  } else {
    out += ' ';
    if (v.is_object()) {
      out += "{}";
    } else if (v.is_array()) {
      out += "[]";
    } else {
      EmitScalar(v, out);
    }
    out += '\n';
  }
}

void Emit(const Json& v, int indent, std::string& out) {
  std::string pad(static_cast<size_t>(indent), ' ');
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      out += pad;
      out += PlainSafe(it.key()) ? it.key() : Quote(it.key());
      out += ':';
      EmitValueAfterKey(it.value(), indent, out);
    }
  } else if (v.is_array()) {
    for (const auto& item : v) {
      out += pad;
      out += "- ";
      if (item.is_object() && !item.empty()) {
        std::string nested;
        Emit(item, indent + 2, nested);
        out += nested.substr(static_cast<size_t>(indent) + 2);
      } else if (item.is_array() && !item.empty()) {
        std::string nested;
        Emit(item, indent + 2, nested);
        out += nested.substr(static_cast<size_t>(indent) + 2);
      } else if (item.is_string() && IsMultilineBlockable(item.get_ref<const std::string&>())) {
        EmitBlockString(item.get_ref<const std::string&>(), indent + 2, out);
        out += '\n';
      } else {
        if (item.is_object()) {
          out += "{}";
        } else if (item.is_array()) {
          out += "[]";
        } else {
          EmitScalar(item, out);
        }
        out += '\n';
      }
    }
  } else {
    out += pad;
    if (v.is_string() && IsMultilineBlockable(v.get_ref<const std::string&>())) {
      EmitBlockString(v.get_ref<const std::string&>(), indent + 2, out);
    } else {
      EmitScalar(v, out);
    }
    out += '\n';
  }
}

}  // namespace

Result<Json> ParseJson(std::string_view text) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    return InvalidArgument(std::string("invalid JSON: ") + e.what());
  }
}

Result<std::vector<Json>> ParseYamlDocuments(std::string_view text) {
  std::vector<Json> docs;
  try {
    std::vector<YAML::Node> nodes = YAML::LoadAll(std::string(text));
    for (const auto& n : nodes) {
      if (!n.IsDefined() || n.IsNull()) continue;
      docs.push_back(YamlToJson(n));
    }
  } catch (const YAML::Exception& e) {
    std::ostringstream os;
    os << "invalid YAML: line " << (e.mark.line + 1) << ", column " << (e.mark.column + 1) << ": "
       << e.msg;
    return InvalidArgument(os.str());
  }
  return docs;
}

Result<Json> ParseYaml(std::string_view text) {
  SKIFF_ASSIGN_OR_RETURN(std::vector<Json> docs, ParseYamlDocuments(text));
  if (docs.size() != 1) {
    return InvalidArgument("expected exactly one YAML document, found " +
                           std::to_string(docs.size()));
  }
  return std::move(docs[0]);
}

std::string ToYaml(const Json& value) {
  std::string out;
  if ((value.is_object() || value.is_array()) && value.empty()) {
    return value.is_object() ? "{}\n" : "[]\n";
  }
  Emit(value, 0, out);
  return out;
}

std::string DumpJson(const Json& value, int indent) {
  return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

const Json* FindField(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end()) return nullptr;
  return &*it;
}

std::string StringField(const Json& obj, std::string_view key, std::string_view fallback) {
  const Json* v = FindField(obj, key);
  if (v == nullptr || v->is_null()) return std::string(fallback);
  return ScalarToString(*v);
}

int64_t IntField(const Json& obj, std::string_view key, int64_t fallback) {
  const Json* f = FindField(obj, key);
  return f != nullptr && f->is_number_integer() ? f->get<int64_t>() : fallback;
}

std::string ScalarToString(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  if (value.is_number_float()) {
    double d = value.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
      // Go's strconv.FormatFloat(f, 'f', -1, 64) prints 1.0 as "1".
      return std::to_string(static_cast<long long>(d));
    }
  }
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace skiff
