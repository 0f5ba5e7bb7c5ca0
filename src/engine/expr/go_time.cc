#include "engine/expr/go_time.h"

#include <cstdio>

namespace skiff::expr {
namespace {

constexpr int64_t kNsPerSec = 1000000000;
constexpr const char* kShortMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr const char* kLongMonths[] = {"January", "February", "March",     "April",
                                       "May",     "June",     "July",      "August",
                                       "September", "October", "November", "December"};
constexpr const char* kShortDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kLongDays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                     "Thursday", "Friday", "Saturday"};

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2 ? 1 : 0);
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysIn(int m, int64_t y) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Layout elements, as Go's time package names them.
enum class Std {
  kNone,
  kLongMonth, kMonth, kNumMonth, kZeroMonth,
  kLongWeekDay, kWeekDay,
  kDay, kUnderDay, kZeroDay, kUnderYearDay, kZeroYearDay,
  kHour, kHour12, kZeroHour12,
  kMinute, kZeroMinute, kSecond, kZeroSecond,
  kLongYear, kYear,
  kPM, kpm,
  kTZ,
  kISO8601TZ, kISO8601SecondsTZ, kISO8601ShortTZ, kISO8601ColonTZ, kISO8601ColonSecondsTZ,
  kNumTZ, kNumSecondsTz, kNumShortTZ, kNumColonTZ, kNumColonSecondsTZ,
  kFracSecond0, kFracSecond9,
};

struct Chunk {
  std::string_view prefix;  // literal text before the element
  Std std = Std::kNone;
  int frac_digits = 0;      // for kFracSecond*
  char frac_sep = '.';
  std::string_view suffix;  // the rest of the layout
};

bool StartsWith(std::string_view s, size_t i, std::string_view p) {
  return s.substr(i, p.size()) == p;
}

// Go's nextStdChunk: finds the first layout element in `layout`.
Chunk NextChunk(std::string_view layout) {
  auto found = [&](size_t i, Std std, size_t len) {
    Chunk c;
    c.prefix = layout.substr(0, i);
    c.std = std;
    c.suffix = layout.substr(i + len);
    return c;
  };
  for (size_t i = 0; i < layout.size(); ++i) {
    char c = layout[i];
    switch (c) {
      case 'J':
        if (StartsWith(layout, i, "Jan")) {
          if (StartsWith(layout, i, "January")) return found(i, Std::kLongMonth, 7);
          return found(i, Std::kMonth, 3);
        }
        break;
      case 'M':
        if (StartsWith(layout, i, "Mon")) {
          if (StartsWith(layout, i, "Monday")) return found(i, Std::kLongWeekDay, 6);
          return found(i, Std::kWeekDay, 3);
        }
        if (StartsWith(layout, i, "MST")) return found(i, Std::kTZ, 3);
        break;
      case '0':
        if (i + 1 < layout.size() && layout[i + 1] >= '1' && layout[i + 1] <= '6') {
          static const Std k0x[] = {Std::kZeroMonth,  Std::kZeroDay,    Std::kZeroHour12,
                                    Std::kZeroMinute, Std::kZeroSecond, Std::kYear};
          return found(i, k0x[layout[i + 1] - '1'], 2);
        }
        if (StartsWith(layout, i, "002")) return found(i, Std::kZeroYearDay, 3);
        break;
      case '1':
        if (i + 1 < layout.size() && layout[i + 1] == '5') return found(i, Std::kHour, 2);
        return found(i, Std::kNumMonth, 1);
      case '2':
        if (StartsWith(layout, i, "2006")) return found(i, Std::kLongYear, 4);
        return found(i, Std::kDay, 1);
      case '_':
        if (i + 1 < layout.size() && layout[i + 1] == '2') {
          // "_2006" is a literal '_' followed by the long year.
          if (StartsWith(layout, i + 1, "2006")) return found(i + 1, Std::kLongYear, 4);
          return found(i, Std::kUnderDay, 2);
        }
        if (StartsWith(layout, i, "__2")) return found(i, Std::kUnderYearDay, 3);
        break;
      case '3':
        return found(i, Std::kHour12, 1);
      case '4':
        return found(i, Std::kMinute, 1);
      case '5':
        return found(i, Std::kSecond, 1);
      case 'P':
        if (StartsWith(layout, i, "PM")) return found(i, Std::kPM, 2);
        break;
      case 'p':
        if (StartsWith(layout, i, "pm")) return found(i, Std::kpm, 2);
        break;
      case '-':
        if (StartsWith(layout, i, "-070000")) return found(i, Std::kNumSecondsTz, 7);
        if (StartsWith(layout, i, "-07:00:00")) return found(i, Std::kNumColonSecondsTZ, 9);
        if (StartsWith(layout, i, "-0700")) return found(i, Std::kNumTZ, 5);
        if (StartsWith(layout, i, "-07:00")) return found(i, Std::kNumColonTZ, 6);
        if (StartsWith(layout, i, "-07")) return found(i, Std::kNumShortTZ, 3);
        break;
      case 'Z':
        if (StartsWith(layout, i, "Z070000")) return found(i, Std::kISO8601SecondsTZ, 7);
        if (StartsWith(layout, i, "Z07:00:00")) return found(i, Std::kISO8601ColonSecondsTZ, 9);
        if (StartsWith(layout, i, "Z0700")) return found(i, Std::kISO8601TZ, 5);
        if (StartsWith(layout, i, "Z07:00")) return found(i, Std::kISO8601ColonTZ, 6);
        if (StartsWith(layout, i, "Z07")) return found(i, Std::kISO8601ShortTZ, 3);
        break;
      case '.':
      case ',':
        if (i + 1 < layout.size() && (layout[i + 1] == '0' || layout[i + 1] == '9')) {
          char ch = layout[i + 1];
          size_t j = i + 1;
          while (j < layout.size() && layout[j] == ch) ++j;
          if (!(j < layout.size() && layout[j] >= '0' && layout[j] <= '9')) {
            Chunk chunk = found(i, ch == '0' ? Std::kFracSecond0 : Std::kFracSecond9, j - i);
            chunk.frac_digits = static_cast<int>(j - (i + 1));
            chunk.frac_sep = c;
            return chunk;
          }
        }
        break;
      default:
        break;
    }
  }
  Chunk c;
  c.prefix = layout;
  return c;
}

