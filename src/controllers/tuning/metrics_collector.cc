#include "controllers/tuning/metrics_collector.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <set>
#include <sstream>

namespace skiff::controllers {

namespace {

// A finite number written as text ("0.93", "1e-3"); NaN, Inf and anything else are not.
bool IsFiniteNumber(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  return end != s.c_str() && *end == '\0' && std::isfinite(v);
}

// A metric value from JSON: a number, or a string holding one; "" when neither.
std::string ValueText(const Json& v) {
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) {
    if (!std::isfinite(v.get<double>())) return "";
    return v.dump();  // the shortest text that reads back as the same double
  }
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    return IsFiniteNumber(s) ? s : "";
  }
  return "";
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(std::move(line));
  }
  return out;
}

// Katib's filters are Go regular expressions, where a brace that does not make a repetition
// (`{metricName: ...}`) is a literal; ECMAScript rejects it, so such braces are escaped.
std::string GoBracesToEcmascript(const std::string& re) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {
    char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      out += c;
      out += re[++i];
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out += c;
      continue;
    }
    if (c == '[') in_class = true;
    if (c == '{') {
      static const std::regex kRepeat(R"(^\{\d+(,\d*)?\})");
      std::smatch m;
      std::string rest = re.substr(i);
      if (i > 0 && std::regex_search(rest, m, kRepeat)) {
        out += m.str();
        i += m.length() - 1;
        continue;
      }
      out += "\\{";
      continue;
    }
    if (c == '}') {
      out += "\\}";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

Result<CollectorSpec> ParseCollectorSpec(const Json& mc, const std::string& field) {
  CollectorSpec out;
  if (mc.is_null()) return out;
  if (!mc.is_object()) return InvalidArgument(field + ": must be an object");
  const Json collector = mc.value("collector", Json::object());
  std::string kind = StringField(collector, "kind", "StdOut");
  out.kind_name = kind;
  if (kind == "StdOut") {
    out.kind = CollectorKind::kStdOut;
  } else if (kind == "File") {
    out.kind = CollectorKind::kFile;
  } else if (kind == "PrometheusMetric") {
    out.kind = CollectorKind::kPrometheusMetric;
  } else if (kind == "None") {
    out.kind = CollectorKind::kNone;
  } else if (kind == "Push") {
    out.kind = CollectorKind::kPush;
  } else if (kind == "TensorFlowEvent" || kind == "Custom") {
    return Unimplemented(field + ".collector.kind: " + kind +
                         " is not supported by skiff (use StdOut, File, PrometheusMetric, Push "
                         "or None)");
  } else {
    return InvalidArgument(field + ".collector.kind: unknown kind \"" + kind +
                           "\" (StdOut, File, TensorFlowEvent, PrometheusMetric, Custom, None, "
                           "Push)");
  }
  const Json source = mc.value("source", Json::object());
  if (!source.is_object()) return InvalidArgument(field + ".source: must be an object");
  const Json filter = source.value("filter", Json::object());
  if (filter.is_object()) {
    const Json formats = filter.value("metricsFormat", Json::array());
    for (size_t i = 0; formats.is_array() && i < formats.size(); ++i) {
      std::string where = field + ".source.filter.metricsFormat[" + std::to_string(i) + "]";
      if (!formats[i].is_string()) return InvalidArgument(where + ": must be a string");
      std::string f = formats[i].get<std::string>();
      try {
        std::regex re(GoBracesToEcmascript(f));
        if (re.mark_count() < 2) {
          return InvalidArgument(where + ": needs two groups (the metric's name and value)");
        }
      } catch (const std::regex_error& e) {
        return InvalidArgument(where + ": not a valid regular expression: " + e.what());
      }
      out.filters.push_back(f);
    }
  }
  if (out.kind == CollectorKind::kFile) {
    const std::string where = field + ".source.fileSystemPath";
    const Json fsp = source.value("fileSystemPath", Json::object());
    out.file_path = StringField(fsp, "path");
    if (out.file_path.empty()) return InvalidArgument(where + ".path: required for the File collector");
    if (out.file_path[0] != '/') return InvalidArgument(where + ".path: must be absolute");
    size_t slash = out.file_path.rfind('/');
    if (slash == 0 || slash + 1 == out.file_path.size()) {
      return InvalidArgument(where + ".path: must name a file inside a directory (e.g. "
                             "/var/log/katib/metrics.log)");
    }
    std::string fkind = StringField(fsp, "kind", "File");
    if (fkind != "File") return InvalidArgument(where + ".kind: must be File for the File collector");
    std::string format = StringField(fsp, "format", "TEXT");
    if (format == "TEXT") {
      out.format = FileFormat::kText;
    } else if (format == "JSON") {
      out.format = FileFormat::kJson;
      if (!out.filters.empty()) {
        return InvalidArgument(field + ".source.filter.metricsFormat: not allowed with format JSON");
      }
    } else {
      return InvalidArgument(where + ".format: must be TEXT or JSON");
    }
  }
  if (out.kind == CollectorKind::kPrometheusMetric) {
    const std::string where = field + ".source.httpGet";
    const Json get = source.value("httpGet", Json::object());
    const Json* port = FindField(get, "port");
    if (port == nullptr || port->is_null()) {
      out.port = 8080;
    } else if (port->is_number_integer()) {
      out.port = port->get<int>();
    } else if (port->is_string() && IsFiniteNumber(port->get<std::string>())) {
      out.port = std::atoi(port->get<std::string>().c_str());
    } else {
      return InvalidArgument(where + ".port: must be a port number (named ports are not supported)");
    }
    if (out.port <= 0 || out.port > 65535) return InvalidArgument(where + ".port: must be 1-65535");
    out.http_path = StringField(get, "path", "/metrics");
    if (out.http_path.empty() || out.http_path[0] != '/') {
      return InvalidArgument(where + ".path: must start with /");
    }
    std::string scheme = StringField(get, "scheme", "HTTP");
    if (scheme != "HTTP" && scheme != "http") {
      return InvalidArgument(where + ".scheme: only HTTP is supported");
    }
    std::string host = StringField(get, "host");
    if (!host.empty() && host != "localhost") out.host = host;
  }
  return out;
}

MetricReports ParseMetricsLog(const std::string& log, const std::vector<std::string>& names,
                              const std::vector<std::string>& filters) {
  std::vector<std::regex> res;
  for (const auto& f : filters.empty() ? std::vector<std::string>{kKatibDefaultMetricsFilter}
                                       : filters) {
    try {
      res.emplace_back(GoBracesToEcmascript(f));
    } catch (const std::regex_error&) {
      // An invalid filter matches nothing (ParseCollectorSpec rejects it first).
    }
  }
  std::set<std::string> wanted(names.begin(), names.end());
  MetricReports out;
  for (const std::string& line : Lines(log)) {
    for (const auto& re : res) {
      for (auto it = std::sregex_iterator(line.begin(), line.end(), re);
           it != std::sregex_iterator(); ++it) {
        const auto& m = *it;
        if (m.size() < 3) continue;
        std::string name = m[1].str();
        std::string value = m[2].str();
        if (!wanted.count(name) || !IsFiniteNumber(value)) continue;
        out[name].push_back(value);
      }
    }
  }
  return out;
}

MetricReports ParseMetricsJsonLines(const std::string& text,
                                    const std::vector<std::string>& names) {
  struct Row {
    double ts;
    std::vector<std::pair<std::string, std::string>> values;
  };
  std::vector<Row> rows;
  double last_ts = -1e300;
  for (const std::string& line : Lines(text)) {
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    auto obj = ParseJson(line);
    if (!obj.ok() || !obj->is_object()) continue;  // a torn or foreign line
    Row row{last_ts, {}};
    if (const Json* ts = FindField(*obj, "timestamp"); ts != nullptr && !ts->is_null()) {
      if (ts->is_number()) {
        row.ts = ts->get<double>();
      } else if (ts->is_string()) {
        std::string s = ts->get<std::string>();
        if (IsFiniteNumber(s)) {
          row.ts = std::strtod(s.c_str(), nullptr);
        } else if (auto t = ParseRfc3339(s); t.ok()) {
          row.ts = std::chrono::duration<double>(t->time_since_epoch()).count();
        }
      }
    }
    last_ts = row.ts;
    for (const auto& n : names) {
      const Json* v = FindField(*obj, n);
      if (v == nullptr) continue;
      std::string t = ValueText(*v);
      if (!t.empty()) row.values.emplace_back(n, t);
    }
    rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.ts < b.ts; });
  MetricReports out;
  for (const auto& r : rows) {
    for (const auto& [n, v] : r.values) out[n].push_back(v);
  }
  return out;
}

