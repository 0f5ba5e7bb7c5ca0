#include "api/metadata_api.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <vector>

#include "api/kube_api.h"
#include "common/fs.h"
#include "common/json.h"
#include "metadata/pod_log.h"

namespace skiff::api {

namespace {

std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

void Reply(HttpResponse& resp, int code, const Json& body) {
  resp.status = code;
  resp.content_type = "application/json";
  resp.body = body.dump();
}

void ReplyStatus(HttpResponse& resp, const Status& s, int code = 0) {
  int mapped = 0;
  Json body = StatusBody(s, &mapped);
  if (code != 0) body["code"] = code;
  Reply(resp, code != 0 ? code : mapped, body);
}

bool ValidName(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) return false;
  }
  return true;
}

Result<metadata::Direction> ParseDirection(const std::string& s) {
  if (s.empty() || s == "upstream") return metadata::Direction::kUpstream;
  if (s == "downstream") return metadata::Direction::kDownstream;
  if (s == "both") return metadata::Direction::kBoth;
  return InvalidArgument("direction: must be upstream, downstream or both, not \"" + s + "\"");
}

// {"metrics": {"accuracy": 0.97}, "step": 3} -> metric records.
Result<std::vector<metadata::MetricRecord>> ParseMetrics(const std::string& body) {
  auto j = ParseJson(body);
  if (!j.ok() || !j->is_object()) return InvalidArgument("body: must be a JSON object");
  const Json* m = FindField(*j, "metrics");
  if (m == nullptr || !m->is_object() || m->empty()) {
    return InvalidArgument("metrics: required, an object of metric names to numbers");
  }
  int64_t step = 0;
  if (const Json* s = FindField(*j, "step")) {
    if (!s->is_number_integer()) return InvalidArgument("step: must be an integer");
    step = s->get<int64_t>();
  }
  std::vector<metadata::MetricRecord> out;
  for (auto it = m->begin(); it != m->end(); ++it) {
    if (it.key().empty()) return InvalidArgument("metrics: a metric name is empty");
    if (!it.value().is_number() || !std::isfinite(it.value().get<double>())) {
      return InvalidArgument("metrics." + it.key() + ": must be a finite number");
    }
    out.push_back({it.key(), it.value().get<double>(), step, 0});
  }
  return out;
}

// A `Range` header's single byte range over a file of `size` bytes: "bytes=a-b", "bytes=a-" or
// "bytes=-n" -> [first, last]. False when it is absent, malformed or a multi-range (the whole
// file is sent then); `unsatisfiable` when it starts past the end.
bool ParseRange(const std::string& header, int64_t size, int64_t* first, int64_t* last, bool* unsatisfiable) {
  *unsatisfiable = false;
  if (header.rfind("bytes=", 0) != 0 || header.find(',') != std::string::npos) return false;
  std::string spec = header.substr(6);
  size_t dash = spec.find('-');
  if (dash == std::string::npos) return false;
  std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
  auto number = [](const std::string& t, int64_t* out) {
    if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos || t.size() > 18) return false;
    *out = std::atoll(t.c_str());
    return true;
  };
  int64_t x = 0, y = 0;
  if (a.empty()) {  // the last n bytes
    if (!number(b, &y) || y == 0) return false;
    *first = std::max<int64_t>(0, size - y);
    *last = size - 1;
  } else {
    if (!number(a, &x)) return false;
    if (!b.empty() && (!number(b, &y) || y < x)) return false;
    *first = x;
    *last = b.empty() ? size - 1 : std::min(y, size - 1);
  }
  if (*first >= size) {
    *unsatisfiable = true;
    return false;
  }
  return true;
}

}  // namespace

MetadataApi::MetadataApi(MetadataApiOptions options) : opts_(options) {
  if (opts_.artifacts != nullptr) {
    auto dir = opts_.artifacts->StagingDir();
    if (dir.ok()) staging_dir_ = *dir;
  }
}

bool MetadataApi::Serves(const std::string& path) { return path.rfind(kMetadataApiPrefix, 0) == 0; }

