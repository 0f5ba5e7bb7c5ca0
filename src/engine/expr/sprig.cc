// The Masterminds/sprig v3 functions Argo exposes as `sprig.<name>` (GenericFuncMap minus `env`
// and `expandenv`). Numeric functions cast like sprig's toInt64/toFloat64 (spf13/cast): strings
// are parsed, floats truncated for int operations, anything unparsable becomes 0. Argument order
// follows sprig's template-friendly convention (`sprig.trimPrefix(prefix, s)`). This file holds
// the shared helpers, encoding, numbers and dates; see sprig_text.cc and sprig_collections.cc.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "common/ids.h"
#include "engine/expr/builtins.h"
#include "engine/expr/go_format.h"
#include "engine/expr/go_time.h"
#include "engine/expr/operators.h"
#include "engine/expr/sprig_internal.h"

namespace skiff::expr {
namespace sprig {

int64_t ToInt64(const Value& v) {
  if (v.is_int()) return v.AsInt();
  if (v.is_float()) {
    auto i = ToInt(v);
    return i.ok() ? *i : 0;
  }
  if (v.is_duration()) return v.AsDurationNs();
  if (v.is_bool()) return v.AsBool() ? 1 : 0;
  if (!v.is_string()) return 0;
  std::string s = v.AsString();
  size_t dot = s.find('.');
  if (dot != std::string::npos && s.find_first_not_of('0', dot + 1) == std::string::npos) {
    s.resize(dot);
  }
  std::string digits;
  for (char c : s) {
    if (c != '_') digits += c;
  }
  bool neg = false;
  size_t i = 0;
  if (i < digits.size() && (digits[i] == '+' || digits[i] == '-')) neg = digits[i++] == '-';
  int base = 10;
  if (digits.size() > i + 1 && digits[i] == '0') {
    char p = static_cast<char>(std::tolower(static_cast<unsigned char>(digits[i + 1])));
    if (p == 'x') {
      base = 16;
      i += 2;
    } else if (p == 'b') {
      base = 2;
      i += 2;
    } else if (p == 'o') {
      base = 8;
      i += 2;
    } else {
      base = 8;
      i += 1;
    }
  }
  uint64_t u = 0;
  const char* first = digits.data() + i;
  const char* last = digits.data() + digits.size();
  auto r = std::from_chars(first, last, u, base);
  if (first == last || r.ec != std::errc() || r.ptr != last) return 0;
  if (neg) return u > uint64_t{1} << 63 ? 0 : static_cast<int64_t>(0 - u);
  return u > static_cast<uint64_t>(INT64_MAX) ? 0 : static_cast<int64_t>(u);
}

double ToFloat64(const Value& v) {
  if (v.is_number()) return v.ToDouble();
  if (v.is_bool()) return v.AsBool() ? 1 : 0;
  if (v.is_duration()) return static_cast<double>(v.AsDurationNs());
  if (!v.is_string() || v.AsString().empty()) return 0;
  const std::string& s = v.AsString();
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  return end != nullptr && *end == '\0' && !std::isspace(static_cast<unsigned char>(s[0])) ? d : 0;
}

std::string StrVal(const Value& v) { return FormatGoV(v); }

std::vector<std::string> StrSlice(const Value& v) {
  std::vector<std::string> out;
  if (v.is_nil()) return out;
  if (!v.is_array()) return {StrVal(v)};
  for (const Value& e : v.AsArray()) {
    if (!e.is_nil()) out.push_back(StrVal(e));
  }
  return out;
}

bool Empty(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNil:
      return true;
    case Value::Kind::kBool:
      return !v.AsBool();
    case Value::Kind::kInt:
      return v.AsInt() == 0;
    case Value::Kind::kFloat:
      return v.AsFloat() == 0;
    case Value::Kind::kString:
      return v.AsString().empty();
    case Value::Kind::kArray:
      return v.AsArray().empty();
    case Value::Kind::kMap:
      return v.AsMap().empty();
    case Value::Kind::kDuration:
      return v.AsDurationNs() == 0;
    default:
      return false;
  }
}

Result<const Map*> MapArg(std::string_view fn, const std::vector<Value>& args, size_t i) {
  if (i >= args.size() || !args[i].is_map()) {
    return InvalidArgument("sprig." + std::string(fn) + ": argument " + std::to_string(i + 1) +
                           " must be a map, got " +
                           (i < args.size() ? TypeName(args[i]) : "nothing"));
  }
  return &args[i].AsMap();
}

Result<const Array*> ListArg(std::string_view fn, const std::vector<Value>& args, size_t i) {
  if (i >= args.size() || !args[i].is_array()) {
    return InvalidArgument("sprig." + std::string(fn) + ": cannot use type " +
                           (i < args.size() ? TypeName(args[i]) : "nothing") + " as a list");
  }
  return &args[i].AsArray();
}

Result<std::string> Str(std::string_view fn, const std::vector<Value>& args, size_t i) {
  return StringArg("sprig." + std::string(fn), args, i);
}

Value Strings(const std::vector<std::string>& parts) {
  Array out;
  for (const auto& p : parts) out.push_back(Value::String(p));
  return Value::MakeArray(std::move(out));
}

}  // namespace sprig

