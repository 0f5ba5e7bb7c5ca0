// Go's time package, as far as expressions reach it: layout-based formatting and parsing
// ("2006-01-02T15:04:05Z07:00"), RFC 3339, `Time.String()`, and exact `time.ParseDuration` /
// `Duration.String()`. Only UTC and fixed offsets exist here (no time zone database), and
// "Local" is UTC, as it is in Argo's containers. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "engine/expr/value.h"

namespace skiff::expr {

// Go's time.Time.Format(layout).
std::string FormatGoTime(const Time& t, std::string_view layout);
// Go's time.Parse(layout, value); without a zone in the layout the result is UTC.
Result<Time> ParseGoTime(std::string_view layout, std::string_view value);

inline constexpr std::string_view kRfc3339 = "2006-01-02T15:04:05Z07:00";
inline constexpr std::string_view kRfc3339Nano = "2006-01-02T15:04:05.999999999Z07:00";

// Go's time.Time.String(): "2006-01-02 15:04:05.999999999 -0700 MST".
std::string GoTimeString(const Time& t);

Time TimeFromTimePoint(TimePoint tp);
// A UTC time from Unix seconds and nanoseconds (normalised).
Time UnixTime(int64_t sec, int64_t nsec);

// Nanoseconds from `a` to `b` (b - a), saturating like Go's Time.Sub.
int64_t TimeDiffNs(const Time& b, const Time& a);
// `t` plus `ns`, in the same zone.
Time TimeAdd(const Time& t, int64_t ns);

// Calendar fields of `t` in its own zone.
struct CivilTime {
  int64_t year;
  int month;    // 1..12
  int day;      // 1..31
  int hour, minute, second;
  int weekday;  // 0 = Sunday
  int yearday;  // 1..366
};
CivilTime ToCivil(const Time& t);

// Go's time.ParseDuration: "1h2m3.5s", "300ms", "-1.5h"; a bare number other than 0 is an error.
Result<int64_t> ParseGoDurationNs(std::string_view text);
// Go's Duration.String(): "1h0m0s", "1.5s", "2µs", "0s".
std::string FormatGoDurationNs(int64_t ns);

}  // namespace skiff::expr