std::optional<BodySpill> MetadataApi::SpillFor(const HttpRequest& head) const {
  // POST .../namespaces/{ns}/executions/{name}/artifacts, except inputs known by digest.
  if (staging_dir_.empty() || head.method != "POST" || !Serves(head.path)) return std::nullopt;
  std::vector<std::string> seg = Segments(head.path);
  if (seg.size() != 8 || seg[3] != "namespaces" || seg[5] != "executions" || seg[7] != "artifacts") {
    return std::nullopt;
  }
  if (head.Query("direction", "output") == "input") return std::nullopt;
  return BodySpill{staging_dir_, opts_.max_upload_bytes};
}

void MetadataApi::Handle(const HttpRequest& req, HttpResponse& resp) {
  std::vector<std::string> seg = Segments(req.path);
  // apis / metadata.skiff.dev / v1 / namespaces / {ns} / ...
  if (seg.size() < 6 || seg[3] != "namespaces") {
    return ReplyStatus(resp, NotFound("the server could not find the requested resource"), 404);
  }
  const std::string& ns = seg[4];
  if (!ValidName(ns)) return ReplyStatus(resp, InvalidArgument("namespace: invalid name \"" + ns + "\""), 400);
  bool write = req.method == "POST";
  if (opts_.tokens != nullptr) {
    std::string auth = req.Header("authorization");
    std::string token = auth.size() > 7 && (auth.rfind("Bearer ", 0) == 0 || auth.rfind("bearer ", 0) == 0)
                            ? auth.substr(7)
                            : "";
    auto who = opts_.tokens->Authenticate(token);
    if (!who.ok()) return ReplyStatus(resp, PermissionDenied("Unauthorized"), 401);
    if (!Allowed(*who, write ? "create" : "get", true, ns)) {
      return ReplyStatus(resp, PermissionDenied("User \"" + who->name + "\" cannot " + (write ? "write" : "read") +
                                                " metadata in the namespace \"" + ns + "\""),
                         403);
    }
  }
  if (opts_.lineage == nullptr || opts_.artifacts == nullptr) {
    return ReplyStatus(resp, Unavailable("the lineage store is not available"), 503);
  }
  const std::string& what = seg[5];
  // executions/{name}/metrics|artifacts
  if (what == "executions" && seg.size() == 8) {
    const std::string& name = seg[6];
    if (!ValidName(name)) return ReplyStatus(resp, InvalidArgument("execution: invalid name \"" + name + "\""), 400);
    metadata::ExecutionWrite w;
    w.execution.ns = ns;
    w.execution.name = name;
    w.execution.type = "skiff.Pod";
    if (seg[7] == "metrics" && req.method == "GET") {
      auto list = opts_.lineage->ExecutionMetrics(ns, name);
      if (!list.ok()) return ReplyStatus(resp, list.status());
      Json out = Json::array();
      for (const auto& m : *list) out.push_back({{"name", m.name}, {"value", m.value}, {"step", m.step}, {"ms", m.ms}});
      return Reply(resp, 200, {{"execution", name}, {"metrics", out}});
    }
    if (seg[7] == "metrics" && write) {
      auto metrics = ParseMetrics(req.body);
      if (!metrics.ok()) return ReplyStatus(resp, metrics.status(), 400);
      w.metrics = std::move(*metrics);
      Status s = opts_.lineage->Log(w);
      if (!s.ok()) return ReplyStatus(resp, s);
      return Reply(resp, 201, {{"execution", name}, {"recorded", w.metrics.size()}});
    }
    if (seg[7] == "artifacts" && write) {
      std::string type = req.Query("type", "Artifact"), art_name = req.Query("name");
      if (req.Query("direction", "output") == "input") {
        std::string digest = req.Query("digest");
        if (digest.rfind("sha256:", 0) != 0 || digest.size() != 71 ||
            digest.find_first_not_of("0123456789abcdef", 7) != std::string::npos) {
          return ReplyStatus(resp, InvalidArgument("digest: must be sha256:<64 lowercase hex digits>"), 400);
        }
        metadata::BlobInfo blob{digest, std::atoll(req.Query("size", "0").c_str())};
        w.inputs.push_back({metadata::LoggedArtifact(ns, blob, type, art_name, req.Query("uri")), art_name});
      } else {
        // Streamed to a staging file by the HTTP server (`SpillFor`), which already refused
        // more than `max_upload_bytes`; else in memory (a server without `body_to_file`).
        int64_t size = req.body_file.empty() ? static_cast<int64_t>(req.body.size()) : req.body_file_size;
        if (size > opts_.max_upload_bytes) {
          return ReplyStatus(resp, InvalidArgument("artifact of " + std::to_string(size) +
                                                   " bytes is over the limit of " +
                                                   std::to_string(opts_.max_upload_bytes)),
                             413);
        }
        // Adopting renames the staged file into the store: the bytes are not copied again.
        auto blob = req.body_file.empty() ? opts_.artifacts->PutBytes(req.body)
                                          : opts_.artifacts->AdoptFile(req.body_file);
        if (!blob.ok()) return ReplyStatus(resp, blob.status());
        std::string uri;
        if (std::string key = req.Query("key"); !key.empty()) {
          // A user-chosen key ("models/digits/v3.ubj"), checked like every key: no absolute
          // paths, "..", empty segments or NUL; the blob stays for garbage collection if refused.
          Status b = opts_.artifacts->BindKey(key, *blob);
          if (!b.ok()) return ReplyStatus(resp, b.WithPrefix("key"), b.code() == StatusCode::kInvalidArgument ? 400 : 0);
          uri = "skiff-artifacts://" + key;
        }
        w.outputs.push_back({metadata::LoggedArtifact(ns, *blob, type, art_name, uri), art_name});
      }
      Status s = opts_.lineage->Log(w);
      if (!s.ok()) return ReplyStatus(resp, s);
      const auto& a = w.inputs.empty() ? w.outputs[0].first : w.inputs[0].first;
      return Reply(resp, 201, a.ToJson());
    }
    return ReplyStatus(resp, NotFound("the server could not find the requested resource"), 404);
  }
  if (req.method != "GET") return ReplyStatus(resp, NotFound("the server could not find the requested resource"), 404);
  if (what == "artifacts" && seg.size() == 7) {
    std::string path = opts_.artifacts->BlobPath(seg[6]);
    if (path.empty()) return ReplyStatus(resp, InvalidArgument("\"" + seg[6] + "\" is not a sha256 digest"), 400);
    auto list = opts_.lineage->Artifacts(ns, "", "", seg[6]);
    if (!list.ok()) return ReplyStatus(resp, list.status());
    if (list->empty() || !opts_.artifacts->HasBlob(seg[6])) {
      return ReplyStatus(resp, NotFound("artifact " + seg[6] + " not found in namespace " + ns), 404);
    }
    // Sent from disk by the HTTP server's I/O thread (`body_file`): never read into memory.
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return ReplyStatus(resp, NotFound("artifact " + seg[6] + " is gone"), 404);
    int64_t size = st.st_size, first = 0, last = 0;
    bool unsatisfiable = false;
    resp.status = 200;
    resp.content_type = "application/octet-stream";
    resp.headers.push_back({"Accept-Ranges", "bytes"});
    resp.headers.push_back({"ETag", "\"" + (seg[6].rfind("sha256:", 0) == 0 ? seg[6] : "sha256:" + seg[6]) + "\""});
    if (std::string range = req.Header("range"); !range.empty()) {
      if (ParseRange(range, size, &first, &last, &unsatisfiable)) {
        resp.status = 206;
        resp.file_offset = first;
        resp.file_length = last - first + 1;
        resp.headers.push_back({"Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) +
                                                     "/" + std::to_string(size)});
      } else if (unsatisfiable) {
        resp.headers = {{"Content-Range", "bytes */" + std::to_string(size)}};
        return ReplyStatus(resp, InvalidArgument("range: starts past the end of the " + std::to_string(size) +
                                                 "-byte artifact"),
                           416);
      }
    }
    resp.body_file = path;
    return;
  }
  if (what == "contexts" && (seg.size() == 6 || seg.size() == 8)) {
    // contexts?type=&name=&parent=TYPE/NAME, or contexts/{type}/{name}
    bool one = seg.size() == 8;
    auto list = opts_.lineage->Contexts(ns, one ? seg[6] : req.Query("type"), one ? seg[7] : req.Query("name"),
                                        one ? "" : req.Query("parent"));
    if (!list.ok()) return ReplyStatus(resp, list.status());
    if (one) {
      if (list->empty()) {
        return ReplyStatus(resp, NotFound("context " + seg[6] + "/" + seg[7] + " not found in namespace " + ns), 404);
      }
      return Reply(resp, 200, list->front().ToJson());
    }
    Json items = Json::array();
    for (const auto& c : *list) items.push_back(c.ToJson());
    return Reply(resp, 200, {{"items", items}});
  }
  if (seg.size() != 6) return ReplyStatus(resp, NotFound("the server could not find the requested resource"), 404);
  if (what == "artifacts") {
    auto list = opts_.lineage->Artifacts(ns, req.Query("type"), req.Query("context"), req.Query("digest"));
    if (!list.ok()) return ReplyStatus(resp, list.status());
    Json items = Json::array();
    for (const auto& a : *list) items.push_back(a.ToJson());
    return Reply(resp, 200, {{"items", items}});
  }
  if (what == "executions") {
    auto list = opts_.lineage->Executions(ns, req.Query("context"), req.Query("state"));
    if (!list.ok()) return ReplyStatus(resp, list.status());
    Json items = Json::array();
    for (const auto& e : *list) items.push_back(e.ToJson());
    return Reply(resp, 200, {{"items", items}});
  }
  if (what == "metrics") {
    // The metrics of a context's executions: one row per execution, the latest value of each
    // metric, for comparing runs or trials; `?all=true` lists every observation instead.
    auto list = opts_.lineage->ContextMetrics(ns, req.Query("context"));
    if (!list.ok()) return ReplyStatus(resp, list.status());
    if (req.Query("all") == "true") {
      Json items = Json::array();
      for (const auto& [exec, m] : *list) {
        items.push_back({{"execution", exec}, {"name", m.name}, {"value", m.value}, {"step", m.step}, {"ms", m.ms}});
      }
      return Reply(resp, 200, {{"items", items}});
    }
    Json columns = Json::array(), rows = Json::array();
    std::map<std::string, size_t> row_of;
    for (const auto& [exec, m] : *list) {
      if (std::find(columns.begin(), columns.end(), Json(m.name)) == columns.end()) columns.push_back(m.name);
      auto [it, fresh] = row_of.emplace(exec, rows.size());
      if (fresh) rows.push_back({{"execution", exec}, {"metrics", Json::object()}});
      rows[it->second]["metrics"][m.name] = m.value;  // observed in order: the last is the latest
    }
    return Reply(resp, 200, {{"columns", columns}, {"rows", rows}});
  }
  if (what == "lineage") {
    metadata::LineageQuery q;
    q.ns = ns;
    q.digest = req.Query("artifact");
    q.execution_name = req.Query("execution");
    if (q.digest.empty() == q.execution_name.empty()) {
      return ReplyStatus(resp, InvalidArgument("artifact or execution: exactly one is required"), 400);
    }
    auto dir = ParseDirection(req.Query("direction"));
    if (!dir.ok()) return ReplyStatus(resp, dir.status(), 400);
    q.direction = *dir;
    q.max_hops = std::atoi(req.Query("hops", "10").c_str());
    if (q.max_hops <= 0) return ReplyStatus(resp, InvalidArgument("hops: must be a positive number"), 400);
    q.artifact_type = req.Query("type");
    q.context = req.Query("context");
    auto g = opts_.lineage->Lineage(q);
    if (!g.ok()) return ReplyStatus(resp, g.status());
    return Reply(resp, 200, g->ToJson());
  }
  return ReplyStatus(resp, NotFound("the server could not find the requested resource"), 404);
}

}  // namespace skiff::api
