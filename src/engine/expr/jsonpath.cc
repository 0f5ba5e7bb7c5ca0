// JSONPath as github.com/PaesslerAG/jsonpath evaluates it for Argo's `jsonpath(json, path)`:
// `$`, `.a`, `['a']`, `[0]`, `[*]`, `.*`, `..a`, slices `[start:end:step]`, unions `[0,1]` and
// filters `[?(@.age > 42 && @.name == "x")]`. A path with a wildcard, slice, union, filter or
// recursive step returns an array of matches (elements that lack a selected key are skipped);
// any other path returns the single value and fails on a missing key. Deviations from
// PaesslerAG, on purpose: negative indexes such as `[-1]` count from the end, and a filter
// operand that is an object, array or non-boolean string counts as true (so `[?(@.x)]` tests
// presence) instead of failing the element.
#include <cmath>
#include <cstdlib>
#include <memory>

#include "engine/expr/builtins.h"
#include "engine/expr/go_format.h"
#include "engine/expr/lexer.h"
#include "engine/expr/regex.h"

namespace skiff::expr {
namespace {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Step {
  enum class Kind { kChild, kWildcard, kRecursive, kRange, kFilter, kUnion };
  Kind kind = Kind::kChild;
  ExprPtr key;                // kChild
  std::vector<ExprPtr> keys;  // kUnion; kRange: start, end, step (null entries are defaults)
  ExprPtr filter;             // kFilter
};

struct Path {
  bool from_root = true;  // `$` or `@`
  std::vector<Step> steps;
};

struct Expr {
  enum class Kind { kLiteral, kPath, kNot, kNegate, kBinary };
  Kind kind = Kind::kLiteral;
  Value literal;
  Path path;
  std::string op;
  ExprPtr a, b;
};

ExprPtr Literal(Value v) {
  auto e = std::make_unique<Expr>();
  e->literal = std::move(v);
  return e;
}

class PathParser {
 public:
  explicit PathParser(std::string_view src) : src_(src) {}

  Result<Path> ParseRoot() {
    SkipSpace();
    if (!Consume('$')) return Error("a JSONPath must start with $");
    SKIFF_ASSIGN_OR_RETURN(Path p, ParseSteps(true));
    SkipSpace();
    if (pos_ < src_.size()) return Error("unexpected character");
    return p;
  }

