#include "serving/stats/stats.h"

#include <chrono>
#include <utility>

namespace skiff::serving {

RevisionStats::RevisionStats(const Clock& clock) : clock_(clock) {}

void RevisionStats::Accrue(Counter& c, TimePoint now) {
  if (now > c.last_change) {
    c.busy_seconds += static_cast<double>(c.in_flight) *
                      std::chrono::duration<double>(now - c.last_change).count();
    c.last_change = now;
  }
}

void RevisionStats::RequestStarted(const std::string& revision_key) {
  const TimePoint now = clock_.Now();
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = counters_.try_emplace(revision_key);
  Counter& c = it->second;
  if (inserted) c.last_change = c.interval_start = now;
  Accrue(c, now);
  ++c.in_flight;
  ++c.started;
}

void RevisionStats::RequestFinished(const std::string& revision_key) {
  const TimePoint now = clock_.Now();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counters_.find(revision_key);
  if (it == counters_.end() || it->second.in_flight == 0) return;
  Accrue(it->second, now);
  --it->second.in_flight;
}

int64_t RevisionStats::InFlight(const std::string& revision_key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counters_.find(revision_key);
  return it == counters_.end() ? 0 : it->second.in_flight;
}

std::map<std::string, autoscale::Sample> RevisionStats::TakeSamples() {
  const TimePoint now = clock_.Now();
  std::map<std::string, autoscale::Sample> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = counters_.begin(); it != counters_.end();) {
    Counter& c = it->second;
    Accrue(c, now);
    const double span = std::chrono::duration<double>(now - c.interval_start).count();
    autoscale::Sample s;
    if (span > 0) {
      s.concurrency = c.busy_seconds / span;
      s.rps = static_cast<double>(c.started) / span;
    } else {
      s.concurrency = static_cast<double>(c.in_flight);
    }
    out[it->first] = s;
    const bool idle = c.in_flight == 0 && c.started == 0 && c.busy_seconds == 0;
    if (idle) {
      it = counters_.erase(it);
      continue;
    }
    c.started = 0;
    c.busy_seconds = 0;
    c.interval_start = c.last_change = now;
    ++it;
  }
  return out;
}

void RevisionStats::RequestActivation(const std::string& service_key,
                                      const std::string& revision_key) {
  std::function<void(const std::string&, const std::string&)> handler;
  {
    std::lock_guard<std::mutex> lock(mu_);
    handler = activation_;
  }
  if (handler) handler(service_key, revision_key);
}

void RevisionStats::SetActivationHandler(
    std::function<void(const std::string&, const std::string&)> handler) {
  std::lock_guard<std::mutex> lock(mu_);
  activation_ = std::move(handler);
}

}  // namespace skiff::serving