void AppendInt(std::string& out, int64_t v, int width, char pad = '0') {
  std::string digits = std::to_string(v < 0 ? -v : v);
  if (v < 0) out += '-';
  for (int i = static_cast<int>(digits.size()); i < width; ++i) out += pad;
  out += digits;
}

bool IsIsoTz(Std s) {
  return s == Std::kISO8601TZ || s == Std::kISO8601SecondsTZ || s == Std::kISO8601ShortTZ ||
         s == Std::kISO8601ColonTZ || s == Std::kISO8601ColonSecondsTZ;
}

bool IsNumTz(Std s) {
  return IsIsoTz(s) || s == Std::kNumTZ || s == Std::kNumSecondsTz || s == Std::kNumShortTZ ||
         s == Std::kNumColonTZ || s == Std::kNumColonSecondsTZ;
}

bool IsDigit(std::string_view s, size_t i) { return i < s.size() && s[i] >= '0' && s[i] <= '9'; }

// Go's getnum: one or two digits (exactly two when `fixed`).
bool GetNum(std::string_view& s, bool fixed, int* out) {
  if (!IsDigit(s, 0)) return false;
  if (!IsDigit(s, 1)) {
    if (fixed) return false;
    *out = s[0] - '0';
    s.remove_prefix(1);
    return true;
  }
  *out = (s[0] - '0') * 10 + (s[1] - '0');
  s.remove_prefix(2);
  return true;
}

std::string_view CutSpace(std::string_view s) {
  while (!s.empty() && s[0] == ' ') s.remove_prefix(1);
  return s;
}

// Go's skip: removes `prefix` from `value`, treating runs of spaces as equivalent.
bool Skip(std::string_view& value, std::string_view prefix) {
  while (!prefix.empty()) {
    if (prefix[0] == ' ') {
      if (!value.empty() && value[0] != ' ') return false;
      prefix = CutSpace(prefix);
      value = CutSpace(value);
      continue;
    }
    if (value.empty() || value[0] != prefix[0]) return false;
    prefix.remove_prefix(1);
    value.remove_prefix(1);
  }
  return true;
}

