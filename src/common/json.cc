#include "common/json.h"

#include <yaml.h>

#include <cmath>
#include <cstdlib>
#include <cerrno>
#include <sstream>
#include <unordered_map>

namespace skiff {
namespace {

bool IsNullScalar(const std::string& s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsOctDigit(char c) { return c >= '0' && c <= '7'; }
bool IsHexDigit(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// True if every character of `s` from `i` on satisfies `pred` and there is at least one.
template <typename Pred>
bool AllFrom(const std::string& s, size_t i, Pred pred) {
  if (i >= s.size()) return false;
  for (; i < s.size(); ++i) {
    if (!pred(s[i])) return false;
  }
  return true;
}

// YAML 1.2 core-schema float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool IsCoreFloat(const std::string& s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t int_digits = 0;
  while (i < s.size() && IsDigit(s[i])) ++i, ++int_digits;
  size_t frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i, ++frac_digits;
    if (int_digits == 0 && frac_digits == 0) return false;
  } else if (int_digits == 0) {
    return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    return AllFrom(s, i, IsDigit);
  }
  return i == s.size();
}

// Returns true and sets `out` if `s` is a YAML 1.2 core-schema int or float. (Hand-written
// matching: std::regex made this the most expensive part of reading a large workflow.)
bool ParseNumber(const std::string& s, Json& out) {
  if (s.empty()) return false;
  char c = s[0];
  if (!(c == '-' || c == '+' || c == '.' || IsDigit(c))) return false;
  const size_t sign = (c == '-' || c == '+') ? 1 : 0;
  if (AllFrom(s, sign, IsDigit)) {  // [-+]?[0-9]+
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
  if (s.size() > 2 && s[0] == '0' && s[1] == 'o' && AllFrom(s, 2, IsOctDigit)) {
    out = static_cast<int64_t>(std::strtoll(s.c_str() + 2, nullptr, 8));
    return true;
  }
  if (s.size() > 2 && s[0] == '0' && s[1] == 'x' && AllFrom(s, 2, IsHexDigit)) {
    out = static_cast<int64_t>(std::strtoll(s.c_str() + 2, nullptr, 16));
    return true;
  }
  if (IsCoreFloat(s)) {
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

// The core schema's reading of a plain scalar; a string takes `s` over.
Json ResolvePlainScalarOwned(std::string s) {
  if (IsNullScalar(s)) return Json(nullptr);
  if (s == "true" || s == "True" || s == "TRUE") return Json(true);
  if (s == "false" || s == "False" || s == "FALSE") return Json(false);
  Json n;
  if (ParseNumber(s, n)) return n;
  return Json(std::move(s));
}

Json ResolvePlainScalar(const std::string& s) { return ResolvePlainScalarOwned(s); }

// A scalar's value by its tag (expanded by libyaml: `!!int` is "tag:yaml.org,2002:int"); plain
// scalars without a tag are resolved by the core schema, quoted and block ones are strings.
Json ScalarValue(const yaml_event_t& ev, std::string v) {
  const char* tag = reinterpret_cast<const char*>(ev.data.scalar.tag);
  if (tag == nullptr) {
    if (ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE) return ResolvePlainScalarOwned(std::move(v));
    return Json(std::move(v));
  }
  std::string_view t(tag);
  if (t == "tag:yaml.org,2002:int" || t == "tag:yaml.org,2002:float") {
    Json n;
    if (ParseNumber(v, n)) return n;
    return Json(std::move(v));
  }
  if (t == "tag:yaml.org,2002:bool") return ResolvePlainScalarOwned(std::move(v));
  if (t == "tag:yaml.org,2002:null") return Json(nullptr);
  return Json(std::move(v));  // "!", "!!str" and application tags
}

// YAML merge keys (`<<: *base` or `<<: [*a, *b]`), as go-yaml reads them for Kubernetes and
// Argo: keys written in the mapping win over merged ones; earlier sources win over later ones.
void MergeInto(Json& obj, const Json& source) {
  if (source.is_object()) {
    for (const auto& [k, v] : source.items()) {
      if (!obj.contains(k)) obj[k] = v;
    }
  } else if (source.is_array()) {
    for (const auto& s : source) {
      if (s.is_object()) MergeInto(obj, s);
    }
  }
}

// Builds JSON documents from libyaml's parse events: one stack of open collections, anchors
// kept as values for aliases.
class YamlBuilder {
 public:
  // Consumes one event (an alias to an unknown anchor is an error).
  Status Add(const yaml_event_t& ev) {
    switch (ev.type) {
      case YAML_STREAM_END_EVENT:
        done_ = true;
        return OkStatus();
      case YAML_DOCUMENT_START_EVENT:
        anchors_.clear();
        has_root_ = false;
        return OkStatus();
      case YAML_DOCUMENT_END_EVENT:
        if (has_root_ && !root_.is_null()) docs_.push_back(std::move(root_));
        root_ = Json();
        has_root_ = false;
        return OkStatus();
      case YAML_SCALAR_EVENT: {
        std::string raw(reinterpret_cast<const char*>(ev.data.scalar.value), ev.data.scalar.length);
        // A mapping key is its text; its typed value is needed only for an anchor on it.
        const bool key = NextIsKey();
        const bool merge_key = key && raw == "<<" && ev.data.scalar.tag == nullptr &&
                               ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (key && ev.data.scalar.anchor == nullptr) return Place(Json(), std::move(raw), merge_key);
        Json value = ScalarValue(ev, key ? raw : std::move(raw));
        Remember(ev.data.scalar.anchor, value);
        return Place(std::move(value), key ? std::move(raw) : std::string(), merge_key);
      }
      case YAML_ALIAS_EVENT: {
        std::string name = reinterpret_cast<const char*>(ev.data.alias.anchor);
        auto it = anchors_.find(name);
        if (it == anchors_.end()) return InvalidArgument("unknown anchor \"" + name + "\"");
        std::string raw;
        if (NextIsKey()) raw = it->second.is_string() ? it->second.get<std::string>() : it->second.dump();
        return Place(it->second, std::move(raw), false);
      }
      case YAML_SEQUENCE_START_EVENT:
        stack_.push_back(Frame::Open(Json::array(), Anchor(ev.data.sequence_start.anchor)));
        return OkStatus();
      case YAML_MAPPING_START_EVENT:
        stack_.push_back(Frame::Open(Json::object(), Anchor(ev.data.mapping_start.anchor)));
        return OkStatus();
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT: {
        Frame f = std::move(stack_.back());
        stack_.pop_back();
        for (const auto& m : f.merges) MergeInto(f.value, m);
        if (!f.anchor.empty()) anchors_[f.anchor] = f.value;
        // Its JSON text is needed only when it is a mapping's key (rare): dumping every
        // container would cost the size of its subtree at each level of nesting.
        std::string raw = NextIsKey() ? f.value.dump() : std::string();
        return Place(std::move(f.value), std::move(raw), false);
      }
      default:
        return OkStatus();
    }
  }
  bool done() const { return done_; }
  std::vector<Json> TakeDocuments() { return std::move(docs_); }

 private:
  struct Frame {
    Json value;
    std::string anchor;
    bool have_key = false;
    bool key_is_merge = false;
    std::string key;
    std::vector<Json> merges;

    static Frame Open(Json empty, std::string anchor) {
      Frame f;
      f.value = std::move(empty);
      f.anchor = std::move(anchor);
      return f;
    }
  };
  static std::string Anchor(const yaml_char_t* a) {
    return a == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(a));
  }
  void Remember(const yaml_char_t* anchor, const Json& value) {
    if (anchor != nullptr) anchors_[reinterpret_cast<const char*>(anchor)] = value;
  }
  // True if the node that finishes next becomes a mapping's key.
  bool NextIsKey() const { return !stack_.empty() && stack_.back().value.is_object() && !stack_.back().have_key; }
  // Puts a finished node where it belongs: the document root, the next item of a sequence, or
  // a mapping's key (scalars by their text; others by their JSON) or value.
  Status Place(Json value, std::string key_text, bool merge_key) {
    if (stack_.empty()) {
      root_ = std::move(value);
      has_root_ = true;
      return OkStatus();
    }
    Frame& top = stack_.back();
    if (top.value.is_array()) {
      top.value.push_back(std::move(value));
    } else if (!top.have_key) {
      top.key = std::move(key_text);
      top.key_is_merge = merge_key;
      top.have_key = true;
    } else {
      if (top.key_is_merge && (value.is_object() || value.is_array())) {
        top.merges.push_back(std::move(value));
      } else {
        // Last one wins, as with operator[], without copying the key.
        top.value.get_ref<Json::object_t&>().insert_or_assign(std::move(top.key), std::move(value));
      }
      top.have_key = false;
    }
    return OkStatus();
  }

  std::vector<Frame> stack_;
  std::unordered_map<std::string, Json> anchors_;
  std::vector<Json> docs_;
  Json root_;
  bool has_root_ = false;
  bool done_ = false;
};

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

// ParseJson and DumpJson are in json_text.cc.

Result<std::vector<Json>> ParseYamlDocuments(std::string_view text) {
  yaml_parser_t parser;
  if (yaml_parser_initialize(&parser) == 0) return Internal("cannot initialize the YAML parser");
  yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  YamlBuilder builder;
  Status st = OkStatus();
  while (!builder.done()) {
    yaml_event_t ev;
    if (yaml_parser_parse(&parser, &ev) == 0) {
      std::ostringstream os;
      os << "invalid YAML: line " << (parser.problem_mark.line + 1) << ", column "
         << (parser.problem_mark.column + 1) << ": " << (parser.problem ? parser.problem : "syntax error");
      if (parser.context != nullptr) os << " (" << parser.context << ")";
      st = InvalidArgument(os.str());
      break;
    }
    st = builder.Add(ev);
    const yaml_mark_t mark = ev.start_mark;
    yaml_event_delete(&ev);
    if (!st.ok()) {
      st = InvalidArgument("invalid YAML: line " + std::to_string(mark.line + 1) + ", column " +
                           std::to_string(mark.column + 1) + ": " + st.message());
      break;
    }
  }
  yaml_parser_delete(&parser);
  if (!st.ok()) return st;
  return builder.TakeDocuments();
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