MetricReports ParsePrometheusText(const std::string& text, const std::vector<std::string>& names) {
  std::set<std::string> wanted(names.begin(), names.end());
  std::map<std::string, std::string> plain, labelled;
  for (const std::string& raw : Lines(text)) {
    size_t start = raw.find_first_not_of(" \t");
    if (start == std::string::npos || raw[start] == '#') continue;
    std::string_view line(raw);
    line.remove_prefix(start);
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ' && line[i] != '\t') ++i;
    std::string name(line.substr(0, i));
    bool has_labels = i < line.size() && line[i] == '{';
    if (has_labels) {
      bool quoted = false;
      for (++i; i < line.size(); ++i) {
        if (quoted && line[i] == '\\') {
          ++i;
        } else if (line[i] == '"') {
          quoted = !quoted;
        } else if (!quoted && line[i] == '}') {
          break;
        }
      }
      if (i >= line.size()) continue;  // unterminated label set
      ++i;
    }
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t end = i;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
    std::string value(line.substr(i, end - i));
    if (!wanted.count(name) || !IsFiniteNumber(value)) continue;
    auto& slot = has_labels ? labelled : plain;
    slot.emplace(name, value);  // the first sample wins
  }
  MetricReports out;
  for (const auto& n : names) {
    if (auto it = plain.find(n); it != plain.end()) {
      out[n].push_back(it->second);
    } else if (auto jt = labelled.find(n); jt != labelled.end()) {
      out[n].push_back(jt->second);
    }
  }
  return out;
}

