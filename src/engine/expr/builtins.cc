// expr-lang's builtin functions (upstream builtin/builtin.go) and Argo's additions to the
// expression environment (argo-workflows util/expr/env).
#include "engine/expr/builtins.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "engine/expr/go_format.h"
#include "engine/expr/go_strings.h"
#include "engine/expr/go_time.h"
#include "engine/expr/operators.h"

namespace skiff::expr {

Status ArgCount(std::string_view fn, const std::vector<Value>& args, size_t min, size_t max) {
  if (args.size() >= min && args.size() <= max) return OkStatus();
  std::string expected = min == max ? std::to_string(min)
                         : max == SIZE_MAX ? "at least " + std::to_string(min)
                                           : std::to_string(min) + " or " + std::to_string(max);
  if (max != SIZE_MAX && max > min + 1) {
    expected = std::to_string(min) + " to " + std::to_string(max);
  }
  return InvalidArgument("invalid number of arguments for " + std::string(fn) + " (expected " +
                         expected + ", got " + std::to_string(args.size()) + ")");
}

Result<std::string> StringArg(std::string_view fn, const std::vector<Value>& args, size_t i) {
  if (i >= args.size() || !args[i].is_string()) {
    return InvalidArgument(std::string(fn) + ": argument " + std::to_string(i + 1) +
                           " must be a string, got " +
                           (i < args.size() ? TypeName(args[i]) : "nothing"));
  }
  return args[i].AsString();
}

Result<int64_t> IntArg(std::string_view fn, const std::vector<Value>& args, size_t i) {
  if (i >= args.size() || !args[i].is_number()) {
    return InvalidArgument(std::string(fn) + ": argument " + std::to_string(i + 1) +
                           " must be a number, got " +
                           (i < args.size() ? TypeName(args[i]) : "nothing"));
  }
  return ToInt(args[i]);
}

Result<Value> ToIntValue(const Value& v, std::string_view fn) {
  if (v.is_int()) return v;
  if (v.is_float()) {
    auto i = ToInt(v);
    if (!i.ok()) return InvalidArgument("invalid operation: " + std::string(fn) + "(" +
                                        FormatGoV(v) + ")");
    return Value::Int(*i);
  }
  if (v.is_duration()) return Value::Int(v.AsDurationNs());
  if (v.is_string()) {
    // strconv.Atoi: an optional sign and decimal digits, nothing else.
    const std::string& s = v.AsString();
    const char* first = s.data();
    const char* last = s.data() + s.size();
    if (first != last && *first == '+') ++first;
    int64_t out = 0;
    auto r = std::from_chars(first, last, out);
    if (first == last || r.ec != std::errc() || r.ptr != last || (first > s.data() && *first == '-')) {
      return InvalidArgument("invalid operation: " + std::string(fn) + "(" + s + ")");
    }
    return Value::Int(out);
  }
  return InvalidArgument("invalid operation: " + std::string(fn) + "(" + TypeName(v) + ")");
}

Result<Value> ToFloatValue(const Value& v, std::string_view fn) {
  if (v.is_number()) return Value::Float(v.ToDouble());
  if (v.is_string()) {
    // strconv.ParseFloat: no surrounding space; "inf" and "nan" are accepted.
    const std::string& s = v.AsString();
    char* end = nullptr;
    double d = s.empty() || std::isspace(static_cast<unsigned char>(s[0])) ? 0
                                                                           : std::strtod(s.c_str(), &end);
    if (end == nullptr || *end != '\0' || end == s.c_str()) {
      return InvalidArgument("invalid operation: " + std::string(fn) + "(" + s + ")");
    }
    return Value::Float(d);
  }
  return InvalidArgument("invalid operation: " + std::string(fn) + "(" + TypeName(v) + ")");
}

namespace {

#define ARGS const CallContext &ctx, const std::vector<Value> &args
#define UNUSED_CTX (void)ctx

Result<Value> Len(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("len", args, 1, 1));
  const Value& v = args[0];
  if (v.is_string()) return Value::Int(static_cast<int64_t>(v.AsString().size()));
  if (v.is_array()) return Value::Int(static_cast<int64_t>(v.AsArray().size()));
  if (v.is_map()) return Value::Int(static_cast<int64_t>(v.AsMap().size()));
  return InvalidArgument("invalid argument for len (type " + TypeName(v) + ")");
}

Result<Value> Type(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("type", args, 1, 1));
  return Value::String(TypeName(args[0]));
}