// Matches one of `names` at the start of `value`, case-insensitively; returns its index or -1.
int Lookup(const char* const* names, int n, std::string_view& value) {
  for (int i = 0; i < n; ++i) {
    std::string_view name = names[i];
    if (value.size() < name.size()) continue;
    bool match = true;
    for (size_t k = 0; k < name.size(); ++k) {
      char a = value[k];
      char b = name[k];
      if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
      if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
      if (a != b) {
        match = false;
        break;
      }
    }
    if (match) {
      value.remove_prefix(name.size());
      return i;
    }
  }
  return -1;
}

// Parses `n` characters of value ("." or "," then digits) as nanoseconds.
bool ParseNanos(std::string_view value, size_t n, int* nsec) {
  if (n < 2 || (value[0] != '.' && value[0] != ',')) return false;
  if (n > 10) n = 10;  // Go truncates to nanoseconds after validating digits.
  int64_t ns = 0;
  size_t i = 1;
  for (; i < n; ++i) {
    if (!IsDigit(value, i)) return false;
    ns = ns * 10 + (value[i] - '0');
  }
  for (; i < 10; ++i) ns *= 10;
  *nsec = static_cast<int>(ns);
  return true;
}

}  // namespace

CivilTime ToCivil(const Time& t) {
  int64_t local = t.sec + t.offset;
  int64_t days = FloorDiv(local, 86400);
  int64_t secs = local - days * 86400;
  CivilTime c{};
  CivilFromDays(days, &c.year, &c.month, &c.day);
  c.hour = static_cast<int>(secs / 3600);
  c.minute = static_cast<int>(secs / 60 % 60);
  c.second = static_cast<int>(secs % 60);
  c.weekday = static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday (4).
  c.yearday = static_cast<int>(days - DaysFromCivil(c.year, 1, 1) + 1);
  return c;
}

std::string FormatGoTime(const Time& t, std::string_view layout) {
  CivilTime c = ToCivil(t);
  std::string out;
  while (!layout.empty()) {
    Chunk chunk = NextChunk(layout);
    out += chunk.prefix;
    if (chunk.std == Std::kNone) break;
    layout = chunk.suffix;
    switch (chunk.std) {
      case Std::kYear:
        AppendInt(out, ((c.year % 100) + 100) % 100, 2);
        break;
      case Std::kLongYear:
        AppendInt(out, c.year, 4);
        break;
      case Std::kMonth:
        out += kShortMonths[c.month - 1];
        break;
      case Std::kLongMonth:
        out += kLongMonths[c.month - 1];
        break;
      case Std::kNumMonth:
        AppendInt(out, c.month, 0);
        break;
      case Std::kZeroMonth:
        AppendInt(out, c.month, 2);
        break;
      case Std::kWeekDay:
        out += kShortDays[c.weekday];
        break;
      case Std::kLongWeekDay:
        out += kLongDays[c.weekday];
        break;
      case Std::kDay:
        AppendInt(out, c.day, 0);
        break;
      case Std::kUnderDay:
        AppendInt(out, c.day, 2, ' ');
        break;
      case Std::kZeroDay:
        AppendInt(out, c.day, 2);
        break;
      case Std::kUnderYearDay:
        AppendInt(out, c.yearday, 3, ' ');
        break;
      case Std::kZeroYearDay:
        AppendInt(out, c.yearday, 3);
        break;
      case Std::kHour:
        AppendInt(out, c.hour, 2);
        break;
      case Std::kHour12:
        AppendInt(out, c.hour % 12 == 0 ? 12 : c.hour % 12, 0);
        break;
      case Std::kZeroHour12:
        AppendInt(out, c.hour % 12 == 0 ? 12 : c.hour % 12, 2);
        break;
      case Std::kMinute:
        AppendInt(out, c.minute, 0);
        break;
      case Std::kZeroMinute:
        AppendInt(out, c.minute, 2);
        break;
      case Std::kSecond:
        AppendInt(out, c.second, 0);
        break;
      case Std::kZeroSecond:
        AppendInt(out, c.second, 2);
        break;
      case Std::kPM:
        out += c.hour >= 12 ? "PM" : "AM";
        break;
      case Std::kpm:
        out += c.hour >= 12 ? "pm" : "am";
        break;
      case Std::kTZ:
        if (!t.zone.empty()) {
          out += t.zone;
        } else {
          int zone = t.offset / 60;
          out += zone < 0 ? '-' : '+';
          if (zone < 0) zone = -zone;
          AppendInt(out, zone / 60, 2);
          AppendInt(out, zone % 60, 2);
        }
        break;
      case Std::kFracSecond0:
      case Std::kFracSecond9: {
        std::string digits = std::to_string(t.nsec);
        digits.insert(0, 9 - digits.size(), '0');
        digits.resize(static_cast<size_t>(chunk.frac_digits > 9 ? 9 : chunk.frac_digits));
        if (chunk.std == Std::kFracSecond9) {
          while (!digits.empty() && digits.back() == '0') digits.pop_back();
          if (digits.empty()) break;
        }
        out += chunk.frac_sep;
        out += digits;
        break;
      }
      default:
        if (IsNumTz(chunk.std)) {
          if (t.offset == 0 && IsIsoTz(chunk.std)) {
            out += 'Z';
            break;
          }
          int zone = t.offset / 60;
          int absoffset = t.offset;
          if (zone < 0) {
            out += '-';
            zone = -zone;
            absoffset = -absoffset;
          } else {
            out += '+';
          }
          AppendInt(out, zone / 60, 2);
          bool colon = chunk.std == Std::kISO8601ColonTZ || chunk.std == Std::kNumColonTZ ||
                       chunk.std == Std::kISO8601ColonSecondsTZ ||
                       chunk.std == Std::kNumColonSecondsTZ;
          if (colon) out += ':';
          if (chunk.std != Std::kNumShortTZ && chunk.std != Std::kISO8601ShortTZ) {
            AppendInt(out, zone % 60, 2);
          }
          if (chunk.std == Std::kISO8601SecondsTZ || chunk.std == Std::kNumSecondsTz ||
              chunk.std == Std::kNumColonSecondsTZ || chunk.std == Std::kISO8601ColonSecondsTZ) {
            if (colon) out += ':';
            AppendInt(out, absoffset % 60, 2);
          }
        }
        break;
    }
  }
  return out;
}

