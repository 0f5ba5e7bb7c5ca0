#include "engine/expr/eval.h"

#include <algorithm>
#include <unordered_map>

#include "engine/expr/builtins.h"
#include "engine/expr/lexer.h"
#include "engine/expr/operators.h"

namespace skiff::expr {
namespace {

// One level of predicate iteration: what `#`, `#index` and `#acc` refer to.
struct Scope {
  const Array* array;
  size_t index;
  Value acc;
};

class Evaluator {
 public:
  Evaluator(std::string_view source, const Json& env, const CallContext& ctx)
      : source_(source), env_(env), ctx_(ctx) {}

  Result<Value> Eval(const Node& n) {
    switch (n.kind) {
      case NodeKind::kNil:
        return Value();
      case NodeKind::kBool:
        return Value::Bool(n.bool_value);
      case NodeKind::kInt:
        return Value::Int(n.int_value);
      case NodeKind::kFloat:
        return Value::Float(n.float_value);
      case NodeKind::kString:
        return Value::String(n.str);
      case NodeKind::kIdentifier:
        return Identifier(n.str);
      case NodeKind::kPointer:
        return Pointer(n);
      case NodeKind::kUnary:
        return Unary(n);
      case NodeKind::kBinary:
        return Binary(n);
      case NodeKind::kConditional:
        return Conditional(n);
      case NodeKind::kMember:
        return Member(n);
      case NodeKind::kSlice:
        return SliceNode(n);
      case NodeKind::kChain: {
        auto v = Eval(*n.children[0]);
        short_circuit_ = false;
        return v;
      }
      case NodeKind::kCall:
        return Call(n);
      case NodeKind::kMethodCall:
        return MethodCall(n);
      case NodeKind::kPredicate:
        return PredicateCall(n);
      case NodeKind::kClosure:
        return Fail(n, "a closure can only be a predicate argument");
      case NodeKind::kArray: {
        Array out;
        out.reserve(n.children.size());
        for (const auto& c : n.children) {
          SKIFF_ASSIGN_OR_RETURN(Value v, Eval(*c));
          out.push_back(std::move(v));
        }
        return Value::MakeArray(std::move(out));
      }
      case NodeKind::kMap: {
        Map out;
        for (size_t i = 0; i + 1 < n.children.size(); i += 2) {
          SKIFF_ASSIGN_OR_RETURN(Value k, Eval(*n.children[i]));
          SKIFF_ASSIGN_OR_RETURN(Value v, Eval(*n.children[i + 1]));
          out.insert_or_assign(k.is_string() ? k.AsString() : FormatGoV(k), std::move(v));
        }
        return Value::MakeMap(std::move(out));
      }
      case NodeKind::kLet: {
        SKIFF_ASSIGN_OR_RETURN(Value v, Eval(*n.children[0]));
        variables_.emplace_back(n.str, std::move(v));
        auto result = Eval(*n.children[1]);
        variables_.pop_back();
        return result;
      }
    }
    return Fail(n, "unknown node");
  }

 private:
  Status Fail(const Node& n, std::string_view message) {
    return LocatedError(source_, n.pos, message);
  }

  Result<Value> Identifier(const std::string& name) {
    for (auto it = variables_.rbegin(); it != variables_.rend(); ++it) {
      if (it->first == name) return it->second;
    }
    if (name == "sprig") return SprigNamespace();
    if (name == "$env") return FromJson(env_);
    auto cached = env_cache_.find(name);
    if (cached != env_cache_.end()) return cached->second;
    Value v;
    if (env_.is_object()) {
      auto it = env_.find(name);
      if (it != env_.end()) v = FromJson(*it);
    }
    env_cache_.emplace(name, v);
    return v;
  }

  Result<Value> Pointer(const Node& n) {
    if (scopes_.empty()) return Fail(n, "cannot use pointer accessor outside predicate");
    const Scope& s = scopes_.back();
    if (n.str == "index") return Value::Int(static_cast<int64_t>(s.index));
    if (n.str == "acc") return s.acc;
    return (*s.array)[s.index];
  }

  Result<Value> Unary(const Node& n) {
    SKIFF_ASSIGN_OR_RETURN(Value v, Eval(*n.children[0]));
    const std::string& op = n.str;
    if (op == "not" || op == "!") {
      if (!v.is_bool()) return Fail(n, "invalid operation: " + op + " " + TypeName(v));
      return Value::Bool(!v.AsBool());
    }
    if (op == "-") {
      if (v.is_int()) return Value::Int(static_cast<int64_t>(0 - static_cast<uint64_t>(v.AsInt())));
      if (v.is_float()) return Value::Float(-v.AsFloat());
      if (v.is_duration()) {
        return Value::MakeDuration(static_cast<int64_t>(0 - static_cast<uint64_t>(v.AsDurationNs())));
      }
      return Fail(n, "invalid operation: - " + TypeName(v));
    }
    if (!v.is_number() && !v.is_duration()) return Fail(n, "invalid operation: + " + TypeName(v));
    return v;
  }