namespace {

using namespace sprig;  // NOLINT: the helpers are this file's vocabulary
#define ARGS SPRIG_ARGS

// ---- encoding ----

Result<Value> B64Enc(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.b64enc", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string s, Str("b64enc", args, 0));
  return Value::String(Base64Encode(s));
}

Result<Value> B64Dec(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.b64dec", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string s, Str("b64dec", args, 0));
  auto d = Base64Decode(s);
  // sprig returns the error text instead of failing.
  return Value::String(d.ok() ? std::move(d).value() : d.status().message());
}

Result<Value> ToJson(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.toJson", args, 1, 1));
  auto s = MarshalJson(args[0]);
  return Value::String(s.ok() ? std::move(s).value() : "");
}

Result<Value> ToPrettyJson(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.toPrettyJson", args, 1, 1));
  auto s = MarshalJson(args[0], "  ");
  return Value::String(s.ok() ? std::move(s).value() : "");
}

Result<Value> MustToJson(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.mustToJson", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string s, MarshalJson(args[0]));
  return Value::String(std::move(s));
}

Result<Value> FromJson(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.fromJson", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string s, Str("fromJson", args, 0));
  auto v = ParseJsonAsGo(s);
  return v.ok() ? std::move(v).value() : Value();
}

Result<Value> MustFromJson(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.mustFromJson", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string s, Str("mustFromJson", args, 0));
  return ParseJsonAsGo(s);
}

Result<Value> Sha256Sum(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.sha256sum", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string s, Str("sha256sum", args, 0));
  return Value::String(Sha256Hex(s));
}

Result<Value> Adler32Sum(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.adler32sum", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string s, Str("adler32sum", args, 0));
  uint32_t a = 1, b = 0;
  for (unsigned char c : s) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  return Value::String(std::to_string((b << 16) | a));
}

Result<Value> UuidV4(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.uuidv4", args, 0, 0));
  return Value::String(NewUid());
}

// ---- numbers ----

Result<Value> Add(ARGS) {
  int64_t sum = 0;
  for (const Value& v : args) sum = static_cast<int64_t>(static_cast<uint64_t>(sum) + static_cast<uint64_t>(ToInt64(v)));
  return Value::Int(sum);
}

Result<Value> Add1(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.add1", args, 1, 1));
  return Value::Int(ToInt64(args[0]) + 1);
}

Result<Value> Sub(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.sub", args, 2, 2));
  return Value::Int(ToInt64(args[0]) - ToInt64(args[1]));
}

Result<Value> Mul(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.mul", args, 1, SIZE_MAX));
  int64_t p = ToInt64(args[0]);
  for (size_t i = 1; i < args.size(); ++i) {
    p = static_cast<int64_t>(static_cast<uint64_t>(p) * static_cast<uint64_t>(ToInt64(args[i])));
  }
  return Value::Int(p);
}

Result<Value> DivMod(const std::vector<Value>& args, bool mod) {
  SKIFF_RETURN_IF_ERROR(ArgCount(mod ? "sprig.mod" : "sprig.div", args, 2, 2));
  int64_t a = ToInt64(args[0]);
  int64_t b = ToInt64(args[1]);
  if (b == 0) return InvalidArgument("integer divide by zero");
  if (b == -1) return Value::Int(mod ? 0 : static_cast<int64_t>(0 - static_cast<uint64_t>(a)));
  return Value::Int(mod ? a % b : a / b);
}
Result<Value> Div(ARGS) { return DivMod(args, false); }
Result<Value> Mod(ARGS) { return DivMod(args, true); }

Result<Value> MaxMin(const std::vector<Value>& args, bool want_max) {
  SKIFF_RETURN_IF_ERROR(ArgCount(want_max ? "sprig.max" : "sprig.min", args, 1, SIZE_MAX));
  int64_t best = ToInt64(args[0]);
  for (size_t i = 1; i < args.size(); ++i) {
    int64_t v = ToInt64(args[i]);
    if (want_max ? v > best : v < best) best = v;
  }
  return Value::Int(best);
}
Result<Value> Max(ARGS) { return MaxMin(args, true); }
Result<Value> Min(ARGS) { return MaxMin(args, false); }

// sprig's float functions compute in decimal (shopspring/decimal); exact decimal sums and
// products of the shortest representations give the same float64 in the usual cases.
double DecimalOp(double a, double b, char op) {
  auto parts = [](double d, __int128* mant, int* exp) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string s(buf, r.ptr);
    size_t e = s.find('e');
    *exp = std::atoi(s.c_str() + e + 1);
    __int128 m = 0;
    bool neg = s[0] == '-';
    int frac = 0;
    bool after_point = false;
    for (size_t i = neg ? 1 : 0; i < e; ++i) {
      if (s[i] == '.') {
        after_point = true;
        continue;
      }
      m = m * 10 + (s[i] - '0');
      if (after_point) ++frac;
    }
    *mant = neg ? -m : m;
    *exp -= frac;
  };
  if (!std::isfinite(a) || !std::isfinite(b)) {
    return op == '+' ? a + b : op == '-' ? a - b : a * b;
  }
  __int128 ma, mb;
  int ea, eb;
  parts(a, &ma, &ea);
  parts(b, &mb, &eb);
  __int128 m;
  int e;
  if (op == '*') {
    m = ma * mb;
    e = ea + eb;
  } else {
    int lo = std::min(ea, eb);
    if (std::max(ea, eb) - lo > 18) return op == '+' ? a + b : a - b;
    for (int i = lo; i < ea; ++i) ma *= 10;
    for (int i = lo; i < eb; ++i) mb *= 10;
    m = op == '+' ? ma + mb : ma - mb;
    e = lo;
  }
  bool neg = m < 0;
  if (neg) m = -m;
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(m % 10)));
    m /= 10;
  } while (m > 0);
  std::string text = (neg ? "-" : "") + digits + "e" + std::to_string(e);
  return std::strtod(text.c_str(), nullptr);
}

