// Time-bucketed aggregation, as Knative's autoscaler does it.
//
// `WindowedAverage` is Knative's `aggregation.TimedFloat64Buckets`: a ring of one-second buckets
// covering a window (60 s stable, 6 s panic by default). Values recorded in the same bucket are
// summed (several reporters add up to the revision's total), and `Average(now)` divides the
// window's total by the number of buckets that have been written since the first write, so a
// revision that has existed for 10 s is averaged over 10 s, not 60. Seconds after the last write
// are not counted as zeros; the caller is expected to record every second (zeros included), as
// Knative's scraper does.
//
// `MaxWindow` is Knative's `max.TimeWindow`: the maximum of the values recorded during the last
// `duration`, in buckets of `granularity` (the tick). It implements `scale-down-delay`.
//
// Both are thread-compatible.
#pragma once

#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace skiff::autoscale {

class WindowedAverage {
 public:
  WindowedAverage(Duration window, Duration granularity = Seconds(1));

  void Record(TimePoint t, double value);
  // The window's average as of `now`; 0 when empty.
  double Average(TimePoint now) const;
  // No write during the last window.
  bool IsEmpty(TimePoint now) const;
  // Changes the window (annotation update); keeps the data that still fits.
  void Resize(Duration window);

 private:
  int64_t Bucket(TimePoint t) const;  // index of the bucket `t` falls in, since the epoch
  double& Slot(int64_t bucket) { return buckets_[static_cast<size_t>(bucket % size())]; }
  double Slot(int64_t bucket) const { return buckets_[static_cast<size_t>(bucket % size())]; }
  int64_t size() const { return static_cast<int64_t>(buckets_.size()); }

  Duration granularity_;
  std::vector<double> buckets_;
  double window_total_ = 0;
  int64_t first_write_ = 0;
  int64_t last_write_ = 0;
  bool written_ = false;
};

class MaxWindow {
 public:
  MaxWindow(Duration duration, Duration granularity);

  void Record(TimePoint t, int32_t value);
  // The maximum over the window that ends at the latest recorded bucket; 0 before any record.
  int32_t Current() const;

 private:
  int64_t size_;
  Duration granularity_;
  std::deque<std::pair<int64_t, int32_t>> entries_;  // (bucket, max recorded in it), ascending
};

}  // namespace skiff::autoscale