Result<Json> ParseObservationLog(const Json& body, TimePoint now) {
  if (!body.is_object()) return InvalidArgument("body: must be a JSON object");
  Json metrics = Json::object();
  std::string timestamp;
  auto add = [&](const std::string& where, const Json& name, const Json& value) -> Status {
    if (!name.is_string() || name.get<std::string>().empty()) {
      return InvalidArgument(where + ".name: required");
    }
    std::string text = ValueText(value);
    if (text.empty()) return InvalidArgument(where + ".value: not a finite number");
    metrics[name.get<std::string>()] = text;
    return OkStatus();
  };
  auto stamp = [&](const Json* ts) {
    if (ts == nullptr || ts->is_null() || !timestamp.empty()) return;
    if (ts->is_string()) {
      timestamp = ts->get<std::string>();
    } else if (ts->is_number()) {
      auto ms = static_cast<int64_t>(ts->get<double>() * 1000);
      timestamp = FormatRfc3339(TimePoint(std::chrono::milliseconds(ms)));
    }
  };
  if (const Json* list = FindField(body, "metrics"); list != nullptr) {
    if (!list->is_array()) return InvalidArgument("metrics: must be a list of {name, value}");
    for (size_t i = 0; i < list->size(); ++i) {
      const Json& m = (*list)[i];
      std::string where = "metrics[" + std::to_string(i) + "]";
      if (!m.is_object()) return InvalidArgument(where + ": must be an object");
      SKIFF_RETURN_IF_ERROR(add(where, m.value("name", Json()), m.value("value", Json())));
    }
    stamp(FindField(body, "timestamp"));
  } else if (const Json* ol = FindField(body, "observation_log"); ol != nullptr) {
    const Json logs = ol->is_object() ? ol->value("metric_logs", Json::array()) : Json::array();
    if (!logs.is_array()) return InvalidArgument("observation_log.metric_logs: must be a list");
    for (size_t i = 0; i < logs.size(); ++i) {
      std::string where = "observation_log.metric_logs[" + std::to_string(i) + "].metric";
      const Json m = logs[i].is_object() ? logs[i].value("metric", Json::object()) : Json();
      if (!m.is_object()) return InvalidArgument(where + ": must be an object");
      SKIFF_RETURN_IF_ERROR(add(where, m.value("name", Json()), m.value("value", Json())));
      stamp(FindField(logs[i], "time_stamp"));
    }
  } else {
    for (auto it = body.begin(); it != body.end(); ++it) {
      if (it.key() == "timestamp") continue;
      SKIFF_RETURN_IF_ERROR(add(it.key(), Json(it.key()), it.value()));
    }
    stamp(FindField(body, "timestamp"));
  }
  if (metrics.empty()) return InvalidArgument("metrics: at least one metric is required");
  if (timestamp.empty()) timestamp = FormatRfc3339(now);
  return Json{{"timestamp", timestamp}, {"metrics", std::move(metrics)}};
}