Result<Value> FloatFold(const std::vector<Value>& args, char op, double start, bool use_start) {
  double acc = start;
  for (size_t i = 0; i < args.size(); ++i) {
    double v = ToFloat64(args[i]);
    acc = (i == 0 && !use_start) ? v : DecimalOp(acc, v, op);
  }
  return Value::Float(acc);
}
Result<Value> AddF(ARGS) { return FloatFold(args, '+', 0, true); }
Result<Value> MulF(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.mulf", args, 1, SIZE_MAX));
  return FloatFold(args, '*', 1, false);
}
Result<Value> SubF(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.subf", args, 1, SIZE_MAX));
  return FloatFold(args, '-', 0, false);
}
Result<Value> Add1F(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.add1f", args, 1, 1));
  return Value::Float(DecimalOp(ToFloat64(args[0]), 1, '+'));
}
Result<Value> DivF(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.divf", args, 1, SIZE_MAX));
  double acc = ToFloat64(args[0]);
  for (size_t i = 1; i < args.size(); ++i) {
    double d = ToFloat64(args[i]);
    if (d == 0) return InvalidArgument("decimal division by 0");
    acc /= d;
  }
  return Value::Float(acc);
}
Result<Value> MaxMinF(const std::vector<Value>& args, bool want_max) {
  SKIFF_RETURN_IF_ERROR(ArgCount(want_max ? "sprig.maxf" : "sprig.minf", args, 1, SIZE_MAX));
  double best = ToFloat64(args[0]);
  for (size_t i = 1; i < args.size(); ++i) {
    double v = ToFloat64(args[i]);
    best = want_max ? std::max(best, v) : std::min(best, v);
  }
  return Value::Float(best);
}
Result<Value> MaxF(ARGS) { return MaxMinF(args, true); }
Result<Value> MinF(ARGS) { return MaxMinF(args, false); }

