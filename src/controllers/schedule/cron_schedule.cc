#include "controllers/schedule/cron_schedule.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <optional>
#include <vector>

namespace skiff::controllers {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.push_back(
        s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) return out;
    start = p + 1;
  }
}

std::optional<int> ParseNumberOrName(std::string_view s, const char* const* names, int names_base) {
  if (s.empty()) return std::nullopt;
  if (names != nullptr) {
    std::string l = Lower(s);
    for (int i = 0; names[i] != nullptr; ++i) {
      if (l == names[i]) return i + names_base;
    }
  }
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9' || v > 1000) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",  "jul",
                                       "aug", "sep", "oct", "nov", "dec", nullptr};
constexpr const char* kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", nullptr};

// Parses one field into `bits` (values lo..hi). `star` is set when the field starts with * or ?.
template <size_t N>
Status ParseField(std::string_view field, int lo, int hi, const char* const* names, int names_base,
                  std::bitset<N>* bits, bool* star, const char* what) {
  if (field.empty()) return InvalidArgument(std::string("empty ") + what + " field");
  if (star != nullptr) *star = field[0] == '*' || field[0] == '?';
  for (std::string_view part : Split(field, ',')) {
    std::string_view range = part;
    int step = 1;
    size_t slash = part.find('/');
    if (slash != std::string_view::npos) {
      auto s = ParseNumberOrName(part.substr(slash + 1), nullptr, 0);
      if (!s || *s <= 0)
        return InvalidArgument(std::string("bad step in ") + what + " field \"" +
                               std::string(field) + "\"");
      step = *s;
      range = part.substr(0, slash);
    }
    int a = lo, b = hi;
    if (range == "*" || range == "?") {
      // the whole range
    } else {
      size_t dash = range.find('-');
      auto first = ParseNumberOrName(range.substr(0, dash), names, names_base);
      if (!first)
        return InvalidArgument(std::string("bad value in ") + what + " field \"" +
                               std::string(field) + "\"");
      a = *first;
      if (dash != std::string_view::npos) {
        auto last = ParseNumberOrName(range.substr(dash + 1), names, names_base);
        if (!last)
          return InvalidArgument(std::string("bad value in ") + what + " field \"" +
                                 std::string(field) + "\"");
        b = *last;
      } else {
        b = slash != std::string_view::npos ? hi : a;  // "5/15" means 5-max/15
      }
    }
    if (a < lo || b > hi || a > b) {
      return InvalidArgument(std::string(what) + " field \"" + std::string(field) +
                             "\" is out of range " + std::to_string(lo) + "-" + std::to_string(hi));
    }
    for (int v = a; v <= b; v += step) bits->set(static_cast<size_t>(v));
  }
  return OkStatus();
}

// Civil (wall-clock) date arithmetic, after Howard Hinnant's algorithms.
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int DaysInMonth(int64_t y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return kDays[m - 1];
}

int Weekday(int64_t y, int m, int d) {
  int64_t days = DaysFromCivil(y, m, d);
  return static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday (4)
}

struct Civil {
  int64_t year;
  int month, day, hour, minute;
};

std::mutex& TzMutex() {
  static std::mutex mu;
  return mu;
}

