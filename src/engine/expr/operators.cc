#include "engine/expr/operators.h"

#include <cmath>

#include "engine/expr/go_time.h"

namespace skiff::expr {
namespace {

Status Mismatch(std::string_view op, const Value& a, const Value& b) {
  return InvalidArgument("invalid operation: " + TypeName(a) + " " + std::string(op) + " " +
                         TypeName(b));
}

// Go's wrapping int64 arithmetic, without C++ undefined behaviour.
int64_t WrapAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
int64_t WrapSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t WrapMul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}

}  // namespace

Result<int64_t> ToInt(const Value& v) {
  if (v.is_int()) return v.AsInt();
  if (v.is_float()) {
    double d = v.AsFloat();
    if (!std::isfinite(d) || d >= 9.3e18 || d <= -9.3e18) {
      return InvalidArgument("cannot convert " + FormatGoV(v) + " to int");
    }
    return static_cast<int64_t>(d);
  }
  return InvalidArgument("invalid operation: int(" + TypeName(v) + ")");
}

Result<Value> Arithmetic(std::string_view op, const Value& a, const Value& b) {
  if (op == "..") {
    if (!a.is_int() || !b.is_int()) return Mismatch(op, a, b);
    Array out;
    if (b.AsInt() >= a.AsInt()) {
      if (b.AsInt() - a.AsInt() >= 10000000) {
        return InvalidArgument("range " + FormatGoV(a) + ".." + FormatGoV(b) + " is too large");
      }
      for (int64_t i = a.AsInt(); i <= b.AsInt(); ++i) out.push_back(Value::Int(i));
    }
    return Value::MakeArray(std::move(out));
  }
  if (a.is_number() && b.is_number()) {
    bool ints = a.is_int() && b.is_int();
    if (op == "+") {
      return ints ? Value::Int(WrapAdd(a.AsInt(), b.AsInt()))
                  : Value::Float(a.ToDouble() + b.ToDouble());
    }
    if (op == "-") {
      return ints ? Value::Int(WrapSub(a.AsInt(), b.AsInt()))
                  : Value::Float(a.ToDouble() - b.ToDouble());
    }
    if (op == "*") {
      return ints ? Value::Int(WrapMul(a.AsInt(), b.AsInt()))
                  : Value::Float(a.ToDouble() * b.ToDouble());
    }
    if (op == "/") return Value::Float(a.ToDouble() / b.ToDouble());
    if (op == "%") {
      if (!ints) return Mismatch(op, a, b);
      if (b.AsInt() == 0) return InvalidArgument("integer divide by zero");
      if (b.AsInt() == -1) return Value::Int(0);  // avoids INT64_MIN % -1 overflow
      return Value::Int(a.AsInt() % b.AsInt());
    }
    if (op == "**" || op == "^") return Value::Float(std::pow(a.ToDouble(), b.ToDouble()));
    return Mismatch(op, a, b);
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) return Value::String(a.AsString() + b.AsString());
    if (a.is_array() && b.is_array()) {
      Array out = a.AsArray();
      out.insert(out.end(), b.AsArray().begin(), b.AsArray().end());
      return Value::MakeArray(std::move(out));
    }
    if (a.is_time() && b.is_duration()) return Value::MakeTime(TimeAdd(a.AsTime(), b.AsDurationNs()));
    if (a.is_duration() && b.is_time()) return Value::MakeTime(TimeAdd(b.AsTime(), a.AsDurationNs()));
    if (a.is_duration() && b.is_duration()) {
      return Value::MakeDuration(WrapAdd(a.AsDurationNs(), b.AsDurationNs()));
    }
    return Mismatch(op, a, b);
  }
  if (op == "-") {
    if (a.is_time() && b.is_time()) return Value::MakeDuration(TimeDiffNs(a.AsTime(), b.AsTime()));
    if (a.is_time() && b.is_duration()) {
      return Value::MakeTime(TimeAdd(a.AsTime(), WrapSub(0, b.AsDurationNs())));
    }
    if (a.is_duration() && b.is_duration()) {
      return Value::MakeDuration(WrapSub(a.AsDurationNs(), b.AsDurationNs()));
    }
    return Mismatch(op, a, b);
  }
  if (op == "*") {
    // time.Duration is an int64 in Go, so it scales by ints.
    if (a.is_duration() && b.is_int()) return Value::MakeDuration(WrapMul(a.AsDurationNs(), b.AsInt()));
    if (a.is_int() && b.is_duration()) return Value::MakeDuration(WrapMul(a.AsInt(), b.AsDurationNs()));
    return Mismatch(op, a, b);
  }
  if (op == "/" && a.is_duration() && (b.is_duration() || b.is_number())) {
    double y = b.is_duration() ? static_cast<double>(b.AsDurationNs()) : b.ToDouble();
    return Value::Float(static_cast<double>(a.AsDurationNs()) / y);
  }
  return Mismatch(op, a, b);
}