Result<Value> Abs(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("abs", args, 1, 1));
  const Value& v = args[0];
  if (v.is_int()) return Value::Int(v.AsInt() < 0 ? static_cast<int64_t>(0 - static_cast<uint64_t>(v.AsInt())) : v.AsInt());
  if (v.is_float()) return Value::Float(std::fabs(v.AsFloat()));
  return InvalidArgument("invalid argument for abs (type " + TypeName(v) + ")");
}

Result<Value> Rounding(const std::vector<Value>& args, const char* name, double (*fn)(double)) {
  SKIFF_RETURN_IF_ERROR(ArgCount(name, args, 1, 1));
  if (!args[0].is_number()) {
    return InvalidArgument(std::string("invalid argument for ") + name + " (type " +
                           TypeName(args[0]) + ")");
  }
  return Value::Float(fn(args[0].ToDouble()));
}
Result<Value> Ceil(ARGS) { UNUSED_CTX; return Rounding(args, "ceil", [](double d) { return std::ceil(d); }); }
Result<Value> Floor(ARGS) { UNUSED_CTX; return Rounding(args, "floor", [](double d) { return std::floor(d); }); }
Result<Value> Round(ARGS) { UNUSED_CTX; return Rounding(args, "round", [](double d) { return std::round(d); }); }

Result<Value> Int(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("int", args, 1, 1));
  return ToIntValue(args[0], "int");
}
Result<Value> Float(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("float", args, 1, 1));
  return ToFloatValue(args[0], "float");
}
Result<Value> AsInt(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("asInt", args, 1, 1));
  return ToIntValue(args[0], "int");
}
Result<Value> AsFloat(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("asFloat", args, 1, 1));
  return ToFloatValue(args[0], "float");
}
Result<Value> String(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("string", args, 1, 1));
  return Value::String(FormatGoV(args[0]));
}

Result<Value> Trim(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("trim", args, 1, 2));
  SKIFF_ASSIGN_OR_RETURN(std::string s, StringArg("trim", args, 0));
  if (args.size() == 1) return Value::String(gostr::TrimSpace(s));
  SKIFF_ASSIGN_OR_RETURN(std::string cut, StringArg("trim", args, 1));
  return Value::String(gostr::Trim(s, cut, true, true));
}

Result<Value> TrimPrefix(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("trimPrefix", args, 1, 2));
  SKIFF_ASSIGN_OR_RETURN(std::string s, StringArg("trimPrefix", args, 0));
  std::string p = " ";
  if (args.size() == 2) {
    SKIFF_ASSIGN_OR_RETURN(p, StringArg("trimPrefix", args, 1));
  }
  return Value::String(gostr::TrimPrefix(s, p));
}

Result<Value> TrimSuffix(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("trimSuffix", args, 1, 2));
  SKIFF_ASSIGN_OR_RETURN(std::string s, StringArg("trimSuffix", args, 0));
  std::string p = " ";
  if (args.size() == 2) {
    SKIFF_ASSIGN_OR_RETURN(p, StringArg("trimSuffix", args, 1));
  }
  return Value::String(gostr::TrimSuffix(s, p));
}

Result<Value> Upper(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("upper", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string s, StringArg("upper", args, 0));
  return Value::String(gostr::ToUpper(s));
}

Result<Value> Lower(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("lower", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string s, StringArg("lower", args, 0));
  return Value::String(gostr::ToLower(s));
}

Value StringArray(const std::vector<std::string>& parts) {
  Array out;
  out.reserve(parts.size());
  for (const auto& p : parts) out.push_back(Value::String(p));
  return Value::MakeArray(std::move(out));
}