std::string ObservationKey(TimePoint t) {
  static std::atomic<uint64_t> seq{0};
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%020lld-%06llu-%08x", static_cast<long long>(us),
                static_cast<unsigned long long>(seq.fetch_add(1) % 1000000),
                static_cast<unsigned>(std::rand()));
  return buf;
}

MetricReports ReportsFromObservationLogs(const std::map<std::string, Json>& records,
                                         const std::vector<std::string>& names) {
  MetricReports out;
  for (const auto& [key, rec] : records) {
    const Json metrics = rec.value("metrics", Json::object());
    if (!metrics.is_object()) continue;
    for (const auto& n : names) {
      const Json* v = FindField(metrics, n);
      if (v == nullptr) continue;
      std::string t = ValueText(*v);
      if (!t.empty()) out[n].push_back(t);
    }
  }
  return out;
}

void ForEachPrimaryContainer(Json& run, const std::string& primary,
                             const std::function<void(Json& pod_spec, Json& container)>& fn) {
  if (run.is_array()) {
    for (auto& e : run) ForEachPrimaryContainer(e, primary, fn);
    return;
  }
  if (!run.is_object()) return;
  if (auto cs = run.find("containers"); cs != run.end() && cs->is_array()) {
    for (auto& c : *cs) {
      if (c.is_object() && StringField(c, "name") == primary) fn(run, c);
    }
  }
  for (auto it = run.begin(); it != run.end(); ++it) {
    if (it.key() != "containers") ForEachPrimaryContainer(it.value(), primary, fn);
  }
}

void AddVolumeOnce(Json& pod_spec, const Json& volume) {
  if (!pod_spec.contains("volumes") || !pod_spec["volumes"].is_array()) pod_spec["volumes"] = Json::array();
  const std::string name = StringField(volume, "name");
  for (const auto& v : pod_spec["volumes"]) {
    if (StringField(v, "name") == name) return;
  }
  pod_spec["volumes"].push_back(volume);
}

void AddMetricsVolume(Json& run, const std::string& primary, const std::string& dir) {
  ForEachPrimaryContainer(run, primary, [&dir](Json& pod_spec, Json& c) {
    if (!c.contains("volumeMounts") || !c["volumeMounts"].is_array()) c["volumeMounts"] = Json::array();
    // Under /tmp (the Pod's private /tmp, kept until the Pod is deleted) or under a volume
    // the container mounts already, the file outlives the Pod as it is; a mount nested in
    // another bind mount would also fail to start on the local kubelet.
    auto under = [&dir](const std::string& root) {
      std::string r = root;
      while (r.size() > 1 && r.back() == '/') r.pop_back();
      return dir == r || (dir.size() > r.size() && dir.compare(0, r.size(), r) == 0 &&
                          (r == "/" || dir[r.size()] == '/'));
    };
    bool mounted = under("/tmp");
    for (const auto& vm : c["volumeMounts"]) mounted = mounted || under(StringField(vm, "mountPath"));
    if (mounted) return;
    c["volumeMounts"].push_back({{"name", kKatibMetricsVolume}, {"mountPath", dir}});
    AddVolumeOnce(pod_spec, {{"name", kKatibMetricsVolume}, {"emptyDir", Json::object()}});
  });
}

}  // namespace skiff::controllers
