// `skiff log metric NAME=VALUE...` and `skiff log artifact FILE --type T`: what a shell step
// logs about its own execution. The same protocol as the Python module (python/skiff): the
// metadata API of $SKIFF_SERVER for the execution $SKIFF_EXECUTION, or, with no server to reach,
// JSON lines appended to $SKIFF_METADATA_FILE (metadata/pod_log.h) that are recorded when the
// Pod ends.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "api/http_client.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "common/fs.h"
#include "common/ids.h"

namespace skiff::cli {

namespace {

constexpr const char* kUsage =
    "usage: skiff log metric NAME=VALUE... [--step N] | skiff log artifact FILE [--type T] [--name N] [--input]";

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

Result<std::string> RequiredEnv(const char* name) {
  std::string v = Env(name);
  if (v.empty()) {
    return FailedPrecondition(std::string(name) + " is not set: `skiff log` works inside a Pod that Skiff runs");
  }
  return v;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// POSTs to the execution's metadata API. Unavailable when there is no server to reach (the
// caller then logs offline); the server's refusal of bad input comes back as its error. With
// `file`, the body is that file, streamed from disk.
Status Post(const std::string& what, const std::string& query, const std::string& body,
            const std::string& content_type, const std::string* file = nullptr) {
  std::string server = Env("SKIFF_SERVER");
  if (server.empty()) return Unavailable("no server");
  SKIFF_ASSIGN_OR_RETURN(std::string ns, RequiredEnv("SKIFF_POD_NAMESPACE"));
  SKIFF_ASSIGN_OR_RETURN(std::string exec, RequiredEnv("SKIFF_EXECUTION"));
  SKIFF_ASSIGN_OR_RETURN(auto client, api::HttpClient::Create(server, Env("SKIFF_TOKEN")));
  std::string path = "/apis/metadata.skiff.dev/v1/namespaces/" + api::UrlEncode(ns) + "/executions/" +
                     api::UrlEncode(exec) + "/" + what + (query.empty() ? "" : "?" + query);
  auto resp = file != nullptr ? client.UploadFile("POST", path, *file, content_type)
                              : client.Do("POST", path, body, content_type);
  if (!resp.ok()) return Unavailable(resp.status().message());
  if (resp->status == 201 || resp->status == 200) return OkStatus();
  if (resp->status == 400 || resp->status == 404 || resp->status == 413 || resp->status == 422) {
    auto j = ParseJson(resp->body);
    std::string message = j.ok() && j->is_object() ? StringField(*j, "message") : resp->body;
    return InvalidArgument("skiff server refused it (" + std::to_string(resp->status) + "): " + message);
  }
  return Unavailable("server answered " + std::to_string(resp->status));  // 401/403/5xx: offline
}

Status Append(Json entry) {
  SKIFF_ASSIGN_OR_RETURN(std::string file, RequiredEnv("SKIFF_METADATA_FILE"));
  SKIFF_RETURN_IF_ERROR(MakeDirs(DirName(file)));
  if (!entry.contains("ms")) entry["ms"] = NowMs();
  std::string line = entry.dump() + "\n";
  // One write(2) with O_APPEND: lines from concurrent writers never interleave.
  int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Internal("cannot open " + file);
  ssize_t n = ::write(fd, line.data(), line.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(line.size())) return Internal("cannot write " + file);
  return OkStatus();
}

int LogMetric(const Args& args) {
  const auto& pos = args.positional();
  if (pos.size() < 2) return Fail(InvalidArgument(kUsage));
  Json metrics = Json::object();
  for (size_t i = 1; i < pos.size(); ++i) {
    size_t eq = pos[i].find('=');
    if (eq == 0 || eq == std::string::npos) {
      return Fail(InvalidArgument("metric \"" + pos[i] + "\": expected NAME=VALUE"));
    }
    std::string name = pos[i].substr(0, eq), text = pos[i].substr(eq + 1);
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (text.empty() || end == nullptr || *end != '\0' || !std::isfinite(v)) {
      return Fail(InvalidArgument("metric " + name + ": \"" + text + "\" is not a finite number"));
    }
    metrics[name] = v;
  }
  int64_t step = 0;
  if (args.Has("--step")) {
    std::string s = args.Get("--step");
    char* end = nullptr;
    step = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0') return Fail(InvalidArgument("--step: \"" + s + "\" is not an integer"));
  }
  Json body = {{"metrics", metrics}, {"step", step}};
  Status s = Post("metrics", "", body.dump(), "application/json");
  if (s.code() == StatusCode::kUnavailable) {
    int64_t ms = NowMs();
    for (auto it = metrics.begin(); it != metrics.end(); ++it) {
      s = Append({{"kind", "metric"}, {"name", it.key()}, {"value", it.value()}, {"step", step}, {"ms", ms}});
      if (!s.ok()) break;
    }
  }
  if (!s.ok()) return Fail(s, 1);
  return 0;
}

int LogArtifact(const Args& args) {
  const auto& pos = args.positional();
  if (pos.size() != 2) return Fail(InvalidArgument(kUsage));
  const std::string& file = pos[1];
  if (!PathExists(file) || IsDirectory(file)) return Fail(NotFound(file + ": not a file"), 1);
  std::string type = args.Get("--type", "Artifact");
  std::string name = args.Get("--name", std::filesystem::path(file).filename().string());
  auto digest = Sha256File(file);
  if (!digest.ok()) return Fail(digest.status(), 1);
  std::string d = "sha256:" + *digest;
  std::error_code ec;
  int64_t size = static_cast<int64_t>(std::filesystem::file_size(file, ec));
  Status s;
  if (args.Has("--input")) {
    std::string uri = "file://" + std::filesystem::absolute(file, ec).string();
    s = Post("artifacts",
             "direction=input&digest=" + api::UrlEncode(d) + "&size=" + std::to_string(size) +
                 "&type=" + api::UrlEncode(type) + "&name=" + api::UrlEncode(name) + "&uri=" + api::UrlEncode(uri),
             "", "application/octet-stream");
    if (s.code() == StatusCode::kUnavailable) {
      s = Append({{"kind", "artifact"}, {"direction", "input"}, {"digest", d}, {"size", size}, {"uri", uri},
                  {"type", type}, {"name", name}});
    }
  } else {
    s = Post("artifacts", "type=" + api::UrlEncode(type) + "&name=" + api::UrlEncode(name), "",
             "application/octet-stream", &file);
    if (s.code() == StatusCode::kUnavailable) {
      // Offline: a copy where Skiff finds it once the Pod (and its private /tmp) is gone.
      auto dir = RequiredEnv("SKIFF_METADATA_DIR");
      if (!dir.ok()) return Fail(dir.status(), 1);
      std::string files = JoinPath(*dir, "files");
      s = MakeDirs(files);
      std::string copy = JoinPath(files, std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) +
                                             "-" + std::filesystem::path(file).filename().string());
      if (s.ok() && !std::filesystem::copy_file(file, copy, ec)) s = Internal("cannot copy " + file + " to " + copy + ": " + ec.message());
      if (s.ok()) {
        s = Append({{"kind", "artifact"}, {"direction", "output"}, {"file", copy}, {"type", type}, {"name", name}});
      }
    }
  }
  if (!s.ok()) return Fail(s, 1);
  std::printf("%s\n", d.c_str());
  return 0;
}

}  // namespace

int CmdLog(const Argv& argv) {
  Args args({"--type", "--name", "--step"}, {"--input"});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  const auto& pos = args.positional();
  if (pos.empty()) return Fail(InvalidArgument(kUsage));
  if (pos[0] == "metric" || pos[0] == "metrics") return LogMetric(args);
  if (pos[0] == "artifact") return LogArtifact(args);
  return Fail(InvalidArgument("unknown log command \"" + pos[0] + "\"; " + kUsage));
}

}  // namespace skiff::cli