Result<Value> SplitImpl(const std::vector<Value>& args, const char* name, bool after) {
  SKIFF_RETURN_IF_ERROR(ArgCount(name, args, 2, 3));
  SKIFF_ASSIGN_OR_RETURN(std::string s, StringArg(name, args, 0));
  SKIFF_ASSIGN_OR_RETURN(std::string sep, StringArg(name, args, 1));
  int64_t n = -1;
  if (args.size() == 3) {
    SKIFF_ASSIGN_OR_RETURN(n, IntArg(name, args, 2));
  }
  return StringArray(gostr::Split(s, sep, n, after));
}
Result<Value> Split(ARGS) { UNUSED_CTX; return SplitImpl(args, "split", false); }
Result<Value> SplitAfter(ARGS) { UNUSED_CTX; return SplitImpl(args, "splitAfter", true); }

Result<Value> Replace(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("replace", args, 3, 4));
  SKIFF_ASSIGN_OR_RETURN(std::string s, StringArg("replace", args, 0));
  SKIFF_ASSIGN_OR_RETURN(std::string o, StringArg("replace", args, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string n, StringArg("replace", args, 2));
  int64_t count = -1;
  if (args.size() == 4) {
    SKIFF_ASSIGN_OR_RETURN(count, IntArg("replace", args, 3));
  }
  return Value::String(gostr::Replace(s, o, n, count));
}

Result<Value> Repeat(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("repeat", args, 2, 2));
  SKIFF_ASSIGN_OR_RETURN(std::string s, StringArg("repeat", args, 0));
  SKIFF_ASSIGN_OR_RETURN(int64_t n, IntArg("repeat", args, 1));
  if (n < 0) {
    return InvalidArgument("invalid argument for repeat (expected positive integer, got " +
                           std::to_string(n) + ")");
  }
  if (n > 1000000 || static_cast<uint64_t>(n) * s.size() > (64u << 20)) {
    return InvalidArgument("memory budget exceeded");
  }
  std::string out;
  out.reserve(s.size() * static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out += s;
  return Value::String(std::move(out));
}

Result<Value> StringPair(const std::vector<Value>& args, const char* name,
                         Value (*fn)(const std::string&, const std::string&)) {
  SKIFF_RETURN_IF_ERROR(ArgCount(name, args, 2, 2));
  SKIFF_ASSIGN_OR_RETURN(std::string a, StringArg(name, args, 0));
  SKIFF_ASSIGN_OR_RETURN(std::string b, StringArg(name, args, 1));
  return fn(a, b);
}
Result<Value> IndexOf(ARGS) {
  UNUSED_CTX;
  return StringPair(args, "indexOf", [](const std::string& a, const std::string& b) {
    return Value::Int(gostr::Index(a, b));
  });
}
Result<Value> LastIndexOf(ARGS) {
  UNUSED_CTX;
  return StringPair(args, "lastIndexOf", [](const std::string& a, const std::string& b) {
    return Value::Int(gostr::LastIndex(a, b));
  });
}
Result<Value> HasPrefix(ARGS) {
  UNUSED_CTX;
  return StringPair(args, "hasPrefix", [](const std::string& a, const std::string& b) {
    return Value::Bool(gostr::HasPrefix(a, b));
  });
}
Result<Value> HasSuffix(ARGS) {
  UNUSED_CTX;
  return StringPair(args, "hasSuffix", [](const std::string& a, const std::string& b) {
    return Value::Bool(gostr::HasSuffix(a, b));
  });
}

Result<Value> Join(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("join", args, 1, 2));
  if (!args[0].is_array()) {
    return InvalidArgument("invalid argument for join (type " + TypeName(args[0]) + ")");
  }
  std::string glue;
  if (args.size() == 2) {
    SKIFF_ASSIGN_OR_RETURN(glue, StringArg("join", args, 1));
  }
  std::string out;
  bool first = true;
  for (const Value& e : args[0].AsArray()) {
    if (!e.is_string()) {
      return InvalidArgument("invalid argument for join: element of type " + TypeName(e));
    }
    if (!first) out += glue;
    first = false;
    out += e.AsString();
  }
  return Value::String(std::move(out));
}