 private:
  Status Error(std::string_view msg) {
    return InvalidArgument("jsonpath: " + std::string(msg) + DescribeLocation(src_, pos_));
  }
  void SkipSpace() {
    while (pos_ < src_.size() && (src_[pos_] == ' ' || src_[pos_] == '\t' || src_[pos_] == '\n' ||
                                  src_[pos_] == '\r')) {
      ++pos_;
    }
  }
  char Peek() const { return pos_ < src_.size() ? src_[pos_] : '\0'; }
  bool Consume(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  bool PeekIs(std::string_view s) const { return src_.substr(pos_, s.size()) == s; }

  static bool IsIdentStart(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           static_cast<unsigned char>(c) >= 0x80;
  }

  std::string Ident() {
    size_t start = pos_;
    while (pos_ < src_.size() && (IsIdentStart(src_[pos_]) || (src_[pos_] >= '0' && src_[pos_] <= '9'))) {
      ++pos_;
    }
    return std::string(src_.substr(start, pos_ - start));
  }

  static Step ChildStep(std::string name) {
    Step s;
    s.kind = Step::Kind::kChild;
    s.key = Literal(Value::String(std::move(name)));
    return s;
  }

  Result<Path> ParseSteps(bool from_root) {
    Path path;
    path.from_root = from_root;
    while (true) {
      SkipSpace();
      if (Consume('.')) {
        if (Consume('.')) {
          Step rec;
          rec.kind = Step::Kind::kRecursive;
          path.steps.push_back(std::move(rec));
          if (Consume('*')) {
            Step w;
            w.kind = Step::Kind::kWildcard;
            path.steps.push_back(std::move(w));
          } else if (Peek() == '[') {
            SKIFF_ASSIGN_OR_RETURN(Step s, ParseBracket());
            path.steps.push_back(std::move(s));
          } else if (IsIdentStart(Peek())) {
            path.steps.push_back(ChildStep(Ident()));
          } else {
            return Error("expected a name, [ or * after ..");
          }
        } else if (Consume('*')) {
          Step w;
          w.kind = Step::Kind::kWildcard;
          path.steps.push_back(std::move(w));
        } else if (IsIdentStart(Peek())) {
          path.steps.push_back(ChildStep(Ident()));
        } else {
          return Error("expected a name or * after .");
        }
      } else if (Peek() == '[') {
        SKIFF_ASSIGN_OR_RETURN(Step s, ParseBracket());
        path.steps.push_back(std::move(s));
      } else {
        return path;
      }
    }
  }

  Result<Step> ParseBracket() {
    Consume('[');
    SkipSpace();
    Step step;
    if (Consume('*')) {
      SkipSpace();
      if (!Consume(']')) return Error("expected ]");
      step.kind = Step::Kind::kWildcard;
      return step;
    }
    if (Consume('?')) {
      SKIFF_ASSIGN_OR_RETURN(step.filter, ParseOr());
      SkipSpace();
      if (!Consume(']')) return Error("expected ]");
      step.kind = Step::Kind::kFilter;
      return step;
    }
    std::vector<ExprPtr> parts;
    char sep = 0;
    while (true) {
      SkipSpace();
      ExprPtr part;
      if (Peek() != ':' && Peek() != ']' && Peek() != ',') {
        SKIFF_ASSIGN_OR_RETURN(part, ParseOr());
      }
      parts.push_back(std::move(part));
      SkipSpace();
      char c = Peek();
      if (c == ']') {
        ++pos_;
        break;
      }
      if (c != ':' && c != ',') return Error("expected ], : or ,");
      ++pos_;
      if (sep == 0) sep = c;
      if (sep != c) return Error("mixed : and , in brackets");
    }
    if (sep == ':') {
      if (parts.size() > 3) return Error("a range has at most [start:end:step]");
      step.kind = Step::Kind::kRange;
      step.keys = std::move(parts);
      return step;
    }
    for (const auto& p : parts) {
      if (!p) return Error("empty key in brackets");
    }
    if (parts.size() == 1) {
      step.kind = Step::Kind::kChild;
      step.key = std::move(parts[0]);
    } else {
      step.kind = Step::Kind::kUnion;
      step.keys = std::move(parts);
    }
    return step;
  }

  // Filter and key expressions: || && comparisons + - * / % ! and unary minus.
  Result<ExprPtr> ParseOr() { return ParseLevel(0); }

  Result<ExprPtr> ParseLevel(int level) {
    static const std::vector<std::vector<std::string_view>> kLevels = {
        {"||"},
        {"&&"},
        {"==", "!=", "<=", ">=", "=~", "!~", "<", ">"},
        {"+", "-"},
        {"*", "/", "%"},
    };
    if (level == static_cast<int>(kLevels.size())) return ParseUnary();
    SKIFF_ASSIGN_OR_RETURN(ExprPtr left, ParseLevel(level + 1));
    while (true) {
      SkipSpace();
      std::string_view op;
      for (std::string_view candidate : kLevels[static_cast<size_t>(level)]) {
        if (PeekIs(candidate)) {
          op = candidate;
          break;
        }
      }
      if (op.empty()) return left;
      pos_ += op.size();
      SKIFF_ASSIGN_OR_RETURN(ExprPtr right, ParseLevel(level + 1));
      auto e = std::make_unique<Expr>();
      e->kind = Expr::Kind::kBinary;
      e->op = std::string(op);
      e->a = std::move(left);
      e->b = std::move(right);
      left = std::move(e);
    }
  }

  Result<ExprPtr> ParseUnary() {
    SkipSpace();
    if (Peek() == '!' && !PeekIs("!=")) {
      ++pos_;
      SKIFF_ASSIGN_OR_RETURN(ExprPtr operand, ParseUnary());
      auto e = std::make_unique<Expr>();
      e->kind = Expr::Kind::kNot;
      e->a = std::move(operand);
      return e;
    }
    if (Peek() == '-' && !(pos_ + 1 < src_.size() && src_[pos_ + 1] >= '0' && src_[pos_ + 1] <= '9')) {
      ++pos_;
      SKIFF_ASSIGN_OR_RETURN(ExprPtr operand, ParseUnary());
      auto e = std::make_unique<Expr>();
      e->kind = Expr::Kind::kNegate;
      e->a = std::move(operand);
      return e;
    }
    return ParsePrimary();
  }

  Result<ExprPtr> ParsePrimary() {
    SkipSpace();
    char c = Peek();
    if (c == '(') {
      ++pos_;
      SKIFF_ASSIGN_OR_RETURN(ExprPtr inner, ParseOr());
      SkipSpace();
      if (!Consume(')')) return Error("expected )");
      return inner;
    }
    if (c == '@' || c == '$') {
      ++pos_;
      auto e = std::make_unique<Expr>();
      e->kind = Expr::Kind::kPath;
      SKIFF_ASSIGN_OR_RETURN(e->path, ParseSteps(c == '$'));
      return e;
    }
    if (c == '"' || c == '\'') {
      size_t start = pos_++;
      while (pos_ < src_.size() && src_[pos_] != c) pos_ += src_[pos_] == '\\' ? 2 : 1;
      if (pos_ >= src_.size()) {
        pos_ = start;
        return Error("unterminated string");
      }
      auto s = UnescapeGoString(src_.substr(start + 1, pos_ - start - 1));
      ++pos_;
      if (!s.ok()) return Error(s.status().message());
      return Literal(Value::String(std::move(s).value()));
    }
    if ((c >= '0' && c <= '9') || c == '-' || c == '.') {
      const char* begin = src_.data() + pos_;
      std::string text(begin, src_.size() - pos_);
      char* end = nullptr;
      double d = std::strtod(text.c_str(), &end);
      if (end == text.c_str()) return Error("bad number");
      pos_ += static_cast<size_t>(end - text.c_str());
      return Literal(Value::Float(d));
    }
    if (IsIdentStart(c)) {
      size_t start = pos_;
      std::string word = Ident();
      if (word == "true" || word == "false") return Literal(Value::Bool(word == "true"));
      if (word == "null" || word == "nil") return Literal(Value());
      pos_ = start;
      return Error("unknown identifier " + word);
    }
    return Error("unexpected character");
  }

  std::string_view src_;
  size_t pos_ = 0;
};

// ---- evaluation ----

struct Context {
  const Value& root;
};

Result<Value> EvalPath(const Context& ctx, const Path& path, const Value& current, bool* ambiguous);
Result<Value> EvalExpr(const Context& ctx, const Expr& e, const Value& current);

// PaesslerAG's VisitChild.
Result<Value> Child(const Value& v, const Value& key) {
  if (v.is_array()) {
    int64_t i = 0;
    if (key.is_number()) {
      i = key.is_int() ? key.AsInt() : static_cast<int64_t>(key.AsFloat());
    } else if (key.is_string()) {
      char* end = nullptr;
      i = std::strtoll(key.AsString().c_str(), &end, 10);
      if (key.AsString().empty() || *end != '\0') {
        return InvalidArgument("unexpected string index \"" + key.AsString() + "\" for slice");
      }
    } else {
      return InvalidArgument("unexpected index type " + TypeName(key) + " for slice");
    }
    int64_t len = static_cast<int64_t>(v.AsArray().size());
    int64_t at = i < 0 ? i + len : i;
    if (at < 0 || at >= len) return InvalidArgument("index " + std::to_string(i) + " out of bounds");
    return v.AsArray()[static_cast<size_t>(at)];
  }
  if (v.is_map()) {
    std::string k;
    if (key.is_string()) {
      k = key.AsString();
    } else if (key.is_int()) {
      k = std::to_string(key.AsInt());
    } else if (key.is_float()) {
      k = FormatFloatPlain(key.AsFloat());
    } else {
      return InvalidArgument("unexpected key type " + TypeName(key) + " for map");
    }
    auto it = v.AsMap().find(k);
    if (it == v.AsMap().end()) return InvalidArgument("unknown key " + k);
    return it->second;
  }
  return InvalidArgument("unsupported value type " + TypeName(v) +
                         " for select, expected map or array");
}

void Children(const Value& v, std::vector<Value>* out) {
  if (v.is_array()) {
    out->insert(out->end(), v.AsArray().begin(), v.AsArray().end());
  } else if (v.is_map()) {
    for (const auto& [k, e] : v.AsMap()) out->push_back(e);
  }
}

void Descendants(const Value& v, std::vector<Value>* out) {
  std::vector<Value> children;
  Children(v, &children);
  for (const Value& c : children) {
    out->push_back(c);
    Descendants(c, out);
  }
}

// Truthiness of a filter result (see the file comment for the deviation from gval).
bool Truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNil:
      return false;
    case Value::Kind::kBool:
      return v.AsBool();
    case Value::Kind::kInt:
    case Value::Kind::kFloat:
      return v.ToDouble() != 0;
    case Value::Kind::kString: {
      const std::string& s = v.AsString();
      if (s.empty() || s == "false" || s == "FALSE") return false;
      char* end = nullptr;
      double d = std::strtod(s.c_str(), &end);
      if (*end == '\0') return d != 0;
      return true;
    }
    default:
      return true;
  }
}

// gval converts numbers and numeric strings to float for number operators.
bool AsNumber(const Value& v, double* out) {
  if (v.is_number()) {
    *out = v.ToDouble();
    return true;
  }
  if (v.is_string() && !v.AsString().empty()) {
    char* end = nullptr;
    *out = std::strtod(v.AsString().c_str(), &end);
    return *end == '\0';
  }
  return false;
}

Result<Value> EvalBinary(const Context& ctx, const Expr& e, const Value& current) {
  SKIFF_ASSIGN_OR_RETURN(Value a, EvalExpr(ctx, *e.a, current));
  if (e.op == "&&" || e.op == "||") {
    bool l = Truthy(a);
    if (e.op == "&&" && !l) return Value::Bool(false);
    if (e.op == "||" && l) return Value::Bool(true);
    SKIFF_ASSIGN_OR_RETURN(Value b, EvalExpr(ctx, *e.b, current));
    return Value::Bool(Truthy(b));
  }
  SKIFF_ASSIGN_OR_RETURN(Value b, EvalExpr(ctx, *e.b, current));
  double x = 0, y = 0;
  bool numbers = AsNumber(a, &x) && AsNumber(b, &y);
  if (e.op == "==" || e.op == "!=") {
    bool eq = numbers ? x == y : DeepEqual(a, b);
    return Value::Bool(e.op == "==" ? eq : !eq);
  }
  if (e.op == "=~" || e.op == "!~") {
    if (!a.is_string() || !b.is_string()) return InvalidArgument("=~ needs strings");
    SKIFF_ASSIGN_OR_RETURN(auto re, GoRegex::Compile(b.AsString()));
    SKIFF_ASSIGN_OR_RETURN(bool m, re->Search(a.AsString()));
    return Value::Bool(e.op == "=~" ? m : !m);
  }
  if (e.op == "<" || e.op == "<=" || e.op == ">" || e.op == ">=") {
    int c;
    if (numbers) {
      c = x < y ? -1 : (x > y ? 1 : 0);
    } else if (a.is_string() && b.is_string()) {
      c = a.AsString().compare(b.AsString());
    } else {
      return InvalidArgument("cannot compare " + TypeName(a) + " and " + TypeName(b));
    }
    if (e.op == "<") return Value::Bool(c < 0);
    if (e.op == "<=") return Value::Bool(c <= 0);
    if (e.op == ">") return Value::Bool(c > 0);
    return Value::Bool(c >= 0);
  }
  if (e.op == "+" && a.is_string() && b.is_string() && !numbers) {
    return Value::String(a.AsString() + b.AsString());
  }
  if (!numbers) return InvalidArgument("invalid operation " + e.op);
  if (e.op == "+") return Value::Float(x + y);
  if (e.op == "-") return Value::Float(x - y);
  if (e.op == "*") return Value::Float(x * y);
  if (e.op == "/") return Value::Float(x / y);
  return Value::Float(std::fmod(x, y));
}

Result<Value> EvalExpr(const Context& ctx, const Expr& e, const Value& current) {
  switch (e.kind) {
    case Expr::Kind::kLiteral:
      return e.literal;
    case Expr::Kind::kPath: {
      bool ambiguous = false;
      return EvalPath(ctx, e.path, e.path.from_root ? ctx.root : current, &ambiguous);
    }
    case Expr::Kind::kNot: {
      SKIFF_ASSIGN_OR_RETURN(Value v, EvalExpr(ctx, *e.a, current));
      return Value::Bool(!Truthy(v));
    }
    case Expr::Kind::kNegate: {
      SKIFF_ASSIGN_OR_RETURN(Value v, EvalExpr(ctx, *e.a, current));
      double d = 0;
      if (!AsNumber(v, &d)) return InvalidArgument("cannot negate " + TypeName(v));
      return Value::Float(-d);
    }
    case Expr::Kind::kBinary:
      return EvalBinary(ctx, e, current);
  }
  return Value();
}

Result<Value> EvalPath(const Context& ctx, const Path& path, const Value& start, bool* ambiguous) {
  std::vector<Value> set = {start};
  *ambiguous = false;
  for (const Step& step : path.steps) {
    std::vector<Value> next;
    switch (step.kind) {
      case Step::Kind::kChild:
        for (const Value& v : set) {
          SKIFF_ASSIGN_OR_RETURN(Value key, EvalExpr(ctx, *step.key, v));
          auto c = Child(v, key);
          if (c.ok()) {
            next.push_back(std::move(c).value());
          } else if (!*ambiguous) {
            return c.status();
          }
        }
        break;
      case Step::Kind::kUnion:
        *ambiguous = true;
        for (const Value& v : set) {
          for (const auto& k : step.keys) {
            auto key = EvalExpr(ctx, *k, v);
            if (!key.ok()) continue;
            auto c = Child(v, *key);
            if (c.ok()) next.push_back(std::move(c).value());
          }
        }
        break;
      case Step::Kind::kWildcard:
        *ambiguous = true;
        for (const Value& v : set) Children(v, &next);
        break;
      case Step::Kind::kRecursive:
        *ambiguous = true;
        for (const Value& v : set) {
          next.push_back(v);
          Descendants(v, &next);
        }
        break;
      case Step::Kind::kRange:
        *ambiguous = true;
        for (const Value& v : set) {
          int64_t bounds[3] = {0, 2147483647, 1};
          for (size_t i = 0; i < step.keys.size(); ++i) {
            if (!step.keys[i]) continue;
            SKIFF_ASSIGN_OR_RETURN(Value b, EvalExpr(ctx, *step.keys[i], v));
            if (!b.is_number()) return InvalidArgument("range bounds must be numbers");
            bounds[i] = b.is_int() ? b.AsInt() : static_cast<int64_t>(b.AsFloat());
          }
          if (!v.is_array()) continue;
          int64_t n = static_cast<int64_t>(v.AsArray().size());
          auto negmax = [n](int64_t x) { return x < 0 ? std::max<int64_t>(0, n + x) : std::min(x, n); };
          int64_t lo = negmax(bounds[0]);
          int64_t hi = negmax(bounds[1]);
          int64_t s = bounds[2] == 0 ? 1 : bounds[2];
          if (s > 0) {
            for (int64_t i = lo; i < hi; i += s) next.push_back(v.AsArray()[static_cast<size_t>(i)]);
          } else {
            for (int64_t i = hi - 1; i >= lo; i += s) next.push_back(v.AsArray()[static_cast<size_t>(i)]);
          }
        }
        break;
      case Step::Kind::kFilter:
        *ambiguous = true;
        for (const Value& v : set) {
          std::vector<Value> children;
          Children(v, &children);
          for (const Value& c : children) {
            auto keep = EvalExpr(ctx, *step.filter, c);
            if (keep.ok() && Truthy(*keep)) next.push_back(c);
          }
        }
        break;
    }
    set = std::move(next);
  }
  if (*ambiguous) return Value::MakeArray(std::move(set));
  return set.empty() ? Value() : set[0];
}

}  // namespace

Result<Value> JsonPathQuery(const Value& document, std::string_view path) {
  SKIFF_ASSIGN_OR_RETURN(Path parsed, PathParser(path).ParseRoot());
  Context ctx{document};
  bool ambiguous = false;
  return EvalPath(ctx, parsed, document, &ambiguous);
}

}  // namespace skiff::expr
