// Time, injected. Components take a `Clock&` so that tests can use `FakeClock` and advance time
// instead of sleeping. Also: RFC 3339 formatting and Go-style duration parsing, because every
// Kubernetes and Argo document uses both.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>

#include "common/status.h"

namespace skiff {

using TimePoint = std::chrono::system_clock::time_point;
using Duration = std::chrono::nanoseconds;
using Millis = std::chrono::milliseconds;
using Seconds = std::chrono::seconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// Wall-clock time. Thread-safe.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  static SystemClock& Get();
};

// A clock that only moves when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint(std::chrono::seconds(1767225600)))
      : now_ns_(start.time_since_epoch().count()) {}
  TimePoint Now() const override {
    return TimePoint(TimePoint::duration(now_ns_.load(std::memory_order_acquire)));
  }
  void Advance(Duration d) {
    now_ns_.fetch_add(std::chrono::duration_cast<TimePoint::duration>(d).count(),
                      std::memory_order_acq_rel);
  }

 private:
  std::atomic<TimePoint::duration::rep> now_ns_;
};

// "2026-01-02T03:04:05Z" (seconds precision, UTC), as Kubernetes prints timestamps.
std::string FormatRfc3339(TimePoint t);
// Accepts "...Z", fractional seconds and "+hh:mm" offsets.
Result<TimePoint> ParseRfc3339(std::string_view text);

// Go's time.ParseDuration ("1h2m3.5s", "300ms", "-1.5h"); a bare number means seconds, as Argo
// accepts for `backoff.duration` and `timeout`.
Result<Duration> ParseGoDuration(std::string_view text);
// Go's Duration.String(): "1h2m3s", "1.5s", "0s".
std::string FormatGoDuration(Duration d);

inline double ToSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace skiff
