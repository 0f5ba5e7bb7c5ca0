#include "common/clock.h"

#include <cmath>
#include <cstdio>
#include <ctime>

namespace skiff {

SystemClock& SystemClock::Get() {
  static SystemClock clock;
  return clock;
}

std::string FormatRfc3339(TimePoint t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::seconds>(t));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

Result<TimePoint> ParseRfc3339(std::string_view text) {
  std::string s(text);
  int y, mo, d, h, mi;
  double sec;
  int n = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%lf%n", &y, &mo, &d, &h, &mi, &sec, &n) < 6) {
    return InvalidArgument("invalid RFC 3339 time \"" + s + "\"");
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = 0;
  std::time_t base = timegm(&tm);
  long offset = 0;
  std::string rest = s.substr(static_cast<size_t>(n));
  if (!rest.empty() && rest != "Z" && rest != "z") {
    int oh = 0, om = 0;
    char sign = rest[0];
    if ((sign != '+' && sign != '-') || std::sscanf(rest.c_str() + 1, "%2d:%2d", &oh, &om) != 2) {
      return InvalidArgument("invalid RFC 3339 offset in \"" + s + "\"");
    }
    offset = (oh * 3600L + om * 60L) * (sign == '+' ? 1 : -1);
  }
  auto whole = std::chrono::seconds(base - offset);
  auto frac = std::chrono::duration_cast<TimePoint::duration>(std::chrono::duration<double>(sec));
  return TimePoint(whole) + frac;
}

Result<Duration> ParseGoDuration(std::string_view text) {
  std::string s(text);
  if (s.empty()) return InvalidArgument("empty duration");
  // Bare number: seconds.
  {
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end != nullptr && *end == '\0') {
      return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(v));
    }
  }
  size_t i = 0;
  bool neg = false;
  if (s[i] == '-' || s[i] == '+') {
    neg = s[i] == '-';
    ++i;
  }
  if (s.substr(i) == "0") return Duration(0);
  double total_ns = 0;
  bool any = false;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
    if (start == i) return InvalidArgument("invalid duration \"" + s + "\"");
    double v = std::strtod(s.substr(start, i - start).c_str(), nullptr);
    size_t ustart = i;
    while (i < s.size() && !((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
    std::string unit = s.substr(ustart, i - ustart);
    double mult;
    if (unit == "ns") mult = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") mult = 1e3;
    else if (unit == "ms") mult = 1e6;
    else if (unit == "s") mult = 1e9;
    else if (unit == "m") mult = 60e9;
    else if (unit == "h") mult = 3600e9;
    else return InvalidArgument("invalid duration \"" + s + "\": unknown unit \"" + unit + "\"");
    total_ns += v * mult;
    any = true;
  }
  if (!any) return InvalidArgument("invalid duration \"" + s + "\"");
  return Duration(static_cast<int64_t>(std::llround(neg ? -total_ns : total_ns)));
}

std::string FormatGoDuration(Duration d) {
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  uint64_t u = static_cast<uint64_t>(ns < 0 ? -ns : ns);
  char buf[64];
  if (u < 1000000000ULL) {
    if (u < 1000ULL) {
      std::snprintf(buf, sizeof buf, "%lluns", static_cast<unsigned long long>(u));
    } else if (u < 1000000ULL) {
      std::snprintf(buf, sizeof buf, "%gµs", static_cast<double>(u) / 1e3);
    } else {
      std::snprintf(buf, sizeof buf, "%gms", static_cast<double>(u) / 1e6);
    }
    return sign + buf;
  }
  uint64_t h = u / 3600000000000ULL;
  u %= 3600000000000ULL;
  uint64_t m = u / 60000000000ULL;
  u %= 60000000000ULL;
  double s = static_cast<double>(u) / 1e9;
  std::string out = sign;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  std::snprintf(buf, sizeof buf, "%.9g", s);
  out += buf;
  out += "s";
  return out;
}

}  // namespace skiff