  Result<bool> Bool(const Node& n, const Value& v, std::string_view where) {
    if (!v.is_bool()) {
      return Fail(n, "non-bool value (type " + TypeName(v) + ") used " + std::string(where));
    }
    return v.AsBool();
  }

  Result<Value> Binary(const Node& n) {
    const std::string& op = n.str;
    SKIFF_ASSIGN_OR_RETURN(Value left, Eval(*n.children[0]));
    if (op == "and" || op == "&&" || op == "or" || op == "||") {
      bool is_and = op == "and" || op == "&&";
      SKIFF_ASSIGN_OR_RETURN(bool l, Bool(n, left, "with " + op));
      if (is_and != l) return Value::Bool(l);  // short circuit
      SKIFF_ASSIGN_OR_RETURN(Value right, Eval(*n.children[1]));
      SKIFF_ASSIGN_OR_RETURN(bool r, Bool(n, right, "with " + op));
      return Value::Bool(r);
    }
    if (op == "??") {
      if (!left.is_nil()) return left;
      return Eval(*n.children[1]);
    }
    SKIFF_ASSIGN_OR_RETURN(Value right, Eval(*n.children[1]));
    if (op == "==") return Value::Bool(Equal(left, right));
    if (op == "!=") return Value::Bool(!Equal(left, right));
    if (op == "<" || op == ">" || op == "<=" || op == ">=") {
      auto c = Compare(left, right);
      if (!c.ok()) return Fail(n, c.status().message() + " (operator " + op + ")");
      int v = *c;
      bool r = op == "<" ? v < 0 : op == ">" ? v > 0 : op == "<=" ? v <= 0 : v >= 0;
      return Value::Bool(r);
    }
    if (op == "in") {
      auto r = In(left, right);
      if (!r.ok()) return Fail(n, r.status().message());
      return Value::Bool(*r);
    }
    if (op == "matches" || op == "contains" || op == "startsWith" || op == "endsWith") {
      if (!left.is_string() || !right.is_string()) {
        return Fail(n, "invalid operation: " + TypeName(left) + " " + op + " " + TypeName(right));
      }
      const std::string& s = left.AsString();
      const std::string& t = right.AsString();
      if (op == "contains") return Value::Bool(s.find(t) != std::string::npos);
      if (op == "startsWith") return Value::Bool(s.rfind(t, 0) == 0);
      if (op == "endsWith") {
        return Value::Bool(s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0);
      }
      std::shared_ptr<const GoRegex> re = n.regex;
      if (!re) {
        auto compiled = GoRegex::Compile(t);
        if (!compiled.ok()) return Fail(n, compiled.status().message());
        re = std::move(compiled).value();
      }
      auto m = re->Search(s);
      if (!m.ok()) return Fail(n, m.status().message());
      return Value::Bool(*m);
    }
    auto r = Arithmetic(op, left, right);
    if (!r.ok()) return Fail(n, r.status().message());
    return std::move(r).value();
  }

  Result<Value> Conditional(const Node& n) {
    SKIFF_ASSIGN_OR_RETURN(Value cond, Eval(*n.children[0]));
    if (!cond.is_bool()) {
      return Fail(n, "non-bool expression (type " + TypeName(cond) + ") used as condition");
    }
    if (cond.AsBool()) return n.children[1] ? Eval(*n.children[1]) : cond;
    return Eval(*n.children[2]);
  }

  // Evaluates the object of a member access, index, slice or method call. Returns false in
  // *proceed when the access must yield nil: an enclosing `?.` already short-circuited, or this
  // access is itself optional and the object is nil.
  Result<Value> Object(const Node& n, bool* proceed) {
    SKIFF_ASSIGN_OR_RETURN(Value obj, Eval(*n.children[0]));
    *proceed = !short_circuit_;
    if (*proceed && n.optional && obj.is_nil()) {
      short_circuit_ = true;
      *proceed = false;
    }
    return obj;
  }

  Result<Value> Member(const Node& n) {
    bool proceed = false;
    SKIFF_ASSIGN_OR_RETURN(Value obj, Object(n, &proceed));
    if (!proceed) return Value();
    SKIFF_ASSIGN_OR_RETURN(Value key, Eval(*n.children[1]));
    auto r = Fetch(obj, key);
    if (!r.ok()) return Fail(n, r.status().message());
    return std::move(r).value();
  }