Result<Time> ParseGoTime(std::string_view layout, std::string_view value) {
  const std::string orig_layout(layout);
  const std::string orig_value(value);
  auto bad = [&](std::string_view elem, std::string_view rest) {
    return InvalidArgument("parsing time \"" + orig_value + "\" as \"" + orig_layout +
                           "\": cannot parse \"" + std::string(rest) + "\" as \"" +
                           std::string(elem) + "\"");
  };
  int64_t year = 1;
  int month = -1, day = -1, yday = -1;
  int hour = 0, minute = 0, second = 0, nsec = 0;
  bool pm_set = false, am_set = false;
  bool zone_set = false;
  int32_t offset = 0;
  std::string zone_name;

  while (true) {
    Chunk chunk = NextChunk(layout);
    std::string_view elem = layout.substr(chunk.prefix.size(),
                                          layout.size() - chunk.prefix.size() -
                                              chunk.suffix.size());
    std::string_view before = value;
    if (!Skip(value, chunk.prefix)) return bad(chunk.prefix, before);
    if (chunk.std == Std::kNone) {
      if (!value.empty()) {
        return InvalidArgument("parsing time \"" + orig_value + "\": extra text: \"" +
                               std::string(value) + "\"");
      }
      break;
    }
    layout = chunk.suffix;
    std::string_view hold = value;
    bool ok = true;
    switch (chunk.std) {
      case Std::kYear: {
        int v = 0;
        ok = value.size() >= 2 && GetNum(value, true, &v);
        year = v >= 69 ? 1900 + v : 2000 + v;
        break;
      }
      case Std::kLongYear:
        ok = value.size() >= 4 && IsDigit(value, 0) && IsDigit(value, 1) && IsDigit(value, 2) &&
             IsDigit(value, 3);
        if (ok) {
          year = std::stoi(std::string(value.substr(0, 4)));
          value.remove_prefix(4);
        }
        break;
      case Std::kMonth:
        month = Lookup(kShortMonths, 12, value) + 1;
        ok = month > 0;
        break;
      case Std::kLongMonth:
        month = Lookup(kLongMonths, 12, value) + 1;
        ok = month > 0;
        break;
      case Std::kNumMonth:
      case Std::kZeroMonth:
        ok = GetNum(value, chunk.std == Std::kZeroMonth, &month) && month >= 1 && month <= 12;
        break;
      case Std::kWeekDay:
        ok = Lookup(kShortDays, 7, value) >= 0;
        break;
      case Std::kLongWeekDay:
        ok = Lookup(kLongDays, 7, value) >= 0;
        break;
      case Std::kDay:
      case Std::kUnderDay:
      case Std::kZeroDay:
        if (chunk.std == Std::kUnderDay && !value.empty() && value[0] == ' ') {
          value.remove_prefix(1);
        }
        ok = GetNum(value, chunk.std == Std::kZeroDay, &day);
        break;
      case Std::kUnderYearDay:
      case Std::kZeroYearDay: {
        for (int i = 0; i < 2; ++i) {
          if (chunk.std == Std::kUnderYearDay && !value.empty() && value[0] == ' ') {
            value.remove_prefix(1);
          }
        }
        int n = 0;
        size_t k = 0;
        while (k < 3 && IsDigit(value, k)) n = n * 10 + (value[k++] - '0');
        ok = k > 0 && (chunk.std == Std::kUnderYearDay || k == 3) && n >= 1 && n <= 366;
        value.remove_prefix(k);
        yday = n;
        break;
      }
      case Std::kHour:
        ok = GetNum(value, false, &hour) && hour < 24;
        break;
      case Std::kHour12:
      case Std::kZeroHour12:
        ok = GetNum(value, chunk.std == Std::kZeroHour12, &hour) && hour <= 12;
        break;
      case Std::kMinute:
      case Std::kZeroMinute:
        ok = GetNum(value, chunk.std == Std::kZeroMinute, &minute) && minute < 60;
        break;
      case Std::kSecond:
      case Std::kZeroSecond: {
        ok = GetNum(value, chunk.std == Std::kZeroSecond, &second) && second < 60;
        // A fractional second in the value but not in the layout is accepted, as in Go.
        if (ok && value.size() >= 2 && (value[0] == '.' || value[0] == ',') &&
            IsDigit(value, 1)) {
          Chunk next = NextChunk(layout);
          if (next.std == Std::kFracSecond0 || next.std == Std::kFracSecond9) break;
          size_t n = 2;
          while (IsDigit(value, n)) ++n;
          ok = ParseNanos(value, n, &nsec);
          value.remove_prefix(n);
        }
        break;
      }
      case Std::kPM:
      case Std::kpm: {
        std::string_view p = value.substr(0, 2);
        bool upper = chunk.std == Std::kPM;
        if (p == (upper ? "PM" : "pm")) {
          pm_set = true;
        } else if (p == (upper ? "AM" : "am")) {
          am_set = true;
        } else {
          ok = false;
        }
        if (ok) value.remove_prefix(2);
        break;
      }
      case Std::kTZ: {
        if (value.substr(0, 3) == "UTC") {
          value.remove_prefix(3);
          zone_set = true;
          offset = 0;
          zone_name = "UTC";
          break;
        }
        size_t n = 0;
        while (n < value.size() && value[n] >= 'A' && value[n] <= 'Z') ++n;
        ok = n >= 3 && n <= 5;
        if (ok) {
          // Unknown abbreviations get a zero offset, as Go's Parse does.
          zone_name = std::string(value.substr(0, n));
          zone_set = true;
          offset = 0;
          value.remove_prefix(n);
        }
        break;
      }
      case Std::kFracSecond0: {
        size_t ndigit = 1 + static_cast<size_t>(chunk.frac_digits);
        ok = value.size() >= ndigit && ParseNanos(value, ndigit, &nsec);
        if (ok) value.remove_prefix(ndigit);
        break;
      }
      case Std::kFracSecond9: {
        if (value.size() < 2 || (value[0] != '.' && value[0] != ',') || !IsDigit(value, 1)) {
          break;  // Fractional second omitted.
        }
        size_t i = 0;
        while (IsDigit(value, i + 1)) ++i;
        ok = ParseNanos(value, 1 + i, &nsec);
        if (ok) value.remove_prefix(1 + i);
        break;
      }
      default: {
        if (!IsNumTz(chunk.std)) break;
        if (IsIsoTz(chunk.std) && !value.empty() && value[0] == 'Z') {
          value.remove_prefix(1);
          zone_set = true;
          offset = 0;
          zone_name = "UTC";
          break;
        }
        std::string_view hh, mm = "00", ss = "00";
        Std s = chunk.std;
        auto need = [&](size_t n) { return value.size() >= n; };
        if (s == Std::kNumColonTZ || s == Std::kISO8601ColonTZ) {
          ok = need(6) && value[3] == ':';
          if (ok) hh = value.substr(1, 2), mm = value.substr(4, 2);
          if (ok) value = hold.substr(6);
        } else if (s == Std::kNumShortTZ || s == Std::kISO8601ShortTZ) {
          ok = need(3);
          if (ok) hh = value.substr(1, 2), value = hold.substr(3);
        } else if (s == Std::kNumColonSecondsTZ || s == Std::kISO8601ColonSecondsTZ) {
          ok = need(9) && value[3] == ':' && value[6] == ':';
          if (ok) hh = value.substr(1, 2), mm = value.substr(4, 2), ss = value.substr(7, 2);
          if (ok) value = hold.substr(9);
        } else if (s == Std::kNumSecondsTz || s == Std::kISO8601SecondsTZ) {
          ok = need(7);
          if (ok) hh = value.substr(1, 2), mm = value.substr(3, 2), ss = value.substr(5, 2);
          if (ok) value = hold.substr(7);
        } else {
          ok = need(5);
          if (ok) hh = value.substr(1, 2), mm = value.substr(3, 2);
          if (ok) value = hold.substr(5);
        }
        if (!ok) break;
        char sign = hold[0];
        auto two = [](std::string_view d, int* out) {
          if (d.size() != 2 || d[0] < '0' || d[0] > '9' || d[1] < '0' || d[1] > '9') return false;
          *out = (d[0] - '0') * 10 + (d[1] - '0');
          return true;
        };
        int h = 0, m = 0, sec = 0;
        ok = (sign == '+' || sign == '-') && two(hh, &h) && two(mm, &m) && two(ss, &sec) &&
             h <= 24 && m < 60 && sec < 60;
        if (ok) {
          offset = (h * 3600 + m * 60 + sec) * (sign == '-' ? -1 : 1);
          zone_set = true;
          zone_name = offset == 0 ? "UTC" : "";
        }
        break;
      }
    }
    if (!ok) return bad(elem, hold);
  }
  if (pm_set && hour < 12) hour += 12;
  if (am_set && hour == 12) hour = 0;
  if (yday >= 0 && month < 0 && day < 0) {
    int m = 1;
    int d = yday;
    if (d > (IsLeap(year) ? 366 : 365)) return InvalidArgument("day-of-year out of range");
    while (d > DaysIn(m, year)) d -= DaysIn(m++, year);
    month = m;
    day = d;
  }
  if (month < 0) month = 1;
  if (day < 0) day = 1;
  if (day < 1 || day > DaysIn(month, year)) {
    return InvalidArgument("parsing time \"" + orig_value + "\": day out of range");
  }
  Time t;
  int64_t days = DaysFromCivil(year, month, day);
  t.sec = days * 86400 + hour * 3600 + minute * 60 + second - (zone_set ? offset : 0);
  t.nsec = nsec;
  t.offset = zone_set ? offset : 0;
  t.zone = zone_set ? zone_name : "UTC";
  return t;
}

