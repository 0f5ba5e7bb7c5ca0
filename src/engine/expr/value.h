// The evaluator's value type. Expressions compute with more kinds of value than JSON has: Go's
// `time.Time` and `time.Duration`, and functions (`sprig.add` is a value until it is called).
// `Value` is an immutable, cheaply copyable tagged union; arrays and maps are shared, never
// mutated after construction. Conversion to and from `Json` happens only at the module boundary.
// Thread-compatible: a `Value` may be read from several threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/clock.h"
#include "common/json.h"
#include "common/status.h"

namespace skiff::expr {

class Value;
using Array = std::vector<Value>;
// Keys sorted bytewise, which is also the order Go's encoding/json writes map keys in.
using Map = std::map<std::string, Value, std::less<>>;

// A Go `time.Time`: an instant plus the zone it is displayed in.
struct Time {
  int64_t sec = 0;     // seconds since the Unix epoch
  int32_t nsec = 0;    // in [0, 1e9)
  int32_t offset = 0;  // seconds east of UTC, used for display only
  std::string zone;    // abbreviation such as "UTC"; empty for an unnamed fixed offset
};

// A Go `time.Duration`, in nanoseconds.
struct GoDuration {
  int64_t ns = 0;
};

// What a native function sees besides its arguments.
struct CallContext {
  const Clock* clock = nullptr;  // never null while evaluating
};

using NativeFn = Result<Value> (*)(const CallContext& ctx, const std::vector<Value>& args);

// A function implemented in C++ (an expr builtin, an Argo addition or a sprig function).
struct NativeFunction {
  const char* name;
  NativeFn fn;
};

class Value {
 public:
  // The order matches the alternatives of `Storage`.
  enum class Kind { kNil, kBool, kInt, kFloat, kString, kArray, kMap, kTime, kDuration, kFunction };

  Value() = default;
  static Value Nil() { return Value(); }
  static Value Bool(bool b) { return Value(Storage(b)); }
  static Value Int(int64_t i) { return Value(Storage(i)); }
  static Value Float(double d) { return Value(Storage(d)); }
  static Value String(std::string s) { return Value(Storage(std::move(s))); }
  static Value MakeArray(Array a) {
    return Value(Storage(std::make_shared<const Array>(std::move(a))));
  }
  static Value MakeMap(Map m) { return Value(Storage(std::make_shared<const Map>(std::move(m)))); }
  static Value MakeTime(Time t) { return Value(Storage(std::move(t))); }
  static Value MakeDuration(int64_t ns) { return Value(Storage(GoDuration{ns})); }
  static Value Function(const NativeFunction* f) { return Value(Storage(f)); }

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_nil() const { return kind() == Kind::kNil; }
  bool is_bool() const { return kind() == Kind::kBool; }
  bool is_int() const { return kind() == Kind::kInt; }
  bool is_float() const { return kind() == Kind::kFloat; }
  bool is_number() const { return is_int() || is_float(); }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_array() const { return kind() == Kind::kArray; }
  bool is_map() const { return kind() == Kind::kMap; }
  bool is_time() const { return kind() == Kind::kTime; }
  bool is_duration() const { return kind() == Kind::kDuration; }
  bool is_function() const { return kind() == Kind::kFunction; }

  // Accessors; calling the wrong one is a bug (std::get aborts via bad_variant_access).
  bool AsBool() const { return std::get<bool>(v_); }
  int64_t AsInt() const { return std::get<int64_t>(v_); }
  double AsFloat() const { return std::get<double>(v_); }
  const std::string& AsString() const { return std::get<std::string>(v_); }
  const Array& AsArray() const { return *std::get<std::shared_ptr<const Array>>(v_); }
  const Map& AsMap() const { return *std::get<std::shared_ptr<const Map>>(v_); }
  const Time& AsTime() const { return std::get<Time>(v_); }
  int64_t AsDurationNs() const { return std::get<GoDuration>(v_).ns; }
  const NativeFunction* AsFunction() const { return std::get<const NativeFunction*>(v_); }

  // An int or float as a double.
  double ToDouble() const { return is_int() ? static_cast<double>(AsInt()) : AsFloat(); }

 private:
  using Storage = std::variant<std::monostate, bool, int64_t, double, std::string,
                               std::shared_ptr<const Array>, std::shared_ptr<const Map>, Time,
                               GoDuration, const NativeFunction*>;
  explicit Value(Storage v) : v_(std::move(v)) {}
  Storage v_;
};

// Short type names used in error messages and by expr's `type()`: "nil", "bool", "int", "float",
// "string", "array", "map", "time.Time", "time.Duration", "func".
std::string TypeName(const Value& v);

// expr's `==`: numbers compare by value across int and float; times compare as instants; arrays
// and maps compare element-wise with Go's reflect.DeepEqual rules (there an int never equals a
// float).
bool Equal(const Value& a, const Value& b);
// Go's reflect.DeepEqual on the values Argo would hold.
bool DeepEqual(const Value& a, const Value& b);

// Orders two numbers, strings, times or durations: <0, 0, >0. Other pairs are an error
// ("cannot compare string and int").
Result<int> Compare(const Value& a, const Value& b);

// JSON -> Value: integers become ints, other numbers floats; an object of the exact form
// {"$time": "<RFC 3339>"} becomes a time.
Value FromJson(const Json& j);
// Value -> JSON: times become {"$time": "<RFC 3339>"}, durations Go duration strings ("1h0m0s"),
// functions null.
Json ToJson(const Value& v);

// Go's fmt "%v" rendering: `[1 2]`, `map[a:1]`, `<nil>`, floats like 1e+06.
std::string FormatGoV(const Value& v);

}  // namespace skiff::expr