  Result<Value> SliceNode(const Node& n) {
    bool proceed = false;
    SKIFF_ASSIGN_OR_RETURN(Value obj, Object(n, &proceed));
    if (!proceed) return Value();
    Value from, to;
    if (n.children[1]) {
      SKIFF_ASSIGN_OR_RETURN(from, Eval(*n.children[1]));
    }
    if (n.children[2]) {
      SKIFF_ASSIGN_OR_RETURN(to, Eval(*n.children[2]));
    }
    auto r = Slice(obj, n.children[1] ? &from : nullptr, n.children[2] ? &to : nullptr);
    if (!r.ok()) return Fail(n, r.status().message());
    return std::move(r).value();
  }

  Result<std::vector<Value>> Arguments(const Node& n, size_t first) {
    std::vector<Value> args;
    args.reserve(n.children.size() - first);
    for (size_t i = first; i < n.children.size(); ++i) {
      SKIFF_ASSIGN_OR_RETURN(Value v, Eval(*n.children[i]));
      args.push_back(std::move(v));
    }
    return args;
  }

  Result<Value> Invoke(const Node& n, const NativeFunction* fn, const std::vector<Value>& args) {
    auto r = fn->fn(ctx_, args);
    if (!r.ok()) return Fail(n, r.status().message());
    return std::move(r).value();
  }

  Result<Value> Call(const Node& n) {
    SKIFF_ASSIGN_OR_RETURN(std::vector<Value> args, Arguments(n, 0));
    return Invoke(n, n.function, args);
  }

  Result<Value> MethodCall(const Node& n) {
    bool proceed = false;
    SKIFF_ASSIGN_OR_RETURN(Value obj, Object(n, &proceed));
    if (!proceed) return Value();
    SKIFF_ASSIGN_OR_RETURN(std::vector<Value> args, Arguments(n, 1));
    if (obj.is_time() || obj.is_duration()) {
      auto r = CallTimeMethod(ctx_, obj, n.str, args);
      if (!r.ok()) return Fail(n, r.status().message());
      return std::move(r).value();
    }
    if (obj.is_map()) {
      auto it = obj.AsMap().find(n.str);
      if (it == obj.AsMap().end() || !it->second.is_function()) {
        return Fail(n, "cannot call " + n.str + ": not a function");
      }
      return Invoke(n, it->second.AsFunction(), args);
    }
    if (obj.is_nil()) return Fail(n, "cannot fetch " + n.str + " from nil");
    return Fail(n, "type " + TypeName(obj) + " has no method " + n.str);
  }

  Result<Value> PredicateCall(const Node& n) {
    SKIFF_ASSIGN_OR_RETURN(Value collection, Eval(*n.children[0]));
    if (!collection.is_array()) {
      return Fail(n, "cannot iterate over " + TypeName(collection) + " in " + n.str);
    }
    const Array& items = collection.AsArray();
    const Node* body = n.children.size() > 1 ? n.children[1]->children[0].get() : nullptr;
    Value extra;
    if (n.children.size() > 2) {
      SKIFF_ASSIGN_OR_RETURN(extra, Eval(*n.children[2]));
    }
    scopes_.push_back(Scope{&items, 0, Value()});
    auto result = RunPredicate(n, items, body, extra);
    scopes_.pop_back();
    return result;
  }

  // Evaluates the closure for element `i` (or yields the element when there is no closure).
  Result<Value> Apply(const Node* body, const Array& items, size_t i) {
    scopes_.back().index = i;
    if (body == nullptr) return items[i];
    return Eval(*body);
  }

  Result<bool> Test(const Node& n, const Node* body, const Array& items, size_t i) {
    SKIFF_ASSIGN_OR_RETURN(Value v, Apply(body, items, i));
    if (!v.is_bool()) {
      return Fail(body != nullptr ? *body : n,
                  "predicate of " + n.str + " must return bool, got " + TypeName(v));
    }
    return v.AsBool();
  }

