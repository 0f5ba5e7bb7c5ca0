// Prometheus metrics: counters, gauges and histograms with labels, rendered in the text
// exposition format (version 0.0.4) for `/metrics`. Families are declared once with their type
// and help; samples are addressed by label values. Collectors registered with `AddCollector` run
// at each scrape to set gauges that are cheaper to compute on demand (e.g. Pods by phase).
// Thread-safe: one mutex; updates are a map lookup and an add.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace skiff {

class Metrics {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  enum class Type { kCounter, kGauge, kHistogram };

  // Declares a family. Histogram `buckets` are upper bounds in ascending order.
  void Declare(const std::string& name, Type type, const std::string& help,
               std::vector<double> buckets = {});
  void Inc(const std::string& name, const Labels& labels = {}, double by = 1);
  void Set(const std::string& name, const Labels& labels, double value);
  void Observe(const std::string& name, const Labels& labels, double value);
  // Drops every sample of a gauge family (before a collector sets the current ones).
  void Clear(const std::string& name);
  void AddCollector(std::function<void(Metrics&)> collector);

  std::string Expose();

  static std::vector<double> LatencyBuckets();  // 0.5 ms .. 10 s

 private:
  struct Series {
    double value = 0;               // counter, gauge
    std::vector<uint64_t> counts;   // histogram, per bucket (not cumulative)
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    Type type = Type::kCounter;
    std::string help;
    std::vector<double> buckets;
    std::map<std::string, Series> series;  // by rendered label set
  };
  Series& At(const std::string& name, const Labels& labels);  // requires mu_

  std::mutex mu_;
  std::map<std::string, Family> families_;                  // GUARDED_BY(mu_)
  std::vector<std::function<void(Metrics&)>> collectors_;   // GUARDED_BY(mu_)
};

}  // namespace skiff