Result<Value> Floor(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.floor", args, 1, 1));
  return Value::Float(std::floor(ToFloat64(args[0])));
}

Result<Value> Ceil(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.ceil", args, 1, 1));
  return Value::Float(std::ceil(ToFloat64(args[0])));
}

Result<Value> Round(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.round", args, 2, 3));
  double round_on = args.size() == 3 ? ToFloat64(args[2]) : 0.5;
  double val = ToFloat64(args[0]);
  double pow = std::pow(10, static_cast<double>(ToInt64(args[1])));
  double digit = pow * val;
  double whole = 0;
  double frac = std::modf(digit, &whole);
  return Value::Float((frac >= round_on ? std::ceil(digit) : std::floor(digit)) / pow);
}

Result<Value> IntFn(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.int", args, 1, 1));
  return Value::Int(ToInt64(args[0]));
}

Result<Value> Float64Fn(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.float64", args, 1, 1));
  return Value::Float(ToFloat64(args[0]));
}

Result<Value> Atoi(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.atoi", args, 1, 1));
  SKIFF_ASSIGN_OR_RETURN(std::string s, Str("atoi", args, 0));
  auto v = ToIntValue(Value::String(s), "atoi");
  return v.ok() ? std::move(v).value() : Value::Int(0);
}

Result<Value> Until(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.until", args, 1, 1));
  int64_t n = ToInt64(args[0]);
  int64_t step = n < 0 ? -1 : 1;
  if (n > 1000000 || n < -1000000) return InvalidArgument("sprig.until: count too large");
  Array out;
  for (int64_t i = 0; i != n; i += step) out.push_back(Value::Int(i));
  return Value::MakeArray(std::move(out));
}

// ---- dates ----

Result<Value> NowFn(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.now", args, 0, 0));
  return Value::MakeTime(TimeFromTimePoint(ctx.clock->Now()));
}

// sprig's dateInZone: times and Unix seconds are formatted; anything else means "now". Only
// UTC exists here, and sprig itself falls back to UTC for zones it cannot load.
Result<Value> FormatDate(const CallContext& ctx, const std::string& layout, const Value& date) {
  Time t;
  if (date.is_time()) {
    t = date.AsTime();
  } else if (date.is_int()) {
    t = UnixTime(date.AsInt(), 0);
  } else {
    t = TimeFromTimePoint(ctx.clock->Now());
  }
  t.offset = 0;
  t.zone = "UTC";
  return Value::String(FormatGoTime(t, layout));
}

Result<Value> Date(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.date", args, 2, 2));
  SKIFF_ASSIGN_OR_RETURN(std::string layout, Str("date", args, 0));
  return FormatDate(ctx, layout, args[1]);
}