// Upstream's minMax: arrays are flattened; only numbers take part; a lone non-number argument
// is returned as is.
Status MinMaxInto(const char* name, bool want_max, const Value& v, bool top, size_t nargs,
                  Value* best) {
  if (v.is_array()) {
    for (const Value& e : v.AsArray()) {
      if (e.is_array()) {
        SKIFF_RETURN_IF_ERROR(MinMaxInto(name, want_max, e, false, nargs, best));
        continue;
      }
      if (!e.is_number()) {
        return InvalidArgument(std::string("invalid argument for ") + name + " (type " +
                               TypeName(e) + ")");
      }
      SKIFF_RETURN_IF_ERROR(MinMaxInto(name, want_max, e, false, nargs, best));
    }
    return OkStatus();
  }
  if (v.is_number()) {
    if (best->is_nil()) {
      *best = v;
    } else {
      SKIFF_ASSIGN_OR_RETURN(int c, Compare(*best, v));
      if (want_max ? c < 0 : c > 0) *best = v;
    }
    return OkStatus();
  }
  if (top && nargs == 1) {
    *best = v;
    return OkStatus();
  }
  return InvalidArgument(std::string("invalid argument for ") + name + " (type " + TypeName(v) +
                         ")");
}

Result<Value> MinMax(const std::vector<Value>& args, const char* name, bool want_max) {
  SKIFF_RETURN_IF_ERROR(ArgCount(name, args, 1, SIZE_MAX));
  Value best;
  for (const Value& a : args) {
    SKIFF_RETURN_IF_ERROR(MinMaxInto(name, want_max, a, true, args.size(), &best));
  }
  return best;
}
Result<Value> Max(ARGS) { UNUSED_CTX; return MinMax(args, "max", true); }
Result<Value> Min(ARGS) { UNUSED_CTX; return MinMax(args, "min", false); }

Status CollectNumbers(const char* name, const Value& v, std::vector<double>* out) {
  if (v.is_array()) {
    for (const Value& e : v.AsArray()) SKIFF_RETURN_IF_ERROR(CollectNumbers(name, e, out));
    return OkStatus();
  }
  if (!v.is_number()) {
    return InvalidArgument(std::string("invalid argument for ") + name + " (type " +
                           TypeName(v) + ")");
  }
  out->push_back(v.ToDouble());
  return OkStatus();
}

Result<Value> Mean(ARGS) {
  UNUSED_CTX;
  std::vector<double> xs;
  for (const Value& a : args) SKIFF_RETURN_IF_ERROR(CollectNumbers("mean", a, &xs));
  if (xs.empty()) return Value::Float(0);
  double sum = 0;
  for (double x : xs) sum += x;
  return Value::Float(sum / static_cast<double>(xs.size()));
}

Result<Value> Median(ARGS) {
  UNUSED_CTX;
  std::vector<double> xs;
  for (const Value& a : args) SKIFF_RETURN_IF_ERROR(CollectNumbers("median", a, &xs));
  if (xs.empty()) return Value::Float(0);
  std::sort(xs.begin(), xs.end());
  size_t n = xs.size();
  if (n % 2 == 1) return Value::Float(xs[n / 2]);
  return Value::Float((xs[n / 2 - 1] + xs[n / 2]) / 2);
}

Result<Value> ToJSON(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("toJSON", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string s, MarshalJson(args[0], "  "));
  return Value::String(std::move(s));
}

// Argo's `toJson`: compact json.Marshal.
Result<Value> ToJsonArgo(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("toJson", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string s, MarshalJson(args[0]));
  return Value::String(std::move(s));
}

Result<Value> FromJSON(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("fromJSON", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string s, StringArg("fromJSON", args, 0));
  return ParseJsonAsGo(s);
}

Result<Value> ToBase64(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("toBase64", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string s, StringArg("toBase64", args, 0));
  return Value::String(Base64Encode(s));
}

Result<Value> FromBase64(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("fromBase64", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string s, StringArg("fromBase64", args, 0));
  SKIFF_ASSIGN_OR_RETURN(std::string d, Base64Decode(s));
  return Value::String(std::move(d));
}

