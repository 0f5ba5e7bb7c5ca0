// sprig's list, dict, default and type-inspection functions (see sprig.cc). Dicts are returned
// as new maps; nothing is mutated in place.
#include <algorithm>

#include "engine/expr/builtins.h"
#include "engine/expr/sprig_internal.h"

namespace skiff::expr::sprig {
namespace {

#define ARGS SPRIG_ARGS

// ---- lists and dicts ----

Result<Value> List(ARGS) { return Value::MakeArray(args); }

Result<Value> Dict(ARGS) {
  Map m;
  for (size_t i = 0; i < args.size(); i += 2) {
    m.insert_or_assign(StrVal(args[i]), i + 1 < args.size() ? args[i + 1] : Value::String(""));
  }
  return Value::MakeMap(std::move(m));
}

Result<Value> GetFn(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.get", args, 2, 2));
  SKIFF_ASSIGN_OR_RETURN(const Map* m, MapArg("get", args, 0));
  SKIFF_ASSIGN_OR_RETURN(std::string key, Str("get", args, 1));
  auto it = m->find(key);
  return it == m->end() ? Value::String("") : it->second;
}

Result<Value> HasKey(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.hasKey", args, 2, 2));
  SKIFF_ASSIGN_OR_RETURN(const Map* m, MapArg("hasKey", args, 0));
  SKIFF_ASSIGN_OR_RETURN(std::string key, Str("hasKey", args, 1));
  return Value::Bool(m->count(key) > 0);
}

Result<Value> SetFn(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.set", args, 3, 3));
  SKIFF_ASSIGN_OR_RETURN(const Map* m, MapArg("set", args, 0));
  SKIFF_ASSIGN_OR_RETURN(std::string key, Str("set", args, 1));
  Map out = *m;
  out.insert_or_assign(key, args[2]);
  return Value::MakeMap(std::move(out));
}

Result<Value> Unset(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.unset", args, 2, 2));
  SKIFF_ASSIGN_OR_RETURN(const Map* m, MapArg("unset", args, 0));
  SKIFF_ASSIGN_OR_RETURN(std::string key, Str("unset", args, 1));
  Map out = *m;
  out.erase(key);
  return Value::MakeMap(std::move(out));
}

Result<Value> KeysFn(ARGS) {
  Array out;
  for (size_t i = 0; i < args.size(); ++i) {
    SKIFF_ASSIGN_OR_RETURN(const Map* m, MapArg("keys", args, i));
    for (const auto& [k, v] : *m) out.push_back(Value::String(k));
  }
  return Value::MakeArray(std::move(out));
}

Result<Value> ValuesFn(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.values", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(const Map* m, MapArg("values", args, 0));
  Array out;
  for (const auto& [k, v] : *m) out.push_back(v);
  return Value::MakeArray(std::move(out));
}

Result<Value> PickOmit(const std::vector<Value>& args, bool pick) {
  const char* name = pick ? "pick" : "omit";
  SKIFF_ASSIGN_OR_RETURN(const Map* m, MapArg(name, args, 0));
  std::vector<std::string> keys;
  for (size_t i = 1; i < args.size(); ++i) {
    SKIFF_ASSIGN_OR_RETURN(std::string k, Str(name, args, i));
    keys.push_back(std::move(k));
  }
  Map out;
  for (const auto& [k, v] : *m) {
    bool listed = std::find(keys.begin(), keys.end(), k) != keys.end();
    if (listed == pick) out.emplace(k, v);
  }
  return Value::MakeMap(std::move(out));
}
Result<Value> Pick(ARGS) { return PickOmit(args, true); }
Result<Value> Omit(ARGS) { return PickOmit(args, false); }

Result<Value> FirstFn(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.first", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(const Array* a, ListArg("first", args, 0));
  return a->empty() ? Value() : a->front();
}

Result<Value> LastFn(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.last", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(const Array* a, ListArg("last", args, 0));
  return a->empty() ? Value() : a->back();
}

Result<Value> Rest(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.rest", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(const Array* a, ListArg("rest", args, 0));
  if (a->empty()) return Value();
  return Value::MakeArray(Array(a->begin() + 1, a->end()));
}

Result<Value> Initial(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.initial", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(const Array* a, ListArg("initial", args, 0));
  if (a->empty()) return Value();
  return Value::MakeArray(Array(a->begin(), a->end() - 1));
}

Result<Value> Append(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.append", args, 2, 2));
  SKIFF_ASSIGN_OR_RETURN(const Array* a, ListArg("append", args, 0));
  Array out = *a;
  out.push_back(args[1]);
  return Value::MakeArray(std::move(out));
}

Result<Value> Prepend(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.prepend", args, 2, 2));
  SKIFF_ASSIGN_OR_RETURN(const Array* a, ListArg("prepend", args, 0));
  Array out;
  out.push_back(args[1]);
  out.insert(out.end(), a->begin(), a->end());
  return Value::MakeArray(std::move(out));
}

Result<Value> ConcatFn(ARGS) {
  Array out;
  for (size_t i = 0; i < args.size(); ++i) {
    SKIFF_ASSIGN_OR_RETURN(const Array* a, ListArg("concat", args, i));
    out.insert(out.end(), a->begin(), a->end());
  }
  return Value::MakeArray(std::move(out));
}

Result<Value> ReverseFn(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.reverse", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(const Array* a, ListArg("reverse", args, 0));
  return Value::MakeArray(Array(a->rbegin(), a->rend()));
}

Result<Value> UniqFn(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.uniq", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(const Array* a, ListArg("uniq", args, 0));
  Array out;
  for (const Value& e : *a) {
    bool seen = std::any_of(out.begin(), out.end(), [&](const Value& o) { return DeepEqual(o, e); });
    if (!seen) out.push_back(e);
  }
  return Value::MakeArray(std::move(out));
}

Result<Value> Without(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.without", args, 1, SIZE_MAX));
  SKIFF_ASSIGN_OR_RETURN(const Array* a, ListArg("without", args, 0));
  Array out;
  for (const Value& e : *a) {
    bool drop = std::any_of(args.begin() + 1, args.end(), [&](const Value& o) { return DeepEqual(o, e); });
    if (!drop) out.push_back(e);
  }
  return Value::MakeArray(std::move(out));
}

Result<Value> Has(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.has", args, 2, 2));
  if (args[1].is_nil()) return Value::Bool(false);
  SKIFF_ASSIGN_OR_RETURN(const Array* a, ListArg("has", args, 1));
  return Value::Bool(std::any_of(a->begin(), a->end(), [&](const Value& e) { return DeepEqual(e, args[0]); }));
}

Result<Value> Compact(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.compact", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(const Array* a, ListArg("compact", args, 0));
  Array out;
  for (const Value& e : *a) {
    if (!Empty(e)) out.push_back(e);
  }
  return Value::MakeArray(std::move(out));
}

Result<Value> SortAlpha(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.sortAlpha", args, 1, 1));
  std::vector<std::string> s = StrSlice(args[0]);
  std::sort(s.begin(), s.end());
  return Strings(s);
}

// ---- defaults and logic ----

Result<Value> Default(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.default", args, 1, SIZE_MAX));
  if (args.size() < 2 || Empty(args[1])) return args[0];
  return args[1];
}

Result<Value> EmptyFn(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.empty", args, 1, 1));
  return Value::Bool(Empty(args[0]));
}

Result<Value> Coalesce(ARGS) {
  for (const Value& v : args) {
    if (!Empty(v)) return v;
  }
  return Value();
}

Result<Value> Ternary(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.ternary", args, 3, 3));
  if (!args[2].is_bool()) return InvalidArgument("sprig.ternary: the condition must be a bool");
  return args[2].AsBool() ? args[0] : args[1];
}

Result<Value> DeepEqualFn(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.deepEqual", args, 2, 2));
  return Value::Bool(DeepEqual(args[0], args[1]));
}

std::string KindOf(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNil: return "invalid";
    case Value::Kind::kBool: return "bool";
    case Value::Kind::kInt: return "int";
    case Value::Kind::kFloat: return "float64";
    case Value::Kind::kString: return "string";
    case Value::Kind::kArray: return "slice";
    case Value::Kind::kMap: return "map";
    case Value::Kind::kTime: return "struct";
    case Value::Kind::kDuration: return "int64";
    case Value::Kind::kFunction: return "func";
  }
  return "invalid";
}

std::string TypeOf(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNil: return "<nil>";
    case Value::Kind::kFloat: return "float64";
    case Value::Kind::kArray: return "[]interface {}";
    case Value::Kind::kMap: return "map[string]interface {}";
    case Value::Kind::kFunction: return "func(...interface {}) interface {}";
    default: return TypeName(v);
  }
}

