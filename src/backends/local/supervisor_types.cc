// JSON forms of the supervisor's value types, spec validation, and reading a process's state
// files back (see supervisor.h for the file formats).
#include <string>

#include "backends/local/supervisor.h"
#include "common/fs.h"

namespace skiff::local {
namespace {

// Reads an optional field of `json` into `out`, reporting a type mismatch with its name.
template <typename T>
Status Field(const Json& json, const char* key, T* out) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return OkStatus();
  try {
    *out = it->get<T>();
  } catch (const Json::exception& e) {
    return InvalidArgument(std::string("field \"") + key + "\": " + e.what());
  }
  return OkStatus();
}

bool IsAbsolute(const std::string& path) { return !path.empty() && path[0] == '/'; }

}  // namespace

Json ToJson(const MountSpec& mount) {
  return Json{{"kind", mount.kind},
              {"source", mount.source},
              {"target", mount.target},
              {"read_only", mount.read_only}};
}

Result<MountSpec> MountSpecFromJson(const Json& json) {
  if (!json.is_object()) return InvalidArgument("mount must be an object");
  MountSpec m;
  SKIFF_RETURN_IF_ERROR(Field(json, "kind", &m.kind));
  SKIFF_RETURN_IF_ERROR(Field(json, "source", &m.source));
  SKIFF_RETURN_IF_ERROR(Field(json, "target", &m.target));
  SKIFF_RETURN_IF_ERROR(Field(json, "read_only", &m.read_only));
  return m;
}

Json ToJson(const ProcessSpec& spec) {
  Json mounts = Json::array();
  for (const auto& m : spec.mounts) mounts.push_back(ToJson(m));
  return Json{{"id", spec.id},
              {"dir", spec.dir},
              {"argv", spec.argv},
              {"env", spec.env},
              {"cwd", spec.cwd},
              {"stdout_path", spec.stdout_path},
              {"stderr_path", spec.stderr_path},
              {"isolate", spec.isolate},
              {"root_overlay_dir", spec.root_overlay_dir},
              {"mounts", std::move(mounts)},
              {"cpu_millis", spec.cpu_millis},
              {"memory_bytes", spec.memory_bytes},
              {"gang", spec.gang},
              {"gang_size", spec.gang_size},
              {"priority", spec.priority},
              {"deadline_unix_ms", spec.deadline_unix_ms},
              {"grace_ms", spec.grace_ms}};
}

Result<ProcessSpec> ProcessSpecFromJson(const Json& json) {
  if (!json.is_object()) return InvalidArgument("process spec must be an object");
  ProcessSpec s;
  SKIFF_RETURN_IF_ERROR(Field(json, "id", &s.id));
  SKIFF_RETURN_IF_ERROR(Field(json, "dir", &s.dir));
  SKIFF_RETURN_IF_ERROR(Field(json, "argv", &s.argv));
  SKIFF_RETURN_IF_ERROR(Field(json, "env", &s.env));
  SKIFF_RETURN_IF_ERROR(Field(json, "cwd", &s.cwd));
  SKIFF_RETURN_IF_ERROR(Field(json, "stdout_path", &s.stdout_path));
  SKIFF_RETURN_IF_ERROR(Field(json, "stderr_path", &s.stderr_path));
  SKIFF_RETURN_IF_ERROR(Field(json, "isolate", &s.isolate));
  SKIFF_RETURN_IF_ERROR(Field(json, "root_overlay_dir", &s.root_overlay_dir));
  if (const Json* mounts = FindField(json, "mounts"); mounts != nullptr && !mounts->is_null()) {
    if (!mounts->is_array()) return InvalidArgument("field \"mounts\" must be an array");
    for (size_t i = 0; i < mounts->size(); ++i) {
      auto m = MountSpecFromJson((*mounts)[i]);
      if (!m.ok()) return m.status().WithPrefix("mounts[" + std::to_string(i) + "]");
      s.mounts.push_back(std::move(*m));
    }
  }
  SKIFF_RETURN_IF_ERROR(Field(json, "cpu_millis", &s.cpu_millis));
  SKIFF_RETURN_IF_ERROR(Field(json, "memory_bytes", &s.memory_bytes));
  SKIFF_RETURN_IF_ERROR(Field(json, "gang", &s.gang));
  SKIFF_RETURN_IF_ERROR(Field(json, "gang_size", &s.gang_size));
  SKIFF_RETURN_IF_ERROR(Field(json, "priority", &s.priority));
  SKIFF_RETURN_IF_ERROR(Field(json, "deadline_unix_ms", &s.deadline_unix_ms));
  SKIFF_RETURN_IF_ERROR(Field(json, "grace_ms", &s.grace_ms));
  return s;
}

