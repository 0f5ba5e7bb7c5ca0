#include "engine/expr/parser.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "engine/expr/builtins.h"
#include "engine/expr/lexer.h"

namespace skiff::expr {
namespace {

// Deeper trees are rejected so that evaluating or destroying them cannot exhaust the stack.
constexpr int kMaxDepth = 400;
constexpr int kMaxRecursion = 200;

enum class Assoc { kLeft, kRight };
struct BinaryOp {
  int precedence;
  Assoc assoc;
};

// Upstream's operator table (parser/operator/operator.go).
const BinaryOp* FindBinary(std::string_view op) {
  static const struct {
    std::string_view name;
    BinaryOp op;
  } kOps[] = {
      {"|", {0, Assoc::kLeft}},          {"or", {10, Assoc::kLeft}},
      {"||", {10, Assoc::kLeft}},        {"and", {15, Assoc::kLeft}},
      {"&&", {15, Assoc::kLeft}},        {"==", {20, Assoc::kLeft}},
      {"!=", {20, Assoc::kLeft}},        {"<", {20, Assoc::kLeft}},
      {">", {20, Assoc::kLeft}},         {">=", {20, Assoc::kLeft}},
      {"<=", {20, Assoc::kLeft}},        {"in", {20, Assoc::kLeft}},
      {"matches", {20, Assoc::kLeft}},   {"contains", {20, Assoc::kLeft}},
      {"startsWith", {20, Assoc::kLeft}}, {"endsWith", {20, Assoc::kLeft}},
      {"..", {25, Assoc::kLeft}},        {"+", {30, Assoc::kLeft}},
      {"-", {30, Assoc::kLeft}},         {"*", {60, Assoc::kLeft}},
      {"/", {60, Assoc::kLeft}},         {"%", {60, Assoc::kLeft}},
      {"**", {100, Assoc::kRight}},      {"^", {100, Assoc::kRight}},
      {"??", {500, Assoc::kLeft}},
  };
  for (const auto& e : kOps) {
    if (e.name == op) return &e.op;
  }
  return nullptr;
}

int UnaryPrecedence(std::string_view op) {
  if (op == "not" || op == "!") return 50;
  if (op == "-" || op == "+") return 90;
  return -1;
}

bool AllowedNegateSuffix(std::string_view op) {
  return op == "contains" || op == "matches" || op == "startsWith" || op == "endsWith" ||
         op == "in";
}

// Orderings chain: `a < b < c` means `a < b && b < c`.
bool IsChainedComparison(std::string_view op) {
  return op == "<" || op == ">" || op == "<=" || op == ">=";
}

bool IsValidIdentifier(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

struct PredicateSpec {
  std::string_view name;
  Predicate predicate;
  int required;  // leading required arguments (collection, closure)
  bool optional_closure;
  bool optional_extra;
};

const PredicateSpec* FindPredicate(std::string_view name) {
  static const PredicateSpec kSpecs[] = {
      {"all", Predicate::kAll, 2, false, false},
      {"none", Predicate::kNone, 2, false, false},
      {"any", Predicate::kAny, 2, false, false},
      {"one", Predicate::kOne, 2, false, false},
      {"filter", Predicate::kFilter, 2, false, false},
      {"map", Predicate::kMap, 2, false, false},
      {"count", Predicate::kCount, 1, true, false},
      {"sum", Predicate::kSum, 1, true, false},
      {"find", Predicate::kFind, 2, false, false},
      {"findIndex", Predicate::kFindIndex, 2, false, false},
      {"findLast", Predicate::kFindLast, 2, false, false},
      {"findLastIndex", Predicate::kFindLastIndex, 2, false, false},
      {"groupBy", Predicate::kGroupBy, 2, false, false},
      {"sortBy", Predicate::kSortBy, 2, false, true},
      {"reduce", Predicate::kReduce, 2, false, true},
  };
  for (const auto& s : kSpecs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string Describe(const Token& t) {
  switch (t.kind) {
    case TokenKind::kEof:
      return "EOF";
    case TokenKind::kIdentifier:
      return "Identifier(\"" + t.value + "\")";
    case TokenKind::kNumber:
      return "Number(\"" + t.value + "\")";
    case TokenKind::kString:
      return "String(\"" + t.value + "\")";
    case TokenKind::kOperator:
      return "Operator(\"" + t.value + "\")";
    case TokenKind::kBracket:
      return "Bracket(\"" + t.value + "\")";
  }
  return "?";
}

std::unique_ptr<Node> Clone(const Node& n) {
  auto c = std::make_unique<Node>();
  c->kind = n.kind;
  c->pos = n.pos;
  c->depth = n.depth;
  c->str = n.str;
  c->bool_value = n.bool_value;
  c->int_value = n.int_value;
  c->float_value = n.float_value;
  c->optional = n.optional;
  c->function = n.function;
  c->predicate = n.predicate;
  c->regex = n.regex;
  for (const auto& child : n.children) c->children.push_back(child ? Clone(*child) : nullptr);
  return c;
}

class Parser {
 public:
  Parser(std::string_view src, std::vector<Token> tokens)
      : src_(src), tokens_(std::move(tokens)), current_(tokens_[0]) {}

  Result<std::unique_ptr<Node>> Run() {
    auto node = ParseExpression(0);
    if (err_.ok() && !current_.Is(TokenKind::kEof)) Error("unexpected token " + Describe(current_));
    if (!err_.ok()) return err_;
    return node;
  }

 private:
  using NodePtr = std::unique_ptr<Node>;

  void ErrorAt(size_t pos, std::string_view msg) {
    if (err_.ok()) err_ = LocatedError(src_, pos, msg);
  }
  void Error(std::string_view msg) { ErrorAt(current_.pos, msg); }

  void Next() {
    ++pos_;
    if (pos_ >= tokens_.size()) {
      Error("unexpected end of expression");
      pos_ = tokens_.size() - 1;
    }
    current_ = tokens_[pos_];
  }

  void Expect(TokenKind kind, std::string_view value = {}) {
    if (value.empty() ? current_.Is(kind) : current_.Is(kind, value)) {
      Next();
      return;
    }
    Error("unexpected token " + Describe(current_));
  }

  NodePtr Make(NodeKind kind, size_t pos, std::vector<NodePtr> children = {}) {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->pos = pos;
    for (const auto& c : children) {
      if (c && c->depth + 1 > n->depth) n->depth = c->depth + 1;
    }
    n->children = std::move(children);
    if (n->depth > kMaxDepth) ErrorAt(pos, "expression is too deeply nested");
    return n;
  }

  NodePtr MakeString(std::string s, size_t pos) {
    auto n = Make(NodeKind::kString, pos);
    n->str = std::move(s);
    return n;
  }

  NodePtr MakeBinary(std::string op, NodePtr left, NodePtr right, size_t pos) {
    std::vector<NodePtr> children;
    children.push_back(std::move(left));
    children.push_back(std::move(right));
    auto n = Make(NodeKind::kBinary, pos, std::move(children));
    n->str = std::move(op);
    if (n->str == "matches" && n->children[1]->kind == NodeKind::kString) {
      auto re = GoRegex::Compile(n->children[1]->str);
      if (!re.ok()) {
        ErrorAt(n->children[1]->pos, re.status().message());
      } else {
        n->regex = std::move(re).value();
      }
    }
    return n;
  }

  NodePtr MakeUnary(std::string op, NodePtr operand, size_t pos) {
    std::vector<NodePtr> children;
    children.push_back(std::move(operand));
    auto n = Make(NodeKind::kUnary, pos, std::move(children));
    n->str = std::move(op);
    return n;
  }

  NodePtr ParseExpression(int precedence) {
    if (++recursion_ > kMaxRecursion) {
      Error("expression is too deeply nested");
      --recursion_;
      return Make(NodeKind::kNil, current_.pos);
    }
    NodePtr node = ParseExpressionInner(precedence);
    --recursion_;
    return node;
  }

  NodePtr ParseExpressionInner(int precedence) {
    if (precedence == 0 && current_.Is(TokenKind::kOperator, "let")) return ParseLet();
    NodePtr left = ParsePrimary();
    Token op_token = current_;
    while (op_token.Is(TokenKind::kOperator) && err_.ok()) {
      bool negate = op_token.Is(TokenKind::kOperator, "not");
      Token not_token;
      if (negate) {
        size_t saved = pos_;
        Next();
        if (current_.Is(TokenKind::kOperator) && AllowedNegateSuffix(current_.value)) {
          const BinaryOp* op = FindBinary(current_.value);
          if (op != nullptr && op->precedence >= precedence) {
            not_token = op_token;
            op_token = current_;
          } else {
            pos_ = saved;
            current_ = op_token;
            break;
          }
        } else {
          Error("unexpected token " + Describe(current_));
          break;
        }
      }
      const BinaryOp* op = FindBinary(op_token.value);
      if (op == nullptr || op->precedence < precedence) break;
      Next();
      if (op_token.value == "|") {
        Token ident = current_;
        Expect(TokenKind::kIdentifier);
        std::vector<NodePtr> args;
        args.push_back(std::move(left));
        left = ParseCall(ident, std::move(args));
      } else if (IsChainedComparison(op_token.value)) {
        left = ParseComparison(std::move(left), op_token, op->precedence);
      } else {
        NodePtr right =
            ParseExpression(op->assoc == Assoc::kLeft ? op->precedence + 1 : op->precedence);
        left = MakeBinary(op_token.value, std::move(left), std::move(right), op_token.pos);
        if (negate) left = MakeUnary("not", std::move(left), not_token.pos);
      }
      op_token = current_;
    }
    if (precedence == 0) left = ParseConditional(std::move(left));
    return left;
  }

  NodePtr ParseComparison(NodePtr left, Token token, int precedence) {
    NodePtr root;
    while (true) {
      NodePtr right = ParseExpression(precedence + 1);
      NodePtr next_left = Clone(*right);
      NodePtr cmp = MakeBinary(token.value, std::move(left), std::move(right), token.pos);
      root = root ? MakeBinary("&&", std::move(root), std::move(cmp), token.pos) : std::move(cmp);
      left = std::move(next_left);
      token = current_;
      if (!(token.Is(TokenKind::kOperator) && IsChainedComparison(token.value) && err_.ok())) {
        break;
      }
      Next();
    }
    return root;
  }

  NodePtr ParseLet() {
    size_t pos = current_.pos;
    Expect(TokenKind::kOperator, "let");
    Token name = current_;
    Expect(TokenKind::kIdentifier);
    Expect(TokenKind::kOperator, "=");
    NodePtr value = ParseExpression(0);
    Expect(TokenKind::kOperator, ";");
    NodePtr body = ParseExpression(0);
    std::vector<NodePtr> children;
    children.push_back(std::move(value));
    children.push_back(std::move(body));
    auto n = Make(NodeKind::kLet, pos, std::move(children));
    n->str = name.value;
    return n;
  }

  NodePtr ParseConditional(NodePtr node) {
    while (current_.Is(TokenKind::kOperator, "?") && err_.ok()) {
      size_t pos = current_.pos;
      Next();
      NodePtr then_node;
      NodePtr else_node;
      if (!current_.Is(TokenKind::kOperator, ":")) {
        then_node = ParseExpression(0);
        Expect(TokenKind::kOperator, ":");
        else_node = ParseExpression(0);
      } else {
        Next();  // `a ?: b`: a null `then` means "the condition's own value".
        else_node = ParseExpression(0);
      }
      std::vector<NodePtr> children;
      children.push_back(std::move(node));
      children.push_back(std::move(then_node));
      children.push_back(std::move(else_node));
      node = Make(NodeKind::kConditional, pos, std::move(children));
    }
    return node;
  }

  NodePtr ParsePrimary() {
    Token token = current_;
    if (token.Is(TokenKind::kOperator)) {
      int prec = UnaryPrecedence(token.value);
      if (prec >= 0) {
        Next();
        NodePtr operand = ParseExpression(prec);
        return ParsePostfix(MakeUnary(token.value, std::move(operand), token.pos));
      }
    }
    if (token.Is(TokenKind::kBracket, "(")) {
      Next();
      NodePtr inner = ParseExpression(0);
      Expect(TokenKind::kBracket, ")");
      return ParsePostfix(std::move(inner));
    }
    if (token.Is(TokenKind::kOperator, "#") || token.Is(TokenKind::kOperator, ".")) {
      if (predicate_depth_ == 0) {
        Error("cannot use pointer accessor outside predicate");
        return Make(NodeKind::kNil, token.pos);
      }
      std::string name;
      if (token.Is(TokenKind::kOperator, "#")) {
        Next();
        if (current_.Is(TokenKind::kIdentifier)) {
          name = current_.value;
          Next();
        }
      }
      if (!name.empty() && name != "index" && name != "acc") {
        ErrorAt(token.pos, "unknown pointer #" + name);
      }
      auto node = Make(NodeKind::kPointer, token.pos);
      node->str = name;
      return ParsePostfix(std::move(node));
    }
    return ParseSecondary();
  }

  NodePtr ParseSecondary() {
    Token token = current_;
    NodePtr node;
    switch (token.kind) {
      case TokenKind::kIdentifier:
        Next();
        if (token.value == "true" || token.value == "false") {
          node = Make(NodeKind::kBool, token.pos);
          node->bool_value = token.value == "true";
          return node;
        }
        if (token.value == "nil") return Make(NodeKind::kNil, token.pos);
        if (current_.Is(TokenKind::kBracket, "(")) {
          node = ParseCall(token, {});
        } else {
          node = Make(NodeKind::kIdentifier, token.pos);
          node->str = token.value;
        }
        break;
      case TokenKind::kNumber:
        Next();
        return ParseNumber(token);
      case TokenKind::kString:
        Next();
        node = MakeString(token.value, token.pos);
        break;
      default:
        if (token.Is(TokenKind::kBracket, "[")) {
          node = ParseArray();
        } else if (token.Is(TokenKind::kBracket, "{")) {
          node = ParseMap();
        } else {
          Error("unexpected token " + Describe(token));
          return Make(NodeKind::kNil, token.pos);
        }
    }
    return ParsePostfix(std::move(node));
  }

  NodePtr ParseNumber(const Token& token) {
    std::string text;
    for (char c : token.value) {
      if (c != '_') text += c;
    }
    std::string lower = text;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto integer = [&](size_t skip, int base, std::string_view kind) {
      int64_t v = 0;
      const char* first = text.data() + skip;
      const char* last = text.data() + text.size();
      auto r = std::from_chars(first, last, v, base);
      if (r.ec != std::errc() || r.ptr != last || first == last) {
        Error("invalid " + std::string(kind) + " literal: \"" + token.value + "\"");
      }
      auto n = Make(NodeKind::kInt, token.pos);
      n->int_value = v;
      return n;
    };
    if (lower.rfind("0x", 0) == 0) return integer(2, 16, "hex");
    if (lower.find_first_of(".e") != std::string::npos) {
      char* end = nullptr;
      double d = std::strtod(text.c_str(), &end);
      if (end == nullptr || *end != '\0') Error("invalid float literal: \"" + token.value + "\"");
      if (std::isinf(d)) Error("float literal is too large");
      auto n = Make(NodeKind::kFloat, token.pos);
      n->float_value = d;
      return n;
    }
    if (lower.rfind("0b", 0) == 0) return integer(2, 2, "binary");
    if (lower.rfind("0o", 0) == 0) return integer(2, 8, "octal");
    return integer(0, 10, "integer");
  }

  NodePtr ParseCall(const Token& token, std::vector<NodePtr> args) {
    if (const PredicateSpec* spec = FindPredicate(token.value)) {
      Expect(TokenKind::kBracket, "(");
      int total = spec->required + (spec->optional_closure ? 1 : 0) + (spec->optional_extra ? 1 : 0);
      size_t first = args.size();
      for (int i = static_cast<int>(first); i < total && err_.ok(); ++i) {
        bool is_closure = i == 1;
        bool optional = i >= spec->required;
        if (current_.Is(TokenKind::kBracket, ")")) {
          if (optional) break;
          Error("expected at least " + std::to_string(spec->required - first) + " arguments");
          break;
        }
        if (i > static_cast<int>(first)) Expect(TokenKind::kOperator, ",");
        if (optional && current_.Is(TokenKind::kBracket, ")")) break;
        args.push_back(is_closure ? ParseClosure() : ParseExpression(0));
      }
      if (current_.Is(TokenKind::kOperator, ",")) Next();
      Expect(TokenKind::kBracket, ")");
      auto n = Make(NodeKind::kPredicate, token.pos, std::move(args));
      n->predicate = spec->predicate;
      n->str = token.value;
      return n;
    }
    const NativeFunction* fn = FindFunction(token.value);
    if (fn == nullptr) {
      ErrorAt(token.pos, "unknown function \"" + token.value + "\"");
      return Make(NodeKind::kNil, token.pos);
    }
    auto n = Make(NodeKind::kCall, token.pos, ParseArguments(std::move(args)));
    n->function = fn;
    n->str = token.value;
    return n;
  }

  std::vector<NodePtr> ParseArguments(std::vector<NodePtr> args) {
    size_t offset = args.size();
    Expect(TokenKind::kBracket, "(");
    while (!current_.Is(TokenKind::kBracket, ")") && err_.ok()) {
      if (args.size() > offset) {
        Expect(TokenKind::kOperator, ",");
        if (current_.Is(TokenKind::kBracket, ")")) break;
      }
      args.push_back(ParseExpression(0));
    }
    Expect(TokenKind::kBracket, ")");
    return args;
  }

  NodePtr ParseClosure() {
    size_t pos = current_.pos;
    bool braces = current_.Is(TokenKind::kBracket, "{");
    if (braces) Next();
    ++predicate_depth_;
    NodePtr body = ParseExpression(0);
    --predicate_depth_;
    if (braces) Expect(TokenKind::kBracket, "}");
    std::vector<NodePtr> children;
    children.push_back(std::move(body));
    return Make(NodeKind::kClosure, pos, std::move(children));
  }

  NodePtr ParseArray() {
    size_t pos = current_.pos;
    Expect(TokenKind::kBracket, "[");
    std::vector<NodePtr> nodes;
    while (!current_.Is(TokenKind::kBracket, "]") && err_.ok()) {
      if (!nodes.empty()) {
        Expect(TokenKind::kOperator, ",");
        if (current_.Is(TokenKind::kBracket, "]")) break;
      }
      nodes.push_back(ParseExpression(0));
    }
    Expect(TokenKind::kBracket, "]");
    return Make(NodeKind::kArray, pos, std::move(nodes));
  }

  NodePtr ParseMap() {
    size_t pos = current_.pos;
    Expect(TokenKind::kBracket, "{");
    std::vector<NodePtr> nodes;
    while (!current_.Is(TokenKind::kBracket, "}") && err_.ok()) {
      if (!nodes.empty()) {
        Expect(TokenKind::kOperator, ",");
        if (current_.Is(TokenKind::kBracket, "}")) break;
        if (current_.Is(TokenKind::kOperator, ",")) Error("unexpected token " + Describe(current_));
      }
      NodePtr key;
      if (current_.Is(TokenKind::kNumber) || current_.Is(TokenKind::kString) ||
          current_.Is(TokenKind::kIdentifier)) {
        key = MakeString(current_.value, current_.pos);
        Next();
      } else if (current_.Is(TokenKind::kBracket, "(")) {
        key = ParseExpression(0);
      } else {
        Error(
            "a map key must be a quoted string, a number, a identifier, or an expression "
            "enclosed in parentheses (unexpected token " +
            Describe(current_) + ")");
        break;
      }
      Expect(TokenKind::kOperator, ":");
      nodes.push_back(std::move(key));
      nodes.push_back(ParseExpression(0));
    }
    Expect(TokenKind::kBracket, "}");
    return Make(NodeKind::kMap, pos, std::move(nodes));
  }

  // Wraps `node` in a chain node when a `?.` occurs in the postfix sequence.
  NodePtr Chain(NodePtr node, bool chained) {
    if (!chained) return node;
    size_t pos = node->pos;
    std::vector<NodePtr> children;
    children.push_back(std::move(node));
    return Make(NodeKind::kChain, pos, std::move(children));
  }

  NodePtr Unchain(NodePtr node, bool* was_chain) {
    *was_chain = node->kind == NodeKind::kChain;
    if (*was_chain) return std::move(node->children[0]);
    return node;
  }

  NodePtr ParsePostfix(NodePtr node) {
    while ((current_.Is(TokenKind::kOperator) || current_.Is(TokenKind::kBracket)) &&
           err_.ok()) {
      bool optional = current_.value == "?.";
      if (current_.value == "." || optional) {
        Next();
        if (optional && current_.Is(TokenKind::kBracket, "[")) {
          node = ParseIndex(std::move(node), true);
          continue;
        }
        Token prop = current_;
        Next();
        if (!prop.Is(TokenKind::kIdentifier) &&
            !(prop.Is(TokenKind::kOperator) && IsValidIdentifier(prop.value))) {
          ErrorAt(prop.pos, "expected name");
          break;
        }
        bool was_chain = false;
        node = Unchain(std::move(node), &was_chain);
        if (current_.Is(TokenKind::kBracket, "(")) {
          node = ParseMethodCall(std::move(node), prop, optional);
        } else {
          std::vector<NodePtr> children;
          children.push_back(std::move(node));
          children.push_back(MakeString(prop.value, prop.pos));
          node = Make(NodeKind::kMember, prop.pos, std::move(children));
          node->optional = optional;
        }
        node = Chain(std::move(node), was_chain || optional);
      } else if (current_.value == "[") {
        node = ParseIndex(std::move(node), false);
      } else {
        break;
      }
    }
    return node;
  }

  // Parses `[index]`, `[from:to]` after `node`; `current_` is the '['.
  NodePtr ParseIndex(NodePtr node, bool optional) {
    size_t pos = current_.pos;
    Next();
    bool was_chain = false;
    node = Unchain(std::move(node), &was_chain);
    NodePtr from;
    NodePtr to;
    bool slice = false;
    if (current_.Is(TokenKind::kOperator, ":")) {
      slice = true;
      Next();
      if (!current_.Is(TokenKind::kBracket, "]")) to = ParseExpression(0);
    } else {
      from = ParseExpression(0);
      if (current_.Is(TokenKind::kOperator, ":")) {
        slice = true;
        Next();
        if (!current_.Is(TokenKind::kBracket, "]")) to = ParseExpression(0);
      }
    }
    Expect(TokenKind::kBracket, "]");
    std::vector<NodePtr> children;
    children.push_back(std::move(node));
    children.push_back(std::move(from));
    if (slice) {
      children.push_back(std::move(to));
      node = Make(NodeKind::kSlice, pos, std::move(children));
    } else {
      node = Make(NodeKind::kMember, pos, std::move(children));
    }
    node->optional = optional;
    return Chain(std::move(node), was_chain || optional);
  }

  NodePtr ParseMethodCall(NodePtr object, const Token& prop, bool optional) {
    // `sprig.fn(...)` is resolved now, so an unknown sprig function is a compile error.
    if (!optional && object->kind == NodeKind::kIdentifier && object->str == "sprig") {
      const NativeFunction* fn = FindSprigFunction(prop.value);
      if (fn == nullptr) {
        ErrorAt(prop.pos, "unknown function \"sprig." + prop.value + "\"");
        return Make(NodeKind::kNil, prop.pos);
      }
      auto n = Make(NodeKind::kCall, prop.pos, ParseArguments({}));
      n->function = fn;
      n->str = "sprig." + prop.value;
      return n;
    }
    std::vector<NodePtr> children;
    children.push_back(std::move(object));
    for (auto& arg : ParseArguments({})) children.push_back(std::move(arg));
    auto n = Make(NodeKind::kMethodCall, prop.pos, std::move(children));
    n->str = prop.value;
    n->optional = optional;
    return n;
  }

  std::string_view src_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  Token current_;
  Status err_;
  int predicate_depth_ = 0;
  int recursion_ = 0;
};

}  // namespace

Result<std::unique_ptr<Node>> Parse(std::string_view source) {
  SKIFF_ASSIGN_OR_RETURN(std::vector<Token> tokens, Lex(source));
  return Parser(source, std::move(tokens)).Run();
}

}  // namespace skiff::expr