std::string GoTimeString(const Time& t) {
  return FormatGoTime(t, "2006-01-02 15:04:05.999999999 -0700 MST");
}

Time UnixTime(int64_t sec, int64_t nsec) {
  sec += FloorDiv(nsec, kNsPerSec);
  nsec -= FloorDiv(nsec, kNsPerSec) * kNsPerSec;
  Time t;
  t.sec = sec;
  t.nsec = static_cast<int32_t>(nsec);
  t.zone = "UTC";
  return t;
}

Time TimeFromTimePoint(TimePoint tp) {
  int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count();
  return UnixTime(FloorDiv(ns, kNsPerSec), ns - FloorDiv(ns, kNsPerSec) * kNsPerSec);
}

int64_t TimeDiffNs(const Time& b, const Time& a) {
  __int128 d = static_cast<__int128>(b.sec - a.sec) * kNsPerSec + (b.nsec - a.nsec);
  if (d > INT64_MAX) return INT64_MAX;
  if (d < INT64_MIN) return INT64_MIN;
  return static_cast<int64_t>(d);
}

Time TimeAdd(const Time& t, int64_t ns) {
  Time out = UnixTime(t.sec + ns / kNsPerSec, t.nsec + ns % kNsPerSec);
  out.offset = t.offset;
  out.zone = t.zone;
  return out;
}

}  // namespace skiff::expr
