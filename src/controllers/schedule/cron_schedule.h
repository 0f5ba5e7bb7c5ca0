// Cron expressions as Argo's CronWorkflow accepts them (robfig/cron v3's standard parser):
// five fields `minute hour day-of-month month day-of-week` with `*`, `?`, ranges `a-b`, steps
// `*/n` and `a-b/n`, lists `a,b`, month names JAN-DEC and day names SUN-SAT (case-insensitive);
// day-of-week 0-6 (0 = Sunday, 7 also means Sunday); the descriptors `@yearly` (`@annually`),
// `@monthly`, `@weekly`, `@daily` (`@midnight`), `@hourly` and `@every <Go duration>`. As in
// robfig/cron, when both day fields are restricted a day matches either; when one is `*` both
// must match.
//
// Time zones: `timezone` is an IANA name ("America/Los_Angeles"), "" for the process's local
// zone (Argo's default: the controller's). GCC 12's libstdc++ has no chrono time zones, so local
// times are converted with the C library (`localtime_r`/`mktime`) while `TZ` is temporarily set to
// the zone, under a process-wide mutex; the zone must exist under /usr/share/zoneinfo (or
// $TZDIR). Only these conversions read `TZ`; the rest of Skiff formats times in UTC. Schedules
// are matched on local wall-clock time: a time that does not exist (spring forward) runs at the
// C library's normalization of it (an hour later), an ambiguous one (fall back) runs once.
//
// Immutable after `Parse`; thread-safe.
#pragma once

#include <bitset>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace skiff::controllers {

class CronSchedule {
 public:
  static Result<CronSchedule> Parse(std::string_view expr, std::string_view timezone = "");

  // The first activation strictly after `t`, at a whole minute (`@every`: `t` + the interval,
  // at whole seconds). A schedule that never fires (e.g. "0 0 30 2 *") returns TimePoint::max().
  TimePoint Next(TimePoint t) const;

  const std::string& timezone() const { return timezone_; }

 private:
  CronSchedule() = default;

  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1-31
  std::bitset<13> months_;   // 1-12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool days_star_ = false;
  bool weekdays_star_ = false;
  Duration every_{0};  // @every
  std::string timezone_;
};

// OK if `timezone` is "" or names a zone in the time zone database.
Status ValidateTimeZone(std::string_view timezone);

}  // namespace skiff::controllers