// Sets TZ for its lifetime (under the mutex) and converts between instants and civil times.
class ZoneScope {
 public:
  explicit ZoneScope(const std::string& tz) : lock_(TzMutex()), tz_(tz) {
    if (tz_.empty()) return;
    const char* old = std::getenv("TZ");
    had_old_ = old != nullptr;
    if (had_old_) old_ = old;
    ::setenv("TZ", tz_ == "UTC" || tz_ == "Etc/UTC" ? "UTC0" : (":" + tz_).c_str(), 1);
    ::tzset();
  }
  ~ZoneScope() {
    if (tz_.empty()) return;
    if (had_old_) {
      ::setenv("TZ", old_.c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }
  ZoneScope(const ZoneScope&) = delete;
  ZoneScope& operator=(const ZoneScope&) = delete;

  Civil ToCivil(int64_t unix_seconds) const {
    time_t t = static_cast<time_t>(unix_seconds);
    struct tm tm {};
    ::localtime_r(&t, &tm);
    return {tm.tm_year + 1900LL, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min};
  }
  int64_t ToUnix(const Civil& c) const {
    struct tm tm {};
    tm.tm_year = static_cast<int>(c.year - 1900);
    tm.tm_mon = c.month - 1;
    tm.tm_mday = c.day;
    tm.tm_hour = c.hour;
    tm.tm_min = c.minute;
    tm.tm_isdst = -1;
    return static_cast<int64_t>(::mktime(&tm));
  }

 private:
  std::lock_guard<std::mutex> lock_;
  std::string tz_;
  bool had_old_ = false;
  std::string old_;
};

}  // namespace

Status ValidateTimeZone(std::string_view timezone) {
  if (timezone.empty() || timezone == "UTC" || timezone == "Etc/UTC") return OkStatus();
  std::string tz(timezone);
  if (tz.find("..") != std::string::npos || tz[0] == '/' || tz[0] == ':') {
    return InvalidArgument("unknown time zone " + tz);
  }
  const char* dir = std::getenv("TZDIR");
  std::string path =
      std::string(dir != nullptr && *dir != '\0' ? dir : "/usr/share/zoneinfo") + "/" + tz;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return InvalidArgument("unknown time zone " + tz);
  return OkStatus();
}

Result<CronSchedule> CronSchedule::Parse(std::string_view expr, std::string_view timezone) {
  SKIFF_RETURN_IF_ERROR(ValidateTimeZone(timezone));
  CronSchedule s;
  s.timezone_ = std::string(timezone);
  std::string e(expr);
  while (!e.empty() && std::isspace(static_cast<unsigned char>(e.back()))) e.pop_back();
  while (!e.empty() && std::isspace(static_cast<unsigned char>(e.front()))) e.erase(0, 1);
  if (e.rfind("@every", 0) == 0) {
    std::string d = e.substr(6);
    while (!d.empty() && d.front() == ' ') d.erase(0, 1);
    auto dur = ParseGoDuration(d);
    if (!dur.ok() || *dur <= Duration(0)) return InvalidArgument("failed to parse duration " + e);
    s.every_ = std::max<Duration>(std::chrono::duration_cast<Seconds>(*dur), Seconds(1));
    return s;
  }
  static const std::pair<const char*, const char*> kDescriptors[] = {
      {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"}};
  if (!e.empty() && e[0] == '@') {
    bool found = false;
    for (const auto& [name, value] : kDescriptors) {
      if (Lower(e) == name) {
        e = value;
        found = true;
      }
    }
    if (!found) return InvalidArgument("unrecognized descriptor: " + e);
  }
  std::vector<std::string> fields;
  std::string cur;
  for (char c : e) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!cur.empty()) fields.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) fields.push_back(std::move(cur));
  if (fields.size() != 5) {
    return InvalidArgument("expected exactly 5 fields, found " + std::to_string(fields.size()) +
                           ": " + std::string(expr));
  }
  SKIFF_RETURN_IF_ERROR(ParseField(fields[0], 0, 59, nullptr, 0, &s.minutes_, nullptr, "minute"));
  SKIFF_RETURN_IF_ERROR(ParseField(fields[1], 0, 23, nullptr, 0, &s.hours_, nullptr, "hour"));
  SKIFF_RETURN_IF_ERROR(
      ParseField(fields[2], 1, 31, nullptr, 0, &s.days_, &s.days_star_, "day-of-month"));
  SKIFF_RETURN_IF_ERROR(ParseField(fields[3], 1, 12, kMonthNames, 1, &s.months_, nullptr, "month"));
  std::bitset<8> dow;
  SKIFF_RETURN_IF_ERROR(
      ParseField(fields[4], 0, 7, kDayNames, 0, &dow, &s.weekdays_star_, "day-of-week"));
  for (size_t i = 0; i < 7; ++i) s.weekdays_[i] = dow[i];
  if (dow[7]) s.weekdays_[0] = true;
  return s;
}

TimePoint CronSchedule::Next(TimePoint t) const {
  int64_t after = std::chrono::duration_cast<Seconds>(t.time_since_epoch()).count();
  if (t.time_since_epoch() < Duration(0) && Seconds(after) != t.time_since_epoch())
    --after;  // floor
  if (every_ > Duration(0)) {
    return TimePoint(Seconds(after) + std::chrono::duration_cast<Seconds>(every_));
  }
  ZoneScope zone(timezone_);
  // Start at the next whole minute of local wall-clock time.
  Civil c = zone.ToCivil(after);
  auto day_matches = [&](const Civil& x) {
    bool dom = days_[static_cast<size_t>(x.day)];
    bool dow = weekdays_[static_cast<size_t>(Weekday(x.year, x.month, x.day))];
    return days_star_ || weekdays_star_ ? dom && dow : dom || dow;
  };
  auto normalize = [](Civil& x) {
    if (x.minute >= 60) {
      x.minute = 0;
      ++x.hour;
    }
    if (x.hour >= 24) {
      x.hour = 0;
      ++x.day;
    }
    if (x.month <= 12 && x.day > DaysInMonth(x.year, x.month)) {
      x.day = 1;
      ++x.month;
    }
    if (x.month > 12) {
      x.month = 1;
      ++x.year;
    }
  };
  ++c.minute;
  normalize(c);
  const int64_t year_limit = c.year + 5;
  while (c.year <= year_limit) {
    if (!months_[static_cast<size_t>(c.month)]) {
      ++c.month;
      c.day = 1, c.hour = 0, c.minute = 0;
      normalize(c);
      continue;
    }
    if (!day_matches(c)) {
      c.day += 1;
      c.hour = 0, c.minute = 0;
      if (c.day > DaysInMonth(c.year, c.month)) normalize(c);
      continue;
    }
    if (!hours_[static_cast<size_t>(c.hour)]) {
      ++c.hour;
      c.minute = 0;
      normalize(c);
      continue;
    }
    if (!minutes_[static_cast<size_t>(c.minute)]) {
      ++c.minute;
      normalize(c);
      continue;
    }
    int64_t unix = zone.ToUnix(c);
    if (unix > after) return TimePoint(Seconds(unix));
    // The wall-clock time maps to an instant not after `t` (the repeated hour when clocks go
    // back): look further.
    ++c.minute;
    normalize(c);
  }
  return TimePoint::max();
}

}  // namespace skiff::controllers