Result<Value> FirstLast(const std::vector<Value>& args, const char* name, int64_t index) {
  SKIFF_RETURN_IF_ERROR(ArgCount(name, args, 1, 1));
  auto r = Fetch(args[0], Value::Int(index));
  return r.ok() ? std::move(r).value() : Value();
}
Result<Value> First(ARGS) { UNUSED_CTX; return FirstLast(args, "first", 0); }
Result<Value> Last(ARGS) { UNUSED_CTX; return FirstLast(args, "last", -1); }

Result<Value> Get(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("get", args, 2, 2));
  auto r = Fetch(args[0], args[1]);
  return r.ok() ? std::move(r).value() : Value();
}

Result<Value> Take(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("take", args, 2, 2));
  if (!args[0].is_array()) return InvalidArgument("cannot take from " + TypeName(args[0]));
  if (!args[1].is_int()) return InvalidArgument("cannot take " + TypeName(args[1]) + " elements");
  const Array& a = args[0].AsArray();
  int64_t n = args[1].AsInt();
  if (n >= static_cast<int64_t>(a.size())) return args[0];
  if (n < 0) return InvalidArgument("cannot take a negative number of elements");
  return Value::MakeArray(Array(a.begin(), a.begin() + n));
}

Result<Value> Keys(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("keys", args, 1, 1));
  if (!args[0].is_map()) return InvalidArgument("cannot get keys from " + TypeName(args[0]));
  Array out;
  for (const auto& [k, v] : args[0].AsMap()) out.push_back(Value::String(k));
  return Value::MakeArray(std::move(out));
}

Result<Value> Values(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("values", args, 1, 1));
  if (!args[0].is_map()) return InvalidArgument("cannot get values from " + TypeName(args[0]));
  Array out;
  for (const auto& [k, v] : args[0].AsMap()) out.push_back(v);
  return Value::MakeArray(std::move(out));
}

Result<Value> ToPairs(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("toPairs", args, 1, 1));
  if (!args[0].is_map()) return InvalidArgument("cannot transform " + TypeName(args[0]) + " to pairs");
  Array out;
  for (const auto& [k, v] : args[0].AsMap()) out.push_back(Value::MakeArray({Value::String(k), v}));
  return Value::MakeArray(std::move(out));
}

Result<Value> FromPairs(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("fromPairs", args, 1, 1));
  if (!args[0].is_array()) {
    return InvalidArgument("cannot transform " + TypeName(args[0]) + " from pairs");
  }
  Map out;
  for (const Value& p : args[0].AsArray()) {
    if (!p.is_array() || p.AsArray().size() != 2) {
      return InvalidArgument("invalid pair " + FormatGoV(p));
    }
    const Value& k = p.AsArray()[0];
    out.insert_or_assign(k.is_string() ? k.AsString() : FormatGoV(k), p.AsArray()[1]);
  }
  return Value::MakeMap(std::move(out));
}

Result<Value> Reverse(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("reverse", args, 1, 1));
  if (!args[0].is_array()) return InvalidArgument("cannot reverse " + TypeName(args[0]));
  Array out(args[0].AsArray().rbegin(), args[0].AsArray().rend());
  return Value::MakeArray(std::move(out));
}

Result<Value> Uniq(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("uniq", args, 1, 1));
  if (!args[0].is_array()) return InvalidArgument("cannot uniq " + TypeName(args[0]));
  Array out;
  for (const Value& e : args[0].AsArray()) {
    bool seen = false;
    for (const Value& o : out) seen = seen || Equal(o, e);
    if (!seen) out.push_back(e);
  }
  return Value::MakeArray(std::move(out));
}

Result<Value> Concat(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("concat", args, 1, SIZE_MAX));
  Array out;
  for (const Value& a : args) {
    if (!a.is_array()) return InvalidArgument("cannot concat " + TypeName(a));
    out.insert(out.end(), a.AsArray().begin(), a.AsArray().end());
  }
  return Value::MakeArray(std::move(out));
}

void FlattenInto(const Array& in, Array* out) {
  for (const Value& e : in) {
    if (e.is_array()) {
      FlattenInto(e.AsArray(), out);
    } else {
      out->push_back(e);
    }
  }
}