Result<Value> Fetch(const Value& from, const Value& key) {
  switch (from.kind()) {
    case Value::Kind::kMap: {
      if (!key.is_string()) {
        return InvalidArgument("cannot fetch " + FormatGoV(key) + " (type " + TypeName(key) +
                               ") from map");
      }
      const Map& m = from.AsMap();
      auto it = m.find(key.AsString());
      return it == m.end() ? Value() : it->second;
    }
    case Value::Kind::kArray:
    case Value::Kind::kString: {
      if (!key.is_number()) {
        return InvalidArgument("cannot fetch " + FormatGoV(key) + " from " + TypeName(from));
      }
      SKIFF_ASSIGN_OR_RETURN(int64_t index, ToInt(key));
      int64_t len = from.is_array() ? static_cast<int64_t>(from.AsArray().size())
                                    : static_cast<int64_t>(from.AsString().size());
      if (index < 0) index += len;
      if (index < 0 || index >= len) {
        return InvalidArgument("index out of range: " + std::to_string(index) +
                               " (array length is " + std::to_string(len) + ")");
      }
      if (from.is_array()) return from.AsArray()[static_cast<size_t>(index)];
      // Go indexes a string by byte and yields the byte's value.
      return Value::Int(static_cast<unsigned char>(from.AsString()[static_cast<size_t>(index)]));
    }
    default:
      return InvalidArgument("cannot fetch " + FormatGoV(key) + " from " + TypeName(from));
  }
}

Result<Value> Slice(const Value& v, const Value* from, const Value* to) {
  if (!v.is_array() && !v.is_string()) return InvalidArgument("cannot slice " + TypeName(v));
  int64_t len = v.is_array() ? static_cast<int64_t>(v.AsArray().size())
                             : static_cast<int64_t>(v.AsString().size());
  int64_t a = 0;
  int64_t b = len;
  if (from != nullptr) {
    SKIFF_ASSIGN_OR_RETURN(a, ToInt(*from));
  }
  if (to != nullptr) {
    SKIFF_ASSIGN_OR_RETURN(b, ToInt(*to));
  }
  if (a < 0) a += len;
  if (a < 0) a = 0;
  if (b < 0) b += len;
  if (b < 0) b = 0;
  if (b > len) b = len;
  if (a > b) a = b;
  if (v.is_string()) {
    return Value::String(v.AsString().substr(static_cast<size_t>(a), static_cast<size_t>(b - a)));
  }
  const Array& arr = v.AsArray();
  return Value::MakeArray(Array(arr.begin() + a, arr.begin() + b));
}

Result<bool> In(const Value& needle, const Value& haystack) {
  if (haystack.is_nil()) return false;
  if (haystack.is_array()) {
    for (const Value& e : haystack.AsArray()) {
      if (Equal(e, needle)) return true;
    }
    return false;
  }
  if (haystack.is_map()) {
    if (!needle.is_string()) {
      return InvalidArgument("cannot use " + TypeName(needle) + " as a key of map[string]");
    }
    return haystack.AsMap().count(needle.AsString()) > 0;
  }
  return InvalidArgument("operator \"in\" not defined on " + TypeName(haystack));
}

}  // namespace skiff::expr
