#include "store/selectors.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

namespace skiff::store {
namespace {

bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// Kubernetes' "name" part of a qualified name, also the rule for label values (which may be "").
bool IsLabelName(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

// A DNS-1123 subdomain, the optional prefix of a label key ("app.kubernetes.io/").
bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  if (!IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (std::islower(static_cast<unsigned char>(c)) != 0) ||
           (std::isdigit(static_cast<unsigned char>(c)) != 0) || c == '-' || c == '.';
  });
}

bool IsLabelKey(std::string_view s) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return IsLabelName(s);
  return IsDnsSubdomain(s.substr(0, slash)) && IsLabelName(s.substr(slash + 1));
}

bool IsLabelValue(std::string_view s) { return s.empty() || IsLabelName(s); }

bool ParseInt(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// A hand-written scanner over the selector text; `pos_` only moves forward.
class LabelParser {
 public:
  explicit LabelParser(std::string_view text) : text_(text) {}

  Result<std::vector<LabelRequirement>> ParseAll() {
    std::vector<LabelRequirement> out;
    SkipSpace();
    if (AtEnd()) return out;
    for (;;) {
      LabelRequirement req;
      SKIFF_RETURN_IF_ERROR(ParseRequirement(&req));
      out.push_back(std::move(req));
      SkipSpace();
      if (AtEnd()) break;
      if (Peek() != ',') return Error("expected ','");
      ++pos_;
    }
    return out;
  }

 private:
  static bool IsSpecial(char c) {
    return c == '!' || c == '=' || c == ',' || c == '(' || c == ')' || c == '<' || c == '>';
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  bool Consume(std::string_view s) {
    if (text_.substr(pos_, s.size()) != s) return false;
    pos_ += s.size();
    return true;
  }
  void SkipSpace() {
    while (!AtEnd() && std::isspace(static_cast<unsigned char>(text_[pos_])) != 0) ++pos_;
  }
  std::string_view Word() {
    size_t start = pos_;
    while (!AtEnd() && !IsSpecial(text_[pos_]) &&
           std::isspace(static_cast<unsigned char>(text_[pos_])) == 0) {
      ++pos_;
    }
    return text_.substr(start, pos_ - start);
  }
  Status Error(std::string_view what) const {
    std::string m = "invalid label selector \"" + std::string(text_) + "\": " + std::string(what);
    m += " at position " + std::to_string(pos_);
    return InvalidArgument(std::move(m));
  }

  Status ParseKey(std::string* key) {
    SkipSpace();
    std::string_view k = Word();
    if (k.empty()) return Error("expected a label key");
    if (!IsLabelKey(k)) return Error("invalid label key \"" + std::string(k) + "\"");
    *key = std::string(k);
    return OkStatus();
  }

  Status ParseValue(std::string* value) {
    SkipSpace();
    std::string_view v = Word();
    if (!IsLabelValue(v)) return Error("invalid label value \"" + std::string(v) + "\"");
    *value = std::string(v);
    return OkStatus();
  }

  Status ParseRequirement(LabelRequirement* req) {
    SkipSpace();
    if (Consume("!")) {
      req->op = LabelRequirement::Op::kDoesNotExist;
      return ParseKey(&req->key);
    }
    SKIFF_RETURN_IF_ERROR(ParseKey(&req->key));
    SkipSpace();
    if (AtEnd() || Peek() == ',') {
      req->op = LabelRequirement::Op::kExists;
      return OkStatus();
    }
    using Op = LabelRequirement::Op;
    if (Consume("==") || Consume("=")) {
      req->op = Op::kEquals;
    } else if (Consume("!=")) {
      req->op = Op::kNotEquals;
    } else if (Consume(">") || Consume("<")) {
      req->op = text_[pos_ - 1] == '>' ? Op::kGreaterThan : Op::kLessThan;
      SkipSpace();
      std::string_view v = Word();
      int64_t n = 0;
      if (!ParseInt(v, &n)) return Error("expected an integer after '>' or '<'");
      req->values.emplace_back(v);
      return OkStatus();
    } else {
      std::string_view word = Word();
      if (word == "in") {
        req->op = Op::kIn;
      } else if (word == "notin") {
        req->op = Op::kNotIn;
      } else {
        return Error("expected an operator (=, ==, !=, in, notin, >, <) after key \"" + req->key +
                     "\"");
      }
      return ParseSet(req);
    }
    std::string value;
    SKIFF_RETURN_IF_ERROR(ParseValue(&value));
    req->values.push_back(std::move(value));
    return OkStatus();
  }

  Status ParseSet(LabelRequirement* req) {
    SkipSpace();
    if (!Consume("(")) return Error("expected '(' after in/notin");
    for (;;) {
      std::string value;
      SKIFF_RETURN_IF_ERROR(ParseValue(&value));
      req->values.push_back(std::move(value));
      SkipSpace();
      if (Consume(")")) break;
      if (!Consume(",")) return Error("expected ',' or ')' in value set");
    }
    if (req->values.size() == 1 && req->values[0].empty()) {
      return Error("the value set of in/notin can't be empty");
    }
    return OkStatus();
  }

  std::string_view text_;
  size_t pos_ = 0;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return s;
}

std::string StringAt(const Json& obj, std::string_view section, std::string_view field) {
  const Json* sec = FindField(obj, section);
  if (sec == nullptr) return "";
  const Json* v = FindField(*sec, field);
  if (v == nullptr || !v->is_string()) return "";
  return v->get<std::string>();
}

}  // namespace

Result<LabelSelector> LabelSelector::Parse(std::string_view text) {
  LabelParser parser(text);
  SKIFF_ASSIGN_OR_RETURN(auto reqs, parser.ParseAll());
  LabelSelector sel;
  sel.requirements_ = std::move(reqs);
  return sel;
}

bool LabelSelector::Matches(const Json& labels) const {
  using Op = LabelRequirement::Op;
  for (const LabelRequirement& req : requirements_) {
    const Json* v = FindField(labels, req.key);
    bool has = v != nullptr && !v->is_null();
    std::string value = has ? ScalarToString(*v) : std::string();
    bool in_set = has && std::find(req.values.begin(), req.values.end(), value) != req.values.end();
    bool ok = false;
    switch (req.op) {
      case Op::kExists:
        ok = has;
        break;
      case Op::kDoesNotExist:
        ok = !has;
        break;
      case Op::kEquals:
      case Op::kIn:
        ok = in_set;
        break;
      case Op::kNotEquals:
      case Op::kNotIn:
        ok = !in_set;
        break;
      case Op::kGreaterThan:
      case Op::kLessThan: {
        int64_t have = 0;
        int64_t want = 0;
        if (!has || !ParseInt(value, &have) || !ParseInt(req.values[0], &want)) return false;
        ok = req.op == Op::kGreaterThan ? have > want : have < want;
        break;
      }
    }
    if (!ok) return false;
  }
  return true;
}

Result<FieldSelector> FieldSelector::Parse(std::string_view text) {
  FieldSelector sel;
  if (Trim(text).empty()) return sel;
  std::string_view rest = text;
  for (;;) {
    size_t comma = rest.find(',');
    std::string_view term = Trim(rest.substr(0, comma));
    FieldRequirement req;
    size_t op = term.find_first_of("!=");
    if (term.empty() || op == std::string_view::npos) {
      return InvalidArgument("invalid field selector \"" + std::string(text) +
                             "\": expected field=value, field==value or field!=value");
    }
    size_t value_start = op + 1;
    if (term[op] == '!') {
      if (term.substr(op, 2) != "!=") {
        return InvalidArgument("invalid field selector \"" + std::string(text) + "\"");
      }
      req.equals = false;
      value_start = op + 2;
    } else if (term.substr(op, 2) == "==") {
      value_start = op + 2;
    }
    req.field = std::string(Trim(term.substr(0, op)));
    req.value = std::string(Trim(term.substr(value_start)));
    if (req.field != "metadata.name" && req.field != "metadata.namespace" &&
        req.field != "status.phase") {
      return InvalidArgument("field label not supported: " + req.field);
    }
    sel.requirements_.push_back(std::move(req));
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return sel;
}

bool FieldSelector::Matches(const Json& obj) const {
  for (const FieldRequirement& req : requirements_) {
    std::string have;
    if (req.field == "metadata.name") {
      have = StringAt(obj, "metadata", "name");
    } else if (req.field == "metadata.namespace") {
      have = StringAt(obj, "metadata", "namespace");
    } else {
      have = StatusPhase(obj);
    }
    if ((have == req.value) != req.equals) return false;
  }
  return true;
}

Result<ListFilter> ListFilter::Parse(const ListOptions& opts) {
  ListFilter filter;
  SKIFF_ASSIGN_OR_RETURN(filter.labels_, LabelSelector::Parse(opts.label_selector));
  SKIFF_ASSIGN_OR_RETURN(filter.fields_, FieldSelector::Parse(opts.field_selector));
  filter.limit_ = opts.limit;
  // Only text that every JSON writer (ours, PostgreSQL's jsonb) leaves as it is.
  auto verbatim = [](std::string_view t) {
    if (t.empty()) return false;
    for (char c : t) {
      if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return false;
    }
    return true;
  };
  for (const LabelRequirement& r : filter.labels_.requirements()) {
    if (r.op == LabelRequirement::Op::kEquals && r.values.size() == 1 && verbatim(r.values[0])) {
      filter.needles_.push_back(r.values[0]);
    } else if (r.op == LabelRequirement::Op::kExists && verbatim(r.key)) {
      filter.needles_.push_back(r.key);
    }
  }
  return filter;
}

Result<bool> ListFilter::Add(std::string_view ns, std::string_view name, std::string_view data,
                             std::vector<Json>& items) const {
  if (!fields_.MatchesKey(ns, name)) return true;
  for (const std::string& needle : needles_) {
    if (data.find(needle) == std::string_view::npos) return true;
  }
  Result<Json> obj = ParseJson(data);
  if (!obj.ok()) {
    return Internal(std::string(ns) + "/" + std::string(name) +
                    ": stored JSON is corrupt: " + obj.status().message());
  }
  if (!fields_.Matches(*obj)) return true;
  if (!labels_.empty()) {
    const Json* meta = FindField(*obj, "metadata");
    const Json* obj_labels = meta != nullptr ? FindField(*meta, "labels") : nullptr;
    if (!labels_.Matches(obj_labels != nullptr ? *obj_labels : Json())) return true;
  }
  items.push_back(std::move(obj).value());
  return limit_ <= 0 || static_cast<int64_t>(items.size()) < limit_;
}

std::string StatusPhase(const Json& obj) { return StringAt(obj, "status", "phase"); }

bool FieldSelector::MatchesKey(std::string_view ns, std::string_view name) const {
  for (const FieldRequirement& req : requirements_) {
    std::string_view have;
    if (req.field == "metadata.name") {
      have = name;
    } else if (req.field == "metadata.namespace") {
      have = ns;
    } else {
      continue;
    }
    if ((have == req.value) != req.equals) return false;
  }
  return true;
}

}  // namespace skiff::store