Result<Value> DateInZone(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.dateInZone", args, 3, 3));
  SKIFF_ASSIGN_OR_RETURN(std::string layout, Str("dateInZone", args, 0));
  SKIFF_ASSIGN_OR_RETURN(std::string zone, Str("dateInZone", args, 2));
  return FormatDate(ctx, layout, args[1]);
}

Result<Value> HtmlDate(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.htmlDate", args, 1, 1));
  return FormatDate(ctx, "2006-01-02", args[0]);
}

Result<Value> ToDate(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.toDate", args, 2, 2));
  SKIFF_ASSIGN_OR_RETURN(std::string layout, Str("toDate", args, 0));
  SKIFF_ASSIGN_OR_RETURN(std::string s, Str("toDate", args, 1));
  auto t = ParseGoTime(layout, s);
  // sprig ignores the error and returns Go's zero time.
  return Value::MakeTime(t.ok() ? std::move(t).value() : UnixTime(-62135596800LL, 0));
}

Result<Value> UnixEpoch(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.unixEpoch", args, 1, 1));
  if (!args[0].is_time()) return InvalidArgument("sprig.unixEpoch: argument must be a time");
  return Value::String(std::to_string(args[0].AsTime().sec));
}

Result<Value> DateModify(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.dateModify", args, 2, 2));
  SKIFF_ASSIGN_OR_RETURN(std::string d, Str("dateModify", args, 0));
  if (!args[1].is_time()) return InvalidArgument("sprig.dateModify: argument 2 must be a time");
  auto ns = ParseGoDurationNs(d);
  if (!ns.ok()) return args[1];
  return Value::MakeTime(TimeAdd(args[1].AsTime(), *ns));
}

Result<Value> DurationFn(ARGS) {
  SKIFF_RETURN_IF_ERROR(ArgCount("sprig.duration", args, 1, 1));
  int64_t secs = args[0].is_int() ? args[0].AsInt() : args[0].is_string() ? ToInt64(args[0]) : 0;
  return Value::String(FormatGoDurationNs(secs * 1000000000LL));
}

#undef ARGS

}  // namespace

const std::vector<NativeFunction>& SprigFunctions() {
  static const std::vector<NativeFunction> kFunctions = [] {
    std::vector<NativeFunction> table = {
        {"b64enc", B64Enc},
        {"b64dec", B64Dec},
        {"toJson", ToJson},
        {"toPrettyJson", ToPrettyJson},
        {"mustToJson", MustToJson},
        {"fromJson", FromJson},
        {"mustFromJson", MustFromJson},
        {"sha256sum", Sha256Sum},
        {"adler32sum", Adler32Sum},
        {"uuidv4", UuidV4},
        {"add", Add},
        {"add1", Add1},
        {"sub", Sub},
        {"mul", Mul},
        {"div", Div},
        {"mod", Mod},
        {"max", Max},
        {"min", Min},
        {"addf", AddF},
        {"add1f", Add1F},
        {"subf", SubF},
        {"mulf", MulF},
        {"divf", DivF},
        {"maxf", MaxF},
        {"minf", MinF},
        {"floor", Floor},
        {"ceil", Ceil},
        {"round", Round},
        {"int", IntFn},
        {"int64", IntFn},
        {"float64", Float64Fn},
        {"atoi", Atoi},
        {"until", Until},
        {"now", NowFn},
        {"date", Date},
        {"dateInZone", DateInZone},
        {"date_in_zone", DateInZone},
        {"htmlDate", HtmlDate},
        {"toDate", ToDate},
        {"unixEpoch", UnixEpoch},
        {"dateModify", DateModify},
        {"date_modify", DateModify},
        {"duration", DurationFn},
    };
    sprig::AppendTextFunctions(table);
    sprig::AppendCollectionFunctions(table);
    return table;
  }();
  return kFunctions;
}

}  // namespace skiff::expr
