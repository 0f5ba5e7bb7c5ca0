#include "engine/autoscale/window.h"

#include <algorithm>

namespace skiff::autoscale {

namespace {

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t BucketCount(Duration window, Duration granularity) {
  // ceil(window / granularity), at least one bucket.
  int64_t n = (window.count() + granularity.count() - 1) / granularity.count();
  return std::max<int64_t>(1, n);
}

}  // namespace

WindowedAverage::WindowedAverage(Duration window, Duration granularity)
    : granularity_(granularity),
      buckets_(static_cast<size_t>(BucketCount(window, granularity)), 0.0) {}

int64_t WindowedAverage::Bucket(TimePoint t) const {
  return FloorDiv(std::chrono::duration_cast<Duration>(t.time_since_epoch()).count(),
                  granularity_.count());
}

void WindowedAverage::Record(TimePoint t, double value) {
  int64_t b = Bucket(t);
  if (!written_) {
    std::fill(buckets_.begin(), buckets_.end(), 0.0);
    window_total_ = 0;
    first_write_ = last_write_ = b;
    written_ = true;
  } else if (b > last_write_) {
    if (b - last_write_ >= size()) {
      // Everything recorded so far has left the window: start over.
      std::fill(buckets_.begin(), buckets_.end(), 0.0);
      window_total_ = 0;
      first_write_ = b;
    } else {
      // Clear the slots of the buckets that just fell out of the window.
      for (int64_t i = last_write_ + 1; i <= b; ++i) {
        window_total_ -= Slot(i);
        Slot(i) = 0;
      }
    }
    last_write_ = b;
  } else if (b <= last_write_ - size()) {
    return;  // older than the window: nothing to add it to
  }
  Slot(b) += value;
  window_total_ += value;
}

bool WindowedAverage::IsEmpty(TimePoint now) const {
  return !written_ || Bucket(now) - last_write_ >= size();
}

double WindowedAverage::Average(TimePoint now) const {
  if (IsEmpty(now)) return 0;
  int64_t n = Bucket(now);
  int64_t span = last_write_ - first_write_ + 1;  // buckets since the first write, inclusive
  int64_t d = n - last_write_;
  if (d <= 0) {
    return window_total_ / static_cast<double>(std::min(span, size()));
  }
  // Buckets (last_write_, n] were not written; the slots they map to still hold the oldest
  // buckets, which are now outside the window.
  double total = window_total_;
  for (int64_t i = last_write_ + 1; i <= n; ++i) total -= Slot(i);
  int64_t count = std::min(span, size() - d);
  return total / static_cast<double>(count);
}

void WindowedAverage::Resize(Duration window) {
  int64_t new_size = BucketCount(window, granularity_);
  if (new_size == size()) return;
  std::vector<double> fresh(static_cast<size_t>(new_size), 0.0);
  double total = 0;
  if (written_) {
    int64_t keep = std::min(new_size, size());
    for (int64_t b = last_write_ - keep + 1; b <= last_write_; ++b) {
      double v = Slot(b);
      fresh[static_cast<size_t>(b % new_size)] = v;
      total += v;
    }
    first_write_ = std::max(first_write_, last_write_ - keep + 1);
  }
  buckets_ = std::move(fresh);
  window_total_ = total;
}

MaxWindow::MaxWindow(Duration duration, Duration granularity)
    : size_(BucketCount(duration, granularity)), granularity_(granularity) {}

void MaxWindow::Record(TimePoint t, int32_t value) {
  int64_t b = FloorDiv(std::chrono::duration_cast<Duration>(t.time_since_epoch()).count(),
                       granularity_.count());
  if (!entries_.empty() && b <= entries_.back().first) {
    // Same bucket (or a late record): the largest value in a bucket wins.
    entries_.back().second = std::max(entries_.back().second, value);
  } else {
    entries_.emplace_back(b, value);
  }
  int64_t latest = entries_.back().first;
  while (!entries_.empty() && entries_.front().first <= latest - size_) entries_.pop_front();
}

int32_t MaxWindow::Current() const {
  int32_t m = 0;
  for (const auto& [bucket, value] : entries_) m = std::max(m, value);
  return m;
}

}  // namespace skiff::autoscale
