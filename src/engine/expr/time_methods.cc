// Methods of Go's time.Time and time.Duration that expressions call, e.g.
// `(now() - t).Seconds() > 360` or `t.Format("2006-01-02")`.
#include "engine/expr/builtins.h"
#include "engine/expr/go_time.h"

namespace skiff::expr {
namespace {

constexpr int64_t kNsPerSec = 1000000000;

Status NoArgs(std::string_view name, const std::vector<Value>& args) {
  if (args.empty()) return OkStatus();
  return InvalidArgument("method " + std::string(name) + " takes no arguments, got " +
                         std::to_string(args.size()));
}

Result<Time> TimeArg(std::string_view name, const std::vector<Value>& args) {
  if (args.size() != 1 || !args[0].is_time()) {
    return InvalidArgument("method " + std::string(name) + " expects one time.Time argument");
  }
  return args[0].AsTime();
}

// Go's Duration.Hours/Minutes/Seconds: whole units plus the remainder as a fraction.
double DurationIn(int64_t ns, int64_t unit) {
  return static_cast<double>(ns / unit) + static_cast<double>(ns % unit) / static_cast<double>(unit);
}

Result<Value> DurationMethod(int64_t ns, std::string_view name, const std::vector<Value>& args) {
  if (name == "Hours" || name == "Minutes" || name == "Seconds" || name == "Milliseconds" ||
      name == "Microseconds" || name == "Nanoseconds" || name == "String" || name == "Abs") {
    SKIFF_RETURN_IF_ERROR(NoArgs(name, args));
  }
  if (name == "Hours") return Value::Float(DurationIn(ns, 3600 * kNsPerSec));
  if (name == "Minutes") return Value::Float(DurationIn(ns, 60 * kNsPerSec));
  if (name == "Seconds") return Value::Float(DurationIn(ns, kNsPerSec));
  if (name == "Milliseconds") return Value::Int(ns / 1000000);
  if (name == "Microseconds") return Value::Int(ns / 1000);
  if (name == "Nanoseconds") return Value::Int(ns);
  if (name == "String") return Value::String(FormatGoDurationNs(ns));
  if (name == "Abs") return Value::MakeDuration(ns == INT64_MIN ? INT64_MAX : (ns < 0 ? -ns : ns));
  if (name == "Round" || name == "Truncate") {
    if (args.size() != 1 || !args[0].is_duration()) {
      return InvalidArgument("method " + std::string(name) + " expects one time.Duration argument");
    }
    int64_t m = args[0].AsDurationNs();
    if (m <= 0) return Value::MakeDuration(ns);
    int64_t r = ns % m;
    if (name == "Truncate") return Value::MakeDuration(ns - r);
    // Round half away from zero, as Go does (ignoring its overflow saturation).
    if (ns < 0) {
      r = -r;
      return Value::MakeDuration(r + r < m ? ns + r : ns + r - m);
    }
    return Value::MakeDuration(r + r < m ? ns - r : ns + (m - r));
  }
  return InvalidArgument("type time.Duration has no method " + std::string(name));
}

Result<Value> TimeMethod(const Time& t, std::string_view name, const std::vector<Value>& args) {
  static constexpr std::string_view kNullary[] = {
      "Unix", "UnixMilli", "UnixMicro", "UnixNano", "Year",    "Month",   "Day",
      "Hour", "Minute",    "Second",    "Nanosecond", "Weekday", "YearDay", "String",
      "UTC",  "Local",     "IsZero"};
  for (std::string_view n : kNullary) {
    if (n == name) SKIFF_RETURN_IF_ERROR(NoArgs(name, args));
  }
  CivilTime c = ToCivil(t);
  if (name == "Unix") return Value::Int(t.sec);
  if (name == "UnixMilli") return Value::Int(t.sec * 1000 + t.nsec / 1000000);
  if (name == "UnixMicro") return Value::Int(t.sec * 1000000 + t.nsec / 1000);
  if (name == "UnixNano") return Value::Int(t.sec * kNsPerSec + t.nsec);
  if (name == "Year") return Value::Int(c.year);
  if (name == "Month") return Value::Int(c.month);
  if (name == "Day") return Value::Int(c.day);
  if (name == "Hour") return Value::Int(c.hour);
  if (name == "Minute") return Value::Int(c.minute);
  if (name == "Second") return Value::Int(c.second);
  if (name == "Nanosecond") return Value::Int(t.nsec);
  if (name == "Weekday") return Value::Int(c.weekday);
  if (name == "YearDay") return Value::Int(c.yearday);
  if (name == "String") return Value::String(GoTimeString(t));
  if (name == "UTC" || name == "Local") {
    Time u = t;
    u.offset = 0;
    u.zone = "UTC";
    return Value::MakeTime(std::move(u));
  }
  if (name == "IsZero") return Value::Bool(t.sec == -62135596800LL && t.nsec == 0);
  if (name == "Format") {
    if (args.size() != 1 || !args[0].is_string()) {
      return InvalidArgument("method Format expects one string argument");
    }
    return Value::String(FormatGoTime(t, args[0].AsString()));
  }
  if (name == "Add") {
    if (args.size() != 1 || !args[0].is_duration()) {
      return InvalidArgument("method Add expects one time.Duration argument");
    }
    return Value::MakeTime(TimeAdd(t, args[0].AsDurationNs()));
  }
  if (name == "Sub") {
    SKIFF_ASSIGN_OR_RETURN(Time u, TimeArg(name, args));
    return Value::MakeDuration(TimeDiffNs(t, u));
  }
  if (name == "Before" || name == "After" || name == "Equal") {
    SKIFF_ASSIGN_OR_RETURN(Time u, TimeArg(name, args));
    int64_t d = TimeDiffNs(t, u);
    if (name == "Before") return Value::Bool(d < 0);
    if (name == "After") return Value::Bool(d > 0);
    return Value::Bool(d == 0);
  }
  return InvalidArgument("type time.Time has no method " + std::string(name));
}

}  // namespace

Result<Value> CallTimeMethod(const CallContext& ctx, const Value& receiver, std::string_view name,
                             const std::vector<Value>& args) {
  (void)ctx;
  if (receiver.is_duration()) return DurationMethod(receiver.AsDurationNs(), name, args);
  if (receiver.is_time()) return TimeMethod(receiver.AsTime(), name, args);
  return InvalidArgument("type " + TypeName(receiver) + " has no method " + std::string(name));
}

}  // namespace skiff::expr