Result<Value> KindOfFn(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.kindOf", args, 1, 1));
  return Value::String(KindOf(args[0]));
}
Result<Value> TypeOfFn(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.typeOf", args, 1, 1));
  return Value::String(TypeOf(args[0]));
}
Result<Value> KindIs(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.kindIs", args, 2, 2));
  SKIFF_ASSIGN_OR_RETURN(std::string k, Str("kindIs", args, 0));
  return Value::Bool(KindOf(args[1]) == k);
}
Result<Value> TypeIs(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.typeIs", args, 2, 2));
  SKIFF_ASSIGN_OR_RETURN(std::string t, Str("typeIs", args, 0));
  return Value::Bool(TypeOf(args[1]) == t);
}

#undef ARGS

}  // namespace

void AppendCollectionFunctions(std::vector<NativeFunction>& table) {
  table.insert(table.end(), {
      {"list", List},
      {"tuple", List},
      {"dict", Dict},
      {"get", GetFn},
      {"set", SetFn},
      {"unset", Unset},
      {"hasKey", HasKey},
      {"keys", KeysFn},
      {"values", ValuesFn},
      {"pick", Pick},
      {"omit", Omit},
      {"first", FirstFn},
      {"last", LastFn},
      {"rest", Rest},
      {"initial", Initial},
      {"append", Append},
      {"push", Append},
      {"prepend", Prepend},
      {"concat", ConcatFn},
      {"reverse", ReverseFn},
      {"uniq", UniqFn},
      {"without", Without},
      {"has", Has},
      {"compact", Compact},
      {"sortAlpha", SortAlpha},
      {"default", Default},
      {"empty", EmptyFn},
      {"coalesce", Coalesce},
      {"ternary", Ternary},
      {"deepEqual", DeepEqualFn},
      {"kindOf", KindOfFn},
      {"typeOf", TypeOfFn},
      {"kindIs", KindIs},
      {"typeIs", TypeIs},
  });
}

}  // namespace skiff::expr::sprig