Result<Value> Flatten(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("flatten", args, 1, 1));
  if (!args[0].is_array()) return InvalidArgument("cannot flatten " + TypeName(args[0]));
  Array out;
  FlattenInto(args[0].AsArray(), &out);
  return Value::MakeArray(std::move(out));
}

Result<Value> Sort(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("sort", args, 1, 2));
  if (!args[0].is_array()) return InvalidArgument("cannot sort " + TypeName(args[0]));
  bool desc = false;
  if (args.size() == 2) {
    SKIFF_ASSIGN_OR_RETURN(std::string order, StringArg("sort", args, 1));
    if (order != "asc" && order != "desc") {
      return InvalidArgument("invalid order " + order + ", expected asc or desc");
    }
    desc = order == "desc";
  }
  Array out = args[0].AsArray();
  Status error;
  std::stable_sort(out.begin(), out.end(), [&](const Value& a, const Value& b) {
    auto c = Compare(a, b);
    if (!c.ok()) {
      if (error.ok()) error = c.status();
      return false;
    }
    return desc ? *c > 0 : *c < 0;
  });
  if (!error.ok()) return error;
  return Value::MakeArray(std::move(out));
}

Result<Value> Bits(const std::vector<Value>& args, const char* name) {
  SKIFF_RETURN_IF_ERROR(ArgCount(name, args, 2, 2));
  if (!args[0].is_int() || !args[1].is_int()) {
    return InvalidArgument(std::string(name) + ": arguments must be ints");
  }
  int64_t x = args[0].AsInt();
  int64_t y = args[1].AsInt();
  std::string_view n = name;
  if (n == "bitand") return Value::Int(x & y);
  if (n == "bitor") return Value::Int(x | y);
  if (n == "bitxor") return Value::Int(x ^ y);
  if (n == "bitnand") return Value::Int(x & ~y);
  if (y < 0) {
    return InvalidArgument("invalid operation: negative shift count " + std::to_string(y) +
                           " (type int)");
  }
  if (n == "bitshl") return Value::Int(y >= 64 ? 0 : static_cast<int64_t>(static_cast<uint64_t>(x) << y));
  if (n == "bitshr") return Value::Int(y >= 64 ? (x < 0 ? -1 : 0) : x >> y);
  return Value::Int(y >= 64 ? 0 : static_cast<int64_t>(static_cast<uint64_t>(x) >> y));
}
Result<Value> BitAnd(ARGS) { UNUSED_CTX; return Bits(args, "bitand"); }
Result<Value> BitOr(ARGS) { UNUSED_CTX; return Bits(args, "bitor"); }
Result<Value> BitXor(ARGS) { UNUSED_CTX; return Bits(args, "bitxor"); }
Result<Value> BitNand(ARGS) { UNUSED_CTX; return Bits(args, "bitnand"); }
Result<Value> BitShl(ARGS) { UNUSED_CTX; return Bits(args, "bitshl"); }
Result<Value> BitShr(ARGS) { UNUSED_CTX; return Bits(args, "bitshr"); }
Result<Value> BitUshr(ARGS) { UNUSED_CTX; return Bits(args, "bitushr"); }
Result<Value> BitNot(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("bitnot", args, 1, 1));
  if (!args[0].is_int()) return InvalidArgument("bitnot: argument must be an int");
  return Value::Int(~args[0].AsInt());
}

Result<Value> Now(ARGS) {
  if (!args.empty()) {
    return InvalidArgument("invalid number of arguments (expected 0, got " +
                           std::to_string(args.size()) + ")");
  }
  return Value::MakeTime(TimeFromTimePoint(ctx.clock->Now()));
}

Result<Value> DurationFn(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("duration", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string s, StringArg("duration", args, 0));
  SKIFF_ASSIGN_OR_RETURN(int64_t ns, ParseGoDurationNs(s));
  return Value::MakeDuration(ns);
}

