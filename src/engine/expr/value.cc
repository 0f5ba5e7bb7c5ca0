#include "engine/expr/value.h"

#include <cmath>

#include "engine/expr/go_format.h"
#include "engine/expr/go_time.h"

namespace skiff::expr {

std::string TypeName(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNil:
      return "nil";
    case Value::Kind::kBool:
      return "bool";
    case Value::Kind::kInt:
      return "int";
    case Value::Kind::kFloat:
      return "float";
    case Value::Kind::kString:
      return "string";
    case Value::Kind::kArray:
      return "array";
    case Value::Kind::kMap:
      return "map";
    case Value::Kind::kTime:
      return "time.Time";
    case Value::Kind::kDuration:
      return "time.Duration";
    case Value::Kind::kFunction:
      return "func";
  }
  return "unknown";
}

namespace {

bool SameInstant(const Time& a, const Time& b) { return a.sec == b.sec && a.nsec == b.nsec; }

}  // namespace

bool DeepEqual(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kNil:
      return true;
    case Value::Kind::kBool:
      return a.AsBool() == b.AsBool();
    case Value::Kind::kInt:
      return a.AsInt() == b.AsInt();
    case Value::Kind::kFloat:
      return a.AsFloat() == b.AsFloat();
    case Value::Kind::kString:
      return a.AsString() == b.AsString();
    case Value::Kind::kArray: {
      const Array& x = a.AsArray();
      const Array& y = b.AsArray();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!DeepEqual(x[i], y[i])) return false;
      }
      return true;
    }
    case Value::Kind::kMap: {
      const Map& x = a.AsMap();
      const Map& y = b.AsMap();
      if (x.size() != y.size()) return false;
      for (auto xi = x.begin(), yi = y.begin(); xi != x.end(); ++xi, ++yi) {
        if (xi->first != yi->first || !DeepEqual(xi->second, yi->second)) return false;
      }
      return true;
    }
    case Value::Kind::kTime:
      // reflect.DeepEqual compares the struct, zone included.
      return SameInstant(a.AsTime(), b.AsTime()) && a.AsTime().offset == b.AsTime().offset;
    case Value::Kind::kDuration:
      return a.AsDurationNs() == b.AsDurationNs();
    case Value::Kind::kFunction:
      return false;  // Go: functions are only DeepEqual when both are nil.
  }
  return false;
}

bool Equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_int() && b.is_int()) return a.AsInt() == b.AsInt();
    return a.ToDouble() == b.ToDouble();
  }
  if (a.is_time() && b.is_time()) return SameInstant(a.AsTime(), b.AsTime());
  return DeepEqual(a, b);
}

Result<int> Compare(const Value& a, const Value& b) {
  if (a.is_int() && b.is_int()) {
    return a.AsInt() < b.AsInt() ? -1 : (a.AsInt() > b.AsInt() ? 1 : 0);
  }
  if (a.is_number() && b.is_number()) {
    double x = a.ToDouble();
    double y = b.ToDouble();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    int c = a.AsString().compare(b.AsString());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_time() && b.is_time()) {
    const Time& x = a.AsTime();
    const Time& y = b.AsTime();
    if (x.sec != y.sec) return x.sec < y.sec ? -1 : 1;
    if (x.nsec != y.nsec) return x.nsec < y.nsec ? -1 : 1;
    return 0;
  }
  if (a.is_duration() && b.is_duration()) {
    return a.AsDurationNs() < b.AsDurationNs() ? -1
                                               : (a.AsDurationNs() > b.AsDurationNs() ? 1 : 0);
  }
  return InvalidArgument("cannot compare " + TypeName(a) + " and " + TypeName(b));
}

Value FromJson(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
    case Json::value_t::discarded:
    case Json::value_t::binary:
      return Value();
    case Json::value_t::boolean:
      return Value::Bool(j.get<bool>());
    case Json::value_t::number_integer:
      return Value::Int(j.get<int64_t>());
    case Json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value::Int(static_cast<int64_t>(u));
      return Value::Float(static_cast<double>(u));
    }
    case Json::value_t::number_float:
      return Value::Float(j.get<double>());
    case Json::value_t::string:
      return Value::String(j.get<std::string>());
    case Json::value_t::array: {
      Array a;
      a.reserve(j.size());
      for (const Json& e : j) a.push_back(FromJson(e));
      return Value::MakeArray(std::move(a));
    }
    case Json::value_t::object: {
      if (j.size() == 1) {
        auto it = j.find("$time");
        if (it != j.end() && it->is_string()) {
          auto t = ParseGoTime(kRfc3339, it->get_ref<const std::string&>());
          if (t.ok()) return Value::MakeTime(std::move(t).value());
        }
      }
      Map m;
      for (auto it = j.begin(); it != j.end(); ++it) m.emplace(it.key(), FromJson(it.value()));
      return Value::MakeMap(std::move(m));
    }
  }
  return Value();
}

Json ToJson(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNil:
    case Value::Kind::kFunction:
      return nullptr;
    case Value::Kind::kBool:
      return v.AsBool();
    case Value::Kind::kInt:
      return v.AsInt();
    case Value::Kind::kFloat:
      return v.AsFloat();
    case Value::Kind::kString:
      return v.AsString();
    case Value::Kind::kArray: {
      Json a = Json::array();
      for (const Value& e : v.AsArray()) a.push_back(ToJson(e));
      return a;
    }
    case Value::Kind::kMap: {
      Json o = Json::object();
      for (const auto& [k, e] : v.AsMap()) o[k] = ToJson(e);
      return o;
    }
    case Value::Kind::kTime:
      return Json{{"$time", FormatGoTime(v.AsTime(), kRfc3339Nano)}};
    case Value::Kind::kDuration:
      return FormatGoDurationNs(v.AsDurationNs());
  }
  return nullptr;
}

std::string FormatGoV(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNil:
      return "<nil>";
    case Value::Kind::kBool:
      return v.AsBool() ? "true" : "false";
    case Value::Kind::kInt:
      return std::to_string(v.AsInt());
    case Value::Kind::kFloat:
      return FormatFloatV(v.AsFloat());
    case Value::Kind::kString:
      return v.AsString();
    case Value::Kind::kArray: {
      std::string out = "[";
      bool first = true;
      for (const Value& e : v.AsArray()) {
        if (!first) out += ' ';
        first = false;
        out += FormatGoV(e);
      }
      return out + "]";
    }
    case Value::Kind::kMap: {
      std::string out = "map[";
      bool first = true;
      for (const auto& [k, e] : v.AsMap()) {
        if (!first) out += ' ';
        first = false;
        out += k;
        out += ':';
        out += FormatGoV(e);
      }
      return out + "]";
    }
    case Value::Kind::kTime:
      return GoTimeString(v.AsTime());
    case Value::Kind::kDuration:
      return FormatGoDurationNs(v.AsDurationNs());
    case Value::Kind::kFunction:
      return std::string("func ") + v.AsFunction()->name;
  }
  return "";
}

}  // namespace skiff::expr