  Result<Value> RunPredicate(const Node& n, const Array& items, const Node* body,
                             const Value& extra) {
    switch (n.predicate) {
      case Predicate::kAll:
      case Predicate::kNone:
      case Predicate::kAny:
      case Predicate::kOne: {
        int64_t count = 0;
        for (size_t i = 0; i < items.size(); ++i) {
          SKIFF_ASSIGN_OR_RETURN(bool t, Test(n, body, items, i));
          if (n.predicate == Predicate::kAll && !t) return Value::Bool(false);
          if (n.predicate == Predicate::kNone && t) return Value::Bool(false);
          if (n.predicate == Predicate::kAny && t) return Value::Bool(true);
          if (t) ++count;
        }
        if (n.predicate == Predicate::kAny) return Value::Bool(false);
        if (n.predicate == Predicate::kOne) return Value::Bool(count == 1);
        return Value::Bool(true);
      }
      case Predicate::kFilter: {
        Array out;
        for (size_t i = 0; i < items.size(); ++i) {
          SKIFF_ASSIGN_OR_RETURN(bool t, Test(n, body, items, i));
          if (t) out.push_back(items[i]);
        }
        return Value::MakeArray(std::move(out));
      }
      case Predicate::kMap: {
        Array out;
        out.reserve(items.size());
        for (size_t i = 0; i < items.size(); ++i) {
          SKIFF_ASSIGN_OR_RETURN(Value v, Apply(body, items, i));
          out.push_back(std::move(v));
        }
        return Value::MakeArray(std::move(out));
      }
      case Predicate::kCount: {
        int64_t count = 0;
        for (size_t i = 0; i < items.size(); ++i) {
          SKIFF_ASSIGN_OR_RETURN(bool t, Test(n, body, items, i));
          if (t) ++count;
        }
        return Value::Int(count);
      }
      case Predicate::kSum: {
        Value total = Value::Int(0);
        for (size_t i = 0; i < items.size(); ++i) {
          SKIFF_ASSIGN_OR_RETURN(Value v, Apply(body, items, i));
          auto r = Arithmetic("+", total, v);
          if (!r.ok()) return Fail(n, "invalid argument for sum: " + r.status().message());
          total = std::move(r).value();
        }
        return total;
      }
      case Predicate::kFind:
      case Predicate::kFindIndex:
      case Predicate::kFindLast:
      case Predicate::kFindLastIndex: {
        bool backwards = n.predicate == Predicate::kFindLast ||
                         n.predicate == Predicate::kFindLastIndex;
        bool want_index = n.predicate == Predicate::kFindIndex ||
                          n.predicate == Predicate::kFindLastIndex;
        for (size_t k = 0; k < items.size(); ++k) {
          size_t i = backwards ? items.size() - 1 - k : k;
          SKIFF_ASSIGN_OR_RETURN(bool t, Test(n, body, items, i));
          if (t) return want_index ? Value::Int(static_cast<int64_t>(i)) : items[i];
        }
        return Value();
      }
      case Predicate::kGroupBy: {
        std::map<std::string, Array, std::less<>> groups;
        for (size_t i = 0; i < items.size(); ++i) {
          SKIFF_ASSIGN_OR_RETURN(Value key, Apply(body, items, i));
          groups[key.is_string() ? key.AsString() : FormatGoV(key)].push_back(items[i]);
        }
        Map out;
        for (auto& [k, v] : groups) out.emplace(k, Value::MakeArray(std::move(v)));
        return Value::MakeMap(std::move(out));
      }
      case Predicate::kSortBy: {
        bool desc = false;
        if (!extra.is_nil()) {
          if (!extra.is_string() || (extra.AsString() != "asc" && extra.AsString() != "desc")) {
            return Fail(n, "invalid order " + FormatGoV(extra) + ", expected asc or desc");
          }
          desc = extra.AsString() == "desc";
        }
        std::vector<std::pair<Value, size_t>> keyed;
        for (size_t i = 0; i < items.size(); ++i) {
          SKIFF_ASSIGN_OR_RETURN(Value key, Apply(body, items, i));
          keyed.emplace_back(std::move(key), i);
        }
        Status error;
        std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
          auto c = Compare(a.first, b.first);
          if (!c.ok()) {
            if (error.ok()) error = c.status();
            return false;
          }
          return desc ? *c > 0 : *c < 0;
        });
        if (!error.ok()) return Fail(n, error.message());
        Array out;
        for (const auto& [key, i] : keyed) out.push_back(items[i]);
        return Value::MakeArray(std::move(out));
      }
      case Predicate::kReduce: {
        size_t start = 0;
        Value acc = extra;
        if (n.children.size() <= 2) {
          if (items.empty()) return Fail(n, "reduce of an empty array with no initial value");
          acc = items[0];
          start = 1;
        }
        for (size_t i = start; i < items.size(); ++i) {
          scopes_.back().acc = acc;
          SKIFF_ASSIGN_OR_RETURN(acc, Apply(body, items, i));
        }
        return acc;
      }
    }
    return Fail(n, "unknown predicate");
  }

  std::string_view source_;
  const Json& env_;
  const CallContext& ctx_;
  std::vector<Scope> scopes_;
  std::vector<std::pair<std::string, Value>> variables_;
  std::unordered_map<std::string, Value> env_cache_;
  bool short_circuit_ = false;
};

}  // namespace

Result<Value> EvaluateTree(const Node& root, std::string_view source, const Json& env,
                           const CallContext& ctx) {
  return Evaluator(source, env, ctx).Eval(root);
}

}  // namespace skiff::expr
