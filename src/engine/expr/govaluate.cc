// govaluate (github.com/Knetic/govaluate) as Argo evaluates a step's or task's `when`:
// tokenize, check token transitions, turn every VARIABLE token into a STRING constant (so bare
// words compare as strings), check again, then evaluate with govaluate's operator precedence
// and type checks. Parameters are never supplied, so an ACCESSOR token (a bare word with a dot,
// such as `a.b`) fails at evaluation with "No parameter 'a' found." exactly as in Argo.
// Known consequences, kept on purpose: `hello world == hello world` is a syntax error (two
// VARIABLE tokens in a row), `foo-bar == foo-bar` is a type error (`-` on strings), and
// `!foo` is a syntax error (a PREFIX cannot precede a STRING).
#include <cmath>
#include <memory>

#include "engine/expr/expr.h"
#include "engine/expr/go_format.h"
#include "engine/expr/go_time.h"
#include "engine/expr/regex.h"

namespace skiff::expr {
namespace {

enum class Kind {
  kUnknown, kPrefix, kNumeric, kBoolean, kString, kPattern, kTime, kVariable, kFunction,
  kSeparator, kComparator, kLogicalOp, kModifier, kClause, kClauseClose, kTernary, kAccessor,
};

const char* KindName(Kind k) {
  static const char* const kNames[] = {
      "UNKNOWN",   "PREFIX",     "NUMERIC",   "BOOLEAN",  "STRING",   "PATTERN",
      "TIME",      "VARIABLE",   "FUNCTION",  "SEPARATOR", "COMPARATOR", "LOGICALOP",
      "MODIFIER",  "CLAUSE",     "CLAUSE_CLOSE", "TERNARY", "ACCESSOR"};
  return kNames[static_cast<int>(k)];
}

struct Token {
  Kind kind = Kind::kUnknown;
  Value value;       // numbers, bools, strings and times (as Unix seconds)
  std::string text;  // operators, variable and accessor names
  std::shared_ptr<const GoRegex> regex;  // kPattern
};

std::string TokenValueText(const Token& t) {
  if (t.kind == Kind::kNumeric || t.kind == Kind::kBoolean || t.kind == Kind::kString ||
      t.kind == Kind::kTime) {
    return FormatGoV(t.value);
  }
  if (t.kind == Kind::kClause) return "40";  // govaluate stores the rune '('
  if (t.kind == Kind::kClauseClose) return "41";
  if (t.kind == Kind::kPattern) return t.regex->pattern();
  if (t.kind == Kind::kAccessor) return "[" + t.text + "]";
  return t.text;
}

// govaluate's validLexerStates: which token kinds may follow which, and which may end.
bool CanTransition(Kind from, Kind to) {
  using K = Kind;
  auto in = [to](std::initializer_list<K> ks) {
    for (K k : ks) {
      if (k == to) return true;
    }
    return false;
  };
  switch (from) {
    case K::kUnknown:
      return in({K::kPrefix, K::kNumeric, K::kBoolean, K::kVariable, K::kPattern, K::kFunction,
                 K::kAccessor, K::kString, K::kTime, K::kClause});
    case K::kClause:
      return in({K::kPrefix, K::kNumeric, K::kBoolean, K::kVariable, K::kPattern, K::kFunction,
                 K::kAccessor, K::kString, K::kTime, K::kClause, K::kClauseClose});
    case K::kClauseClose:
      return in({K::kComparator, K::kModifier, K::kNumeric, K::kBoolean, K::kVariable, K::kString,
                 K::kPattern, K::kTime, K::kClause, K::kClauseClose, K::kLogicalOp, K::kTernary,
                 K::kSeparator});
    case K::kNumeric:
    case K::kBoolean:
    case K::kString:
    case K::kTime:
    case K::kVariable:
      return in({K::kModifier, K::kComparator, K::kLogicalOp, K::kClauseClose, K::kTernary,
                 K::kSeparator});
    case K::kPattern:
      return in({K::kModifier, K::kComparator, K::kLogicalOp, K::kClauseClose, K::kSeparator});
    case K::kModifier:
      return in({K::kPrefix, K::kNumeric, K::kVariable, K::kFunction, K::kAccessor, K::kString,
                 K::kBoolean, K::kClause, K::kClauseClose});
    case K::kComparator:
      return in({K::kPrefix, K::kNumeric, K::kBoolean, K::kVariable, K::kFunction, K::kAccessor,
                 K::kString, K::kTime, K::kClause, K::kClauseClose, K::kPattern});
    case K::kLogicalOp:
      return in({K::kPrefix, K::kNumeric, K::kBoolean, K::kVariable, K::kFunction, K::kAccessor,
                 K::kString, K::kTime, K::kClause, K::kClauseClose});
    case K::kPrefix:
      return in({K::kNumeric, K::kBoolean, K::kVariable, K::kFunction, K::kAccessor, K::kClause,
                 K::kClauseClose});
    case K::kTernary:
      return in({K::kPrefix, K::kNumeric, K::kBoolean, K::kString, K::kTime, K::kVariable,
                 K::kFunction, K::kAccessor, K::kClause, K::kSeparator});
    case K::kFunction:
      return in({K::kClause});
    case K::kAccessor:
      return in({K::kClause, K::kModifier, K::kComparator, K::kLogicalOp, K::kClauseClose,
                 K::kTernary, K::kSeparator});
    case K::kSeparator:
      return in({K::kPrefix, K::kNumeric, K::kBoolean, K::kString, K::kTime, K::kVariable,
                 K::kFunction, K::kAccessor, K::kClause});
  }
  return false;
}

bool CanEnd(Kind k) {
  switch (k) {
    case Kind::kClauseClose:
    case Kind::kNumeric:
    case Kind::kBoolean:
    case Kind::kString:
    case Kind::kTime:
    case Kind::kPattern:
    case Kind::kVariable:
    case Kind::kAccessor:
      return true;
    default:
      return false;
  }
}

bool IsLetter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || static_cast<unsigned char>(c) >= 0x80;
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool IsQuote(char c) { return c == '\'' || c == '"'; }

// govaluate turns quoted strings that parse as one of these layouts into times.
bool TryParseTime(const std::string& s, double* unix_seconds) {
  static constexpr std::string_view kLayouts[] = {
      "Mon Jan _2 15:04:05 2006",          "Mon Jan _2 15:04:05 MST 2006",
      "Mon Jan 02 15:04:05 -0700 2006",    "3:04PM",
      kRfc3339,                            kRfc3339Nano,
      "2006-01-02",                        "2006-01-02 15:04",
      "2006-01-02 15:04:05",               "2006-01-02 15:04:05-07:00",
      "2006-01-02T15Z0700",                "2006-01-02T15:04Z0700",
      "2006-01-02T15:04:05Z0700",          "2006-01-02T15:04:05.999999999Z0700",
  };
  for (std::string_view layout : kLayouts) {
    auto t = ParseGoTime(layout, s);
    if (t.ok()) {
      *unix_seconds = static_cast<double>(t->sec);
      return true;
    }
  }
  return false;
}

Result<std::vector<Token>> Tokenize(std::string_view s) {
  std::vector<Token> out;
  Kind state = Kind::kUnknown;
  size_t i = 0;
  while (true) {
    while (i < s.size() && IsSpace(s[i])) ++i;
    if (i >= s.size()) break;
    char c = s[i];
    Token t;
    if (IsDigit(c)) {
      if (c == '0' && i + 1 < s.size() && s[i + 1] == 'x') {
        size_t start = i + 2;
        i = start;
        while (i < s.size() && std::isxdigit(static_cast<unsigned char>(s[i]))) ++i;
        std::string hex(s.substr(start, i - start));
        char* end = nullptr;
        unsigned long long v = std::strtoull(hex.c_str(), &end, 16);
        if (hex.empty() || *end != '\0') {
          return InvalidArgument("Unable to parse hex value '" + hex + "' to uint64");
        }
        t.kind = Kind::kNumeric;
        t.value = Value::Float(static_cast<double>(v));
      } else {
        size_t start = i;
        while (i < s.size() && (IsDigit(s[i]) || s[i] == '.')) ++i;
        std::string text(s.substr(start, i - start));
        char* end = nullptr;
        double d = std::strtod(text.c_str(), &end);
        if (*end != '\0') {
          return InvalidArgument("Unable to parse numeric value '" + text + "' to float64");
        }
        t.kind = Kind::kNumeric;
        t.value = Value::Float(d);
      }
    } else if (c == ',') {
      ++i;
      t.kind = Kind::kSeparator;
      t.text = ",";
    } else if (c == '[') {
      // An escaped parameter name; Argo turns it into a string like any other variable.
      std::string name;
      ++i;
      while (i < s.size() && s[i] != ']') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        name += s[i++];
      }
      if (i >= s.size()) return InvalidArgument("Unclosed parameter bracket");
      ++i;
      t.kind = Kind::kVariable;
      t.text = name;
    } else if (IsLetter(c)) {
      size_t start = i;
      while (i < s.size() && (IsLetter(s[i]) || IsDigit(s[i]) || s[i] == '_' || s[i] == '.')) ++i;
      std::string word(s.substr(start, i - start));
      if (word == "true" || word == "false") {
        t.kind = Kind::kBoolean;
        t.value = Value::Bool(word == "true");
      } else if (word == "in" || word == "IN") {
        t.kind = Kind::kComparator;
        t.text = "in";
      } else if (word.find('.') != std::string::npos) {
        if (word.back() == '.') return InvalidArgument("Hanging accessor on token '" + word + "'");
        t.kind = Kind::kAccessor;
        t.text = word;
      } else {
        t.kind = Kind::kVariable;
        t.text = word;
      }
    } else if (IsQuote(c)) {
      std::string str;
      ++i;
      while (i < s.size() && !IsQuote(s[i])) {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        str += s[i++];
      }
      if (i >= s.size()) return InvalidArgument("Unclosed string literal");
      ++i;
      double secs = 0;
      if (TryParseTime(str, &secs)) {
        t.kind = Kind::kTime;
        t.value = Value::Float(secs);
      } else {
        t.kind = Kind::kString;
        t.value = Value::String(std::move(str));
      }
    } else if (c == '(') {
      ++i;
      t.kind = Kind::kClause;
    } else if (c == ')') {
      ++i;
      t.kind = Kind::kClauseClose;
    } else {
      size_t start = i;
      while (i < s.size() && !IsDigit(s[i]) && !IsLetter(s[i]) && !IsSpace(s[i]) &&
             !IsQuote(s[i]) && s[i] != '(' && s[i] != ')' && s[i] != '[' && s[i] != ']') {
        ++i;
      }
      std::string op(s.substr(start, i - start));
      t.text = op;
      auto one_of = [&op](std::initializer_list<std::string_view> xs) {
        for (auto x : xs) {
          if (op == x) return true;
        }
        return false;
      };
      if (CanTransition(state, Kind::kPrefix) && one_of({"-", "!", "~"})) {
        t.kind = Kind::kPrefix;
      } else if (one_of({"+", "-", "*", "/", "%", "**", "&", "|", "^", ">>", "<<"})) {
        t.kind = Kind::kModifier;
      } else if (one_of({"&&", "||"})) {
        t.kind = Kind::kLogicalOp;
      } else if (one_of({"==", "!=", ">", ">=", "<", "<=", "=~", "!~", "in"})) {
        t.kind = Kind::kComparator;
      } else if (one_of({"?", ":", "??"})) {
        t.kind = Kind::kTernary;
      } else {
        return InvalidArgument("Invalid token: '" + op + "'");
      }
    }
    state = t.kind;
    out.push_back(std::move(t));
  }
  return out;
}

Status CheckBalance(const std::vector<Token>& tokens) {
  int depth = 0;
  for (const Token& t : tokens) {
    if (t.kind == Kind::kClause) ++depth;
    if (t.kind == Kind::kClauseClose && --depth < 0) break;
  }
  if (depth != 0) return InvalidArgument("Unbalanced parenthesis");
  return OkStatus();
}

Status CheckSyntax(const std::vector<Token>& tokens) {
  Kind state = Kind::kUnknown;
  const Token* last = nullptr;
  for (const Token& t : tokens) {
    if (!CanTransition(state, t.kind)) {
      if (last != nullptr && last->kind == Kind::kVariable && t.kind == Kind::kClause) {
        return InvalidArgument("Undefined function " + last->text);
      }
      std::string from = std::string(KindName(state)) + " [" +
                         (last != nullptr ? TokenValueText(*last) : "<nil>") + "]";
      std::string to = std::string(KindName(t.kind)) + " [" + TokenValueText(t) + "]";
      return InvalidArgument("Cannot transition token types from " + from + " to " + to);
    }
    state = t.kind;
    last = &t;
  }
  if (!CanEnd(state)) return InvalidArgument("Unexpected end of expression");
  return OkStatus();
}

struct Node {
  std::string op;  // empty: a literal (or the empty clause `()`, which is nil)
  Value literal;
  std::string accessor;  // an accessor token: always an error, there are no parameters
  std::shared_ptr<const GoRegex> regex;  // a pattern precompiled from the token after =~ or !~
  std::unique_ptr<Node> left, right;
};
using NodePtr = std::unique_ptr<Node>;

class Planner {
 public:
  explicit Planner(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Result<NodePtr> Run() {
    SKIFF_ASSIGN_OR_RETURN(NodePtr root, Level(0));
    if (pos_ < tokens_.size()) {
      return InvalidArgument("Unexpected token " + TokenValueText(tokens_[pos_]));
    }
    return root;
  }

 private:
  static bool AtLevel(const Token& t, int level) {
    static const struct {
      Kind kind;
      std::initializer_list<std::string_view> ops;
    } kLevels[] = {
        {Kind::kSeparator, {","}},
        {Kind::kTernary, {"?", ":", "??"}},
        {Kind::kLogicalOp, {"||"}},
        {Kind::kLogicalOp, {"&&"}},
        {Kind::kComparator, {"==", "!=", ">", ">=", "<", "<=", "=~", "!~", "in"}},
        {Kind::kModifier, {"&", "|", "^"}},
        {Kind::kModifier, {"<<", ">>"}},
        {Kind::kModifier, {"+", "-"}},
        {Kind::kModifier, {"*", "/", "%"}},
        {Kind::kModifier, {"**"}},
    };
    const auto& l = kLevels[level];
    if (t.kind != l.kind) return false;
    for (auto op : l.ops) {
      if (t.text == op) return true;
    }
    return false;
  }
  static constexpr int kValueLevel = 10;

  Result<NodePtr> Level(int level) {
    if (level == kValueLevel) return Operand();
    SKIFF_ASSIGN_OR_RETURN(NodePtr left, Level(level + 1));
    while (pos_ < tokens_.size() && AtLevel(tokens_[pos_], level)) {
      std::string op = tokens_[pos_++].text;
      SKIFF_ASSIGN_OR_RETURN(NodePtr right, Level(level + 1));
      auto n = std::make_unique<Node>();
      n->op = std::move(op);
      n->left = std::move(left);
      n->right = std::move(right);
      left = std::move(n);
    }
    return left;
  }

  Result<NodePtr> Operand() {
    if (pos_ >= tokens_.size()) return NodePtr();
    const Token& t = tokens_[pos_++];
    auto n = std::make_unique<Node>();
    switch (t.kind) {
      case Kind::kClause: {
        if (++depth_ > 100) return InvalidArgument("expression is too deeply nested");
        SKIFF_ASSIGN_OR_RETURN(NodePtr inner, Level(0));
        --depth_;
        ++pos_;  // the CLAUSE_CLOSE; balance was checked
        auto noop = std::make_unique<Node>();
        noop->op = "()";
        noop->right = std::move(inner);
        return noop;
      }
      case Kind::kClauseClose:
        --pos_;  // `()`: nothing inside
        return NodePtr();
      case Kind::kPrefix: {
        SKIFF_ASSIGN_OR_RETURN(NodePtr operand, Operand());
        n->op = "prefix" + t.text;
        n->right = std::move(operand);
        return n;
      }
      case Kind::kAccessor:
        n->op = "accessor";
        n->accessor = t.text;
        return n;
      case Kind::kPattern:
        n->literal = Value::String(t.regex->pattern());
        n->regex = t.regex;
        return n;
      default:
        n->literal = t.value;
        return n;
    }
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

class Evaluator {
 public:
  Result<Value> Eval(const Node* n) {
    if (n == nullptr) return Value();
    const std::string& op = n->op;
    if (op.empty()) return n->literal;
    if (op == "accessor") {
      std::string head = n->accessor.substr(0, n->accessor.find('.'));
      return InvalidArgument("No parameter '" + head + "' found.");
    }
    if (op == "()") return Eval(n->right.get());
    if (op.rfind("prefix", 0) == 0) {
      SKIFF_ASSIGN_OR_RETURN(Value v, Eval(n->right.get()));
      std::string sym = op.substr(6);
      if (sym == "!") {
        if (!v.is_bool()) return TypeError(v, sym, "Value '%v' cannot be used with the prefix '%s'");
        return Value::Bool(!v.AsBool());
      }
      if (!v.is_float()) return TypeError(v, sym, "Value '%v' cannot be used with the prefix '%s'");
      if (sym == "-") return Value::Float(-v.AsFloat());
      return Value::Float(static_cast<double>(~static_cast<int64_t>(v.AsFloat())));
    }

    SKIFF_ASSIGN_OR_RETURN(Value left, Eval(n->left.get()));
    if (op == "&&" && left.is_bool() && !left.AsBool()) return Value::Bool(false);
    if (op == "||" && left.is_bool() && left.AsBool()) return Value::Bool(true);
    if (op == "??" && !left.is_nil()) return left;
    bool skip_right = (op == "?" && left.is_bool() && !left.AsBool()) || (op == ":" && !left.is_nil());
    Value right;
    if (!skip_right) {
      SKIFF_ASSIGN_OR_RETURN(right, Eval(n->right.get()));
    }
    return Apply(op, left, right, n->right.get());
  }

 private:
  static constexpr const char* kModifierError =
      "Value '%v' cannot be used with the modifier '%s', it is not a number";
  static constexpr const char* kComparatorError =
      "Value '%v' cannot be used with the comparator '%s', it is not a number";
  static constexpr const char* kLogicalError =
      "Value '%v' cannot be used with the logical operator '%s', it is not a bool";
  static constexpr const char* kTernaryError =
      "Value '%v' cannot be used with the ternary operator '%s', it is not a bool";

  static Status TypeError(const Value& v, const std::string& op, std::string_view format) {
    std::string out(format);
    out.replace(out.find("%v"), 2, FormatGoV(v));
    out.replace(out.find("%s"), 2, op);
    return InvalidArgument(out);
  }

  Result<Value> Apply(const std::string& op, const Value& l, const Value& r, const Node* right_node) {
    if (op == "&&" || op == "||") {
      if (!l.is_bool()) return TypeError(l, op, kLogicalError);
      if (!r.is_bool()) return TypeError(r, op, kLogicalError);
      return Value::Bool(op == "&&" ? l.AsBool() && r.AsBool() : l.AsBool() || r.AsBool());
    }
    if (op == "?") {
      if (!l.is_bool()) return TypeError(l, op, kTernaryError);
      return l.AsBool() ? r : Value();
    }
    if (op == ":") return l.is_nil() ? r : l;
    if (op == "??") return l.is_nil() ? r : l;
    if (op == ",") {
      Array out;
      if (l.is_array()) out = l.AsArray();
      else out.push_back(l);
      out.push_back(r);
      return Value::MakeArray(std::move(out));
    }
    if (op == "==" || op == "!=") {
      bool eq = DeepEqual(l, r);
      return Value::Bool(op == "==" ? eq : !eq);
    }
    if (op == "in") {
      if (!r.is_array()) {
        return TypeError(r, op, "Value '%v' cannot be used with the comparator '%s', it is not an array");
      }
      for (const Value& e : r.AsArray()) {
        if (DeepEqual(e, l)) return Value::Bool(true);
      }
      return Value::Bool(false);
    }
    if (op == "=~" || op == "!~") {
      std::shared_ptr<const GoRegex> re = right_node != nullptr ? right_node->regex : nullptr;
      if (!l.is_string() || (!re && !r.is_string())) {
        return TypeError(l, op, "Value '%v' cannot be used with the comparator '%s', it is not a string");
      }
      if (!re) {
        SKIFF_ASSIGN_OR_RETURN(re, GoRegex::Compile(r.AsString()));
      }
      SKIFF_ASSIGN_OR_RETURN(bool m, re->Search(l.AsString()));
      return Value::Bool(op == "=~" ? m : !m);
    }
    if (op == ">" || op == ">=" || op == "<" || op == "<=") {
      int c;
      if (l.is_float() && r.is_float()) {
        c = l.AsFloat() < r.AsFloat() ? -1 : (l.AsFloat() > r.AsFloat() ? 1 : 0);
      } else if (l.is_string() && r.is_string()) {
        c = l.AsString().compare(r.AsString());
      } else {
        return TypeError(l, op, kComparatorError);
      }
      if (op == ">") return Value::Bool(c > 0);
      if (op == ">=") return Value::Bool(c >= 0);
      if (op == "<") return Value::Bool(c < 0);
      return Value::Bool(c <= 0);
    }
    if (op == "+" && (l.is_string() || r.is_string())) {
      return Value::String(FormatGoV(l) + FormatGoV(r));
    }
    // The remaining modifiers need two numbers.
    if (!l.is_float()) return TypeError(l, op, kModifierError);
    if (!r.is_float()) return TypeError(r, op, kModifierError);
    double x = l.AsFloat();
    double y = r.AsFloat();
    if (op == "+") return Value::Float(x + y);
    if (op == "-") return Value::Float(x - y);
    if (op == "*") return Value::Float(x * y);
    if (op == "/") return Value::Float(x / y);
    if (op == "%") return Value::Float(std::fmod(x, y));
    if (op == "**") return Value::Float(std::pow(x, y));
    int64_t a = static_cast<int64_t>(x);
    int64_t b = static_cast<int64_t>(y);
    if (op == "&") return Value::Float(static_cast<double>(a & b));
    if (op == "|") return Value::Float(static_cast<double>(a | b));
    if (op == "^") return Value::Float(static_cast<double>(a ^ b));
    if (op == "<<") return Value::Float(static_cast<double>(b < 0 || b >= 64 ? 0 : static_cast<int64_t>(static_cast<uint64_t>(a) << b)));
    if (op == ">>") return Value::Float(static_cast<double>(b < 0 || b >= 64 ? (a < 0 ? -1 : 0) : a >> b));
    return InvalidArgument("unknown operator " + op);
  }
};

}  // namespace

Result<bool> EvaluateWhen(std::string_view source) {
  if (source.empty()) return true;  // Argo's shouldExecute: no condition means "run"
  auto fail = [&](const Status& s) {
    return InvalidArgument("invalid 'when' expression '" + std::string(source) + "': " +
                           s.message());
  };
  auto tokens = Tokenize(source);
  if (!tokens.ok()) return fail(tokens.status());
  Status st = CheckBalance(*tokens);
  if (st.ok()) st = CheckSyntax(*tokens);
  if (!st.ok()) return fail(st);
  // Argo: every VARIABLE becomes a STRING constant.
  for (Token& t : *tokens) {
    if (t.kind == Kind::kVariable) {
      t.kind = Kind::kString;
      t.value = Value::String(t.text);
    }
  }
  st = CheckSyntax(*tokens);
  if (!st.ok()) return fail(st);
  // govaluate precompiles a constant pattern after =~ and !~.
  for (size_t i = 0; i + 1 < tokens->size(); ++i) {
    Token& op = (*tokens)[i];
    Token& next = (*tokens)[i + 1];
    if (op.kind == Kind::kComparator && (op.text == "=~" || op.text == "!~") &&
        next.kind == Kind::kString) {
      auto re = GoRegex::Compile(next.value.AsString());
      if (!re.ok()) return fail(re.status());
      next.kind = Kind::kPattern;
      next.regex = std::move(re).value();
    }
  }
  Planner planner(std::move(tokens).value());
  auto root = planner.Run();
  if (!root.ok()) return fail(root.status());
  auto result = Evaluator().Eval(root->get());
  if (!result.ok()) {
    return InvalidArgument("failed to evaluate 'when' condition '" + std::string(source) + "': " +
                           result.status().message());
  }
  if (!result->is_bool()) {
    return InvalidArgument("expected boolean result, got " + FormatGoV(*result) + " for '" +
                           std::string(source) + "'");
  }
  return result->AsBool();
}

}  // namespace skiff::expr
