// Katib's metrics collectors as the Experiment controller runs them locally: the parsed
// `metricsCollectorSpec`, the parsers of what a Trial reports (StdOut/File TEXT lines, File
// JSON lines, the Prometheus text format) and the observation-log records that the Push and
// PrometheusMetric collectors keep in the store.
//
// Every parser is pure (no I/O), keeps only the metric names asked for, and drops values that
// are not finite numbers (NaN, Inf, text), so a Trial that only ever printed `loss=nan` has no
// objective and ends MetricsUnavailable, as in Katib.
//
// Thread-safety: free functions over their arguments; safe from any thread.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/json.h"
#include "common/status.h"

namespace skiff::controllers {

// Katib's default StdOut/File TEXT metrics filter.
inline constexpr const char* kKatibDefaultMetricsFilter =
    R"(([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?))";
// Observation logs reported to the server (Push) or scraped (PrometheusMetric); owner = the
// Trial's uid, key = `ObservationKey`, value = {"timestamp": RFC3339, "metrics": {name: "text"}}.
inline constexpr const char* kKatibObservationRecords = "katib-observation-logs";
// The emptyDir the File collector mounts at the metrics file's directory (Katib's name).
inline constexpr const char* kKatibMetricsVolume = "metrics-volume";

// One metric's reports in order, as text (the way the trial printed them).
using MetricReports = std::map<std::string, std::vector<std::string>>;

enum class CollectorKind { kStdOut, kFile, kTensorFlowEvent, kPrometheusMetric, kCustom, kNone, kPush };
enum class FileFormat { kText, kJson };

// `spec.metricsCollectorSpec`, with Katib's defaults.
struct CollectorSpec {
  CollectorKind kind = CollectorKind::kStdOut;
  std::string kind_name = "StdOut";
  // File: `source.fileSystemPath` {path (absolute), format TEXT | JSON}.
  std::string file_path;
  FileFormat format = FileFormat::kText;
  // StdOut and File TEXT: `source.filter.metricsFormat` (empty = Katib's default).
  std::vector<std::string> filters;
  // PrometheusMetric: `source.httpGet` {port, path (default /metrics), host (default the Pod:
  // 127.0.0.1 locally), scheme http}; scraped every `scrape_interval` while the Trial runs.
  int port = 0;
  std::string http_path = "/metrics";
  std::string host = "127.0.0.1";
  Duration scrape_interval = std::chrono::seconds(1);
};

// Parses and validates `mc` (the Experiment's `spec.metricsCollectorSpec`, or null for the
// default StdOut); errors name the field under `field`.
Result<CollectorSpec> ParseCollectorSpec(const Json& mc,
                                         const std::string& field = "spec.metricsCollectorSpec");

// Finds `name=value` pairs in `log` with `filters` (regexes whose groups 1 and 2 are the name and
// the value; empty = Katib's default), keeping the names in `names`. Used for StdOut and File
// TEXT: a line may start with an RFC3339 timestamp (Katib's optional prefix); lines in any
// other shape are skipped.
MetricReports ParseMetricsLog(const std::string& log, const std::vector<std::string>& names,
                              const std::vector<std::string>& filters = {});

// Katib's File JSON format: one JSON object per line, metric names as keys (values numbers or
// numeric strings) and an optional `timestamp` (RFC3339 text or Unix seconds). Reports are
// ordered by timestamp (a line without one takes its predecessor's, so file order decides
// among equals); lines that are not JSON objects are skipped.
MetricReports ParseMetricsJsonLines(const std::string& text, const std::vector<std::string>& names);

// The Prometheus text exposition format (`# HELP`/`# TYPE` comments, `name{labels} value
// [timestamp]`): the first sample of each metric in `names` (a series without labels first,
// else the first one listed).
MetricReports ParsePrometheusText(const std::string& text, const std::vector<std::string>& names);

// The observation log body a Trial pushes: `{"metrics": [{"name", "value"}], "timestamp"}`,
// Katib's `ReportObservationLog` shape `{"observation_log": {"metric_logs": [{"time_stamp",
// "metric": {"name", "value"}}]}}`, or a flat object `{"accuracy": 0.93}` as given to the
// SDK's `report_metrics`. Returns the record value {"timestamp", "metrics": {name: text}};
// InvalidArgument names the field (e.g. `metrics[1].value: not a number`).
Result<Json> ParseObservationLog(const Json& body, TimePoint now);

// A record key that sorts in time order and does not collide between concurrent reporters.
std::string ObservationKey(TimePoint t);

// The reports in observation-log records (in key order), keeping `names`.
MetricReports ReportsFromObservationLogs(const std::map<std::string, Json>& records,
                                         const std::vector<std::string>& names);

// Calls `fn(pod_spec, container)` for every container named `primary` in `run` (a Trial's run
// object: a Job, a training job's replica specs, ...); `pod_spec` is the object holding it.
void ForEachPrimaryContainer(Json& run, const std::string& primary,
                             const std::function<void(Json& pod_spec, Json& container)>& fn);
// Adds `volume` to a Pod spec's volumes unless one of its name is there.
void AddVolumeOnce(Json& pod_spec, const Json& volume);

// Adds the File collector's emptyDir (`metrics-volume`) at `dir` to every Pod spec in `run`
// whose containers include `primary`, unless `dir` is under /tmp or under a volume that
// container mounts already (the file outlives the Pod there as it is).
void AddMetricsVolume(Json& run, const std::string& primary, const std::string& dir);

}  // namespace skiff::controllers