Status ValidateProcessSpec(const ProcessSpec& spec) {
  if (spec.id.empty()) return InvalidArgument("id is required");
  if (spec.id.find('\n') != std::string::npos) return InvalidArgument("id has a newline");
  if (!IsAbsolute(spec.dir)) return InvalidArgument("dir must be an absolute path");
  if (spec.argv.empty() || spec.argv[0].empty()) return InvalidArgument("argv is empty");
  if (!IsAbsolute(spec.cwd)) return InvalidArgument("cwd must be an absolute path");
  for (const auto& e : spec.env) {
    if (e.find('=') == std::string::npos) {
      return InvalidArgument("env entry \"" + e + "\" is not K=V");
    }
  }
  if (spec.cpu_millis < 0 || spec.memory_bytes < 0) {
    return InvalidArgument("cpu_millis and memory_bytes must not be negative");
  }
  if (!spec.gang.empty() && spec.gang_size < 1) {
    return InvalidArgument("gang \"" + spec.gang + "\" needs gang_size >= 1");
  }
  if (!spec.root_overlay_dir.empty()) {
    if (!IsAbsolute(spec.root_overlay_dir)) {
      return InvalidArgument("root_overlay_dir must be an absolute path");
    }
    // Overlayfs option strings separate paths with ',' and ':'.
    if (spec.root_overlay_dir.find_first_of(",:") != std::string::npos) {
      return InvalidArgument("root_overlay_dir must not contain ',' or ':'");
    }
    if (!spec.isolate) return InvalidArgument("root_overlay_dir requires isolate");
  }
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const MountSpec& m = spec.mounts[i];
    std::string where = "mounts[" + std::to_string(i) + "]";
    if (m.kind != "bind" && m.kind != "tmpfs") {
      return InvalidArgument(where + ": kind must be \"bind\" or \"tmpfs\"");
    }
    if (!IsAbsolute(m.target) || m.target == "/") {
      return InvalidArgument(where + ": target must be an absolute path other than /");
    }
    if (m.target.find("/../") != std::string::npos ||
        m.target.compare(m.target.size() >= 3 ? m.target.size() - 3 : 0, 3, "/..") == 0) {
      return InvalidArgument(where + ": target must not contain \"..\"");
    }
    if (m.kind == "bind" && !IsAbsolute(m.source)) {
      return InvalidArgument(where + ": source must be an absolute host path");
    }
  }
  return OkStatus();
}

const char* StateName(ProcessStatus::State state) {
  switch (state) {
    case ProcessStatus::State::kQueued:
      return "Queued";
    case ProcessStatus::State::kRunning:
      return "Running";
    case ProcessStatus::State::kExited:
      return "Exited";
    case ProcessStatus::State::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

Json ToJson(const ProcessStatus& s) {
  return Json{{"id", s.id},
              {"state", StateName(s.state)},
              {"pid", s.pid},
              {"started_unix_ms", s.started_unix_ms},
              {"finished_unix_ms", s.finished_unix_ms},
              {"exit_code", s.exit_code},
              {"signal", s.signal},
              {"reason", s.reason},
              {"message", s.message},
              {"cpu_seconds", s.cpu_seconds},
              {"max_rss_bytes", s.max_rss_bytes},
              {"isolated", s.isolated}};
}

Result<ProcessStatus> ProcessStatusFromJson(const Json& json) {
  if (!json.is_object()) return InvalidArgument("process status must be an object");
  ProcessStatus s;
  std::string state = "Unknown";
  SKIFF_RETURN_IF_ERROR(Field(json, "id", &s.id));
  SKIFF_RETURN_IF_ERROR(Field(json, "state", &state));
  if (state == "Queued") {
    s.state = ProcessStatus::State::kQueued;
  } else if (state == "Running") {
    s.state = ProcessStatus::State::kRunning;
  } else if (state == "Exited") {
    s.state = ProcessStatus::State::kExited;
  } else {
    s.state = ProcessStatus::State::kUnknown;
  }
  SKIFF_RETURN_IF_ERROR(Field(json, "pid", &s.pid));
  SKIFF_RETURN_IF_ERROR(Field(json, "started_unix_ms", &s.started_unix_ms));
  SKIFF_RETURN_IF_ERROR(Field(json, "finished_unix_ms", &s.finished_unix_ms));
  SKIFF_RETURN_IF_ERROR(Field(json, "exit_code", &s.exit_code));
  SKIFF_RETURN_IF_ERROR(Field(json, "signal", &s.signal));
  SKIFF_RETURN_IF_ERROR(Field(json, "reason", &s.reason));
  SKIFF_RETURN_IF_ERROR(Field(json, "message", &s.message));
  SKIFF_RETURN_IF_ERROR(Field(json, "cpu_seconds", &s.cpu_seconds));
  SKIFF_RETURN_IF_ERROR(Field(json, "max_rss_bytes", &s.max_rss_bytes));
  SKIFF_RETURN_IF_ERROR(Field(json, "isolated", &s.isolated));
  return s;
}

ProcessStatus ReadProcessStatusFromDir(const std::string& dir) {
  ProcessStatus out;
  auto exit_text = ReadFile(JoinPath(dir, "exit.json"));
  if (exit_text.ok()) {
    auto json = ParseJson(*exit_text);
    Result<ProcessStatus> parsed =
        json.ok() ? ProcessStatusFromJson(*json) : Result<ProcessStatus>(json.status());
    if (parsed.ok()) {
      out = std::move(*parsed);
    } else {
      out.reason = "Lost";
      out.exit_code = -1;
      out.message = "exit.json is unreadable: " + parsed.status().message();
    }
    out.state = ProcessStatus::State::kExited;
    return out;
  }
  auto started_text = ReadFile(JoinPath(dir, "started.json"));
  if (started_text.ok()) {
    auto json = ParseJson(*started_text);
    if (json.ok() && json->is_object()) {
      Field(*json, "id", &out.id).IgnoreError();
      Field(*json, "pid", &out.pid).IgnoreError();
      Field(*json, "started_unix_ms", &out.started_unix_ms).IgnoreError();
      Field(*json, "isolated", &out.isolated).IgnoreError();
    }
    out.state = ProcessStatus::State::kRunning;
    return out;
  }
  return out;
}

}  // namespace skiff::local