Result<Value> Date(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("date", args, 1, 3));
  SKIFF_ASSIGN_OR_RETURN(std::string s, StringArg("date", args, 0));
  if (args.size() == 3) {
    SKIFF_ASSIGN_OR_RETURN(std::string tz, StringArg("date", args, 2));
    if (tz != "UTC" && tz != "Local" && !tz.empty()) {
      return InvalidArgument("unknown time zone " + tz + " (only UTC is available)");
    }
  }
  if (args.size() >= 2) {
    SKIFF_ASSIGN_OR_RETURN(std::string layout, StringArg("date", args, 1));
    SKIFF_ASSIGN_OR_RETURN(Time t, ParseGoTime(layout, s));
    return Value::MakeTime(std::move(t));
  }
  static constexpr std::string_view kLayouts[] = {
      "2006-01-02",
      "15:04:05",
      "2006-01-02 15:04:05",
      kRfc3339,
      "02 Jan 06 15:04 MST",                // RFC 822
      "Monday, 02-Jan-06 15:04:05 MST",     // RFC 850
      "Mon, 02 Jan 2006 15:04:05 MST",      // RFC 1123
  };
  for (std::string_view layout : kLayouts) {
    auto t = ParseGoTime(layout, s);
    if (t.ok()) return Value::MakeTime(std::move(t).value());
  }
  return InvalidArgument("invalid date " + s);
}

// Argo's `jsonpath(jsonText, path)`.
Result<Value> JsonPath(ARGS) {
  UNUSED_CTX;
  SKIFF_RETURN_IF_ERROR(ArgCount("jsonpath", args, 2, 2));
  SKIFF_ASSIGN_OR_RETURN(std::string text, StringArg("jsonpath", args, 0));
  SKIFF_ASSIGN_OR_RETURN(std::string path, StringArg("jsonpath", args, 1));
  SKIFF_ASSIGN_OR_RETURN(Value doc, ParseJsonAsGo(text));
  return JsonPathQuery(doc, path);
}

#undef ARGS
#undef UNUSED_CTX

const NativeFunction kFunctions[] = {
    {"len", Len},           {"type", Type},
    {"abs", Abs},           {"ceil", Ceil},
    {"floor", Floor},       {"round", Round},
    {"int", Int},           {"float", Float},
    {"string", String},     {"trim", Trim},
    {"trimPrefix", TrimPrefix}, {"trimSuffix", TrimSuffix},
    {"upper", Upper},       {"lower", Lower},
    {"split", Split},       {"splitAfter", SplitAfter},
    {"replace", Replace},   {"repeat", Repeat},
    {"indexOf", IndexOf},   {"lastIndexOf", LastIndexOf},
    {"hasPrefix", HasPrefix}, {"hasSuffix", HasSuffix},
    {"join", Join},         {"max", Max},
    {"min", Min},           {"mean", Mean},
    {"median", Median},     {"toJSON", ToJSON},
    {"fromJSON", FromJSON}, {"toBase64", ToBase64},
    {"fromBase64", FromBase64}, {"now", Now},
    {"duration", DurationFn}, {"date", Date},
    {"first", First},       {"last", Last},
    {"get", Get},           {"take", Take},
    {"keys", Keys},         {"values", Values},
    {"toPairs", ToPairs},   {"fromPairs", FromPairs},
    {"reverse", Reverse},   {"uniq", Uniq},
    {"concat", Concat},     {"flatten", Flatten},
    {"sort", Sort},         {"bitand", BitAnd},
    {"bitor", BitOr},       {"bitxor", BitXor},
    {"bitnand", BitNand},   {"bitshl", BitShl},
    {"bitshr", BitShr},     {"bitushr", BitUshr},
    {"bitnot", BitNot},
    // Argo's additions.
    {"asInt", AsInt},       {"asFloat", AsFloat},
    {"toJson", ToJsonArgo}, {"jsonpath", JsonPath},
};

}  // namespace

const NativeFunction* FindFunction(std::string_view name) {
  for (const NativeFunction& f : kFunctions) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

const NativeFunction* FindSprigFunction(std::string_view name) {
  for (const NativeFunction& f : SprigFunctions()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

const Value& SprigNamespace() {
  static const Value kNamespace = [] {
    Map m;
    for (const NativeFunction& f : SprigFunctions()) m.emplace(f.name, Value::Function(&f));
    return Value::MakeMap(std::move(m));
  }();
  return kNamespace;
}

}  // namespace skiff::expr
