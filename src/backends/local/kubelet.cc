#include "backends/local/kubelet.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <tuple>

#include "backends/local/kubelet_pod_run.h"
#include "backends/local/pod_paths.h"
#include "common/fs.h"
#include "common/ids.h"
#include "common/log.h"
#include "metadata/pod_log.h"

namespace skiff::local {

namespace {

constexpr const char* kTemplateAnnotation = "workflows.argoproj.io/template";
constexpr const char* kOutputsAnnotation = "workflows.argoproj.io/outputs";

// True if `dir` exists and holds no entries.
bool DirIsEmpty(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  bool empty = true;
  while (const dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string MsToRfc3339(int64_t ms) {
  return FormatRfc3339(TimePoint(std::chrono::milliseconds(ms)));
}

// Kubernetes quantities: "100m", "1", "0.5" CPUs; "32Mi", "1G", "512", "1e3" bytes.
Result<double> ParseQuantity(const std::string& q) {
  if (q.empty()) return InvalidArgument("empty quantity");
  char* end = nullptr;
  double v = std::strtod(q.c_str(), &end);
  if (end == q.c_str()) return InvalidArgument("invalid quantity \"" + q + "\"");
  std::string suffix(end);
  static const std::pair<const char*, double> kSuffixes[] = {
      {"", 1},       {"m", 1e-3},  {"k", 1e3},  {"M", 1e6},  {"G", 1e9},  {"T", 1e12},
      {"P", 1e15},   {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0},
      {"Ti", 1099511627776.0}, {"n", 1e-9}, {"u", 1e-6}};
  for (const auto& [s, mult] : kSuffixes) {
    if (suffix == s) return v * mult;
  }
  return InvalidArgument("invalid quantity \"" + q + "\"");
}

int64_t ResourceRequest(const Json& container, const char* resource, bool cpu, int64_t fallback) {
  const Json* res = FindField(container, "resources");
  if (res == nullptr) return fallback;
  for (const char* section : {"requests", "limits"}) {
    const Json* s = FindField(*res, section);
    if (s == nullptr || !s->contains(resource)) continue;
    auto q = ParseQuantity(ScalarToString((*s)[resource]));
    if (!q.ok()) return fallback;
    return cpu ? static_cast<int64_t>(std::llround(*q * 1000)) : static_cast<int64_t>(*q);
  }
  return fallback;
}

std::string Base64Decode(const std::string& in) {
  static const std::string kChars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (char c : in) {
    if (c == '=') break;
    size_t pos = kChars.find(c);
    if (pos == std::string::npos) continue;
    val = (val << 6) + static_cast<int>(pos);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

// A container status' `terminated` state from the supervisor's exit record.
Json TerminatedJson(const ProcessStatus& st) {
  Json term = {{"exitCode", st.exit_code},
               {"reason", st.reason == "Completed" ? "Completed" : st.reason.empty() ? "Error" : st.reason},
               {"startedAt", MsToRfc3339(st.started_unix_ms)},
               {"finishedAt", MsToRfc3339(st.finished_unix_ms)}};
  if (st.signal != 0) term["signal"] = st.signal;
  if (!st.message.empty()) term["message"] = st.message;
  return term;
}

}  // namespace

// The supervisor's records (started.json, exit.json) of one attempt of a container live on a
// tmpfs when there is one: creating files on this ext4 costs ~0.3 ms each, which a 700-step
// pipeline pays thousands of times. They survive any crash of skiff or the supervisor (what
// exactly-once needs); after a reboot nothing is running, and steps interrupted by it start
// again.
std::string Kubelet::RecordRoot(const std::string& home) {
  static const char* kShm = "/dev/shm";
  if (IsDirectory(kShm) && ::access(kShm, W_OK) == 0) {
    return JoinPath(kShm, "skiff-" + Sha256Hex(home).substr(0, 16));
  }
  return JoinPath(home, "run/records");
}

std::string Kubelet::ContainerDir(const PodRun& run, const ContainerRun& c, int attempt) const {
  return JoinPath(record_root_, run.uid + "." + c.name + (attempt ? "." + std::to_string(attempt) : ""));
}

std::string Kubelet::LogPath(const std::string& home, const std::string& pod_uid,
                             const std::string& container, bool stderr_stream) {
  return JoinPath(home, "logs/" + pod_uid + "." + container + (stderr_stream ? ".stderr" : ".stdout"));
}

Kubelet::Kubelet(KubeletOptions options, store::Store& store, EventLoop& loop,
                 metadata::ArtifactStore& artifacts)
    : options_(std::move(options)),
      store_(store),
      loop_(loop),
      artifacts_(artifacts),
      runtime_(options_.home),
      record_root_(RecordRoot(options_.home)) {}

Kubelet::~Kubelet() {
  for (auto& [uid, run] : pods_) {
    for (auto& c : run->containers) StopProbes(c);
  }
  if (!queued_statuses_.empty()) {
    loop_.Cancel(flush_timer_);
    FlushStatuses();
  }
  watch_.reset();
  if (supervisor_) loop_.Unwatch(supervisor_->fd());
}

Status Kubelet::Reconnect() {
  if (supervisor_) loop_.Unwatch(supervisor_->fd());
  supervisor_.reset();
  SupervisorClientOptions so;
  so.state_dir = JoinPath(options_.home, "run");
  so.launch_argv = options_.supervisor_argv;
  SKIFF_RETURN_IF_ERROR(MakeDirs(so.state_dir));
  SKIFF_ASSIGN_OR_RETURN(supervisor_, SupervisorClient::Connect(so));
  machine_ = {0, 0};
  return loop_.Watch(supervisor_->fd(), [this] { OnSupervisorReadable(); });
}

// The supervisor is connected to (and started, if none runs) only when a process has to run:
// a run whose steps are all memoized never pays for it.
Status Kubelet::EnsureSupervisor() {
  if (supervisor_) return OkStatus();
  return Reconnect();
}

Status Kubelet::Start() {
  SKIFF_RETURN_IF_ERROR(runtime_.Prepare());
  SKIFF_RETURN_IF_ERROR(MakeDirs(JoinPath(options_.home, "logs")));
  pool_dir_ = JoinPath(options_.home, "pods/.free");
  SKIFF_RETURN_IF_ERROR(MakeDirs(pool_dir_));
  if (DIR* d = ::opendir(pool_dir_.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") free_dirs_.push_back(n);
    }
    ::closedir(d);
  }
  // A supervisor that is already running may hold processes of Pods that are gone.
  if (PathExists(JoinPath(options_.home, "run/supervisor.sock"))) {
    Status s = EnsureSupervisor();
    if (!s.ok()) LogWarn("supervisor not reachable", {{"error", s.message()}});
  }
  // Events are shared with the loop, not copied.
  watch_ = store_.WatchShared({"Pod", ""}, [this](std::shared_ptr<const store::WatchEvent> ev) {
    loop_.Post([this, ev = std::move(ev)] { OnPodEvent(*ev); });
  });
  // Only unfinished Pods need adopting; a finished one is never touched again. Those with
  // processes are tracked at once; the others may wait for room like new Pods.
  Result<std::vector<ProcessStatus>> procs = std::vector<ProcessStatus>{};
  if (supervisor_) procs = supervisor_->List();
  std::set<std::string> with_processes;
  if (procs.ok()) {
    for (const auto& p : *procs) with_processes.insert(p.id.substr(0, p.id.find('/')));
  }
  SKIFF_ASSIGN_OR_RETURN(store::ListResult pods,
                         store_.List("Pod", "", {"", "status.phase!=Succeeded,status.phase!=Failed", 0}));
  std::set<std::string> known;
  for (const auto& pod : pods.items) {
    std::string uid = StringField(pod["metadata"], "uid");
    known.insert(uid);
    std::string phase = StringField(pod.value("status", Json::object()), "phase");
    if (phase == "Succeeded" || phase == "Failed") continue;
    if (with_processes.count(uid) || phase == "Running") {
      Track(pod);
    } else {
      Admit(pod);
    }
  }
  // Processes whose Pod no longer exists (or finished) are stopped.
  if (!supervisor_) return OkStatus();
  if (procs.ok()) {
    for (const auto& p : *procs) {
      std::string uid = p.id.substr(0, p.id.find('/'));
      if (!known.count(uid) && p.state != ProcessStatus::State::kExited) {
        Status s = supervisor_->Kill(p.id, std::chrono::seconds(0));
        (void)s;
      }
    }
  }
  return OkStatus();
}

void Kubelet::OnPodEvent(const store::WatchEvent& ev) {
  const Json& pod = ev.object;
  std::string uid = StringField(pod["metadata"], "uid");
  auto it = pods_.find(uid);
  if (ev.type == store::EventType::kDeleted) {
    if (it == pods_.end()) {
      // A finished or waiting Pod: its logs and private directory go with it.
      if (auto w = waiting_.find(uid); w != waiting_.end()) {
        waiting_order_.erase(w->second);
        waiting_.erase(w);
        waiting_pods_.erase(uid);
      }
      RemovePodFiles(options_.home, pod);
      return;
    }
    it->second->deleted = true;
    KillPod(*it->second, std::chrono::seconds(0), "deleted");
    return;
  }
  if (it == pods_.end()) {
    const Json* status = FindField(pod, "status");
    std::string phase = status != nullptr ? StringField(*status, "phase") : "";
    if (phase == "Succeeded" || phase == "Failed") return;
    std::string node = StringField(pod["spec"], "nodeName");
    if (!node.empty() && node != options_.node_name) return;
    Admit(pod);
    return;
  }
  PodRun& run = *it->second;
  // Keep our copy's metadata current (annotations/labels written by others); the echo of our
  // own status write (the version our copy already has) brings nothing new.
  const Json& meta = pod["metadata"];
  if (StringField(meta, "resourceVersion") == StringField(run.pod["metadata"], "resourceVersion")) return;
  run.pod["metadata"] = meta;
  if (pod["metadata"].contains("deletionTimestamp") && !run.deleting) {
    int64_t grace = pod["metadata"].value("deletionGracePeriodSeconds", 30);
    KillPod(run, std::chrono::seconds(grace), "deleted");
  }
}

int64_t Kubelet::PodPriority(const Json& pod) {
  int64_t prio = 0;
  if (const Json* p = FindField(pod["spec"], "priority"); p != nullptr && p->is_number_integer()) {
    prio = std::clamp<int64_t>(p->get<int64_t>(), -2000000000, 2000000000) * 1000000;
  }
  std::string rank = StringField(pod["metadata"].value("annotations", Json::object()), "skiff.dev/rank");
  if (!rank.empty()) prio += std::clamp<int64_t>(std::atoll(rank.c_str()), 0, 999999);
  return prio;
}

// At most `max_active_pods` Pods are prepared and handed to the supervisor at a time; the others
// wait here, as keys only (highest priority first, then in arrival order), and are read back from
// the store when there is room. A 10,000-item loop then costs the kubelet a bounded amount of
// memory and directories, while the supervisor's slots still decide what actually runs.
void Kubelet::Admit(const Json& pod) {
  std::string uid = StringField(pod["metadata"], "uid");
  if (pods_.count(uid) || waiting_.count(uid)) return;
  // Gang members are never held back here: the window could split a gang larger than it, and
  // the supervisor admits a gang whole anyway.
  if (IsGangPod(pod) || (pods_.size() < options_.max_active_pods && waiting_.empty())) {
    Track(pod);
    return;
  }
  WaitingKey key{-PodPriority(pod), next_waiting_seq_++, uid};
  auto [pos, inserted] = waiting_order_.insert(key);
  waiting_[uid] = pos;
  waiting_pods_[uid] = {StringField(pod["metadata"], "namespace"), StringField(pod["metadata"], "name")};
  (void)inserted;
}

void Kubelet::AdmitWaiting() {
  while (pods_.size() < options_.max_active_pods && !waiting_order_.empty()) {
    WaitingKey key = *waiting_order_.begin();
    waiting_order_.erase(waiting_order_.begin());
    waiting_.erase(key.uid);
    auto names = waiting_pods_.extract(key.uid);
    if (names.empty()) continue;
    auto pod = store_.Get({"Pod", names.mapped().first, names.mapped().second});
    if (!pod.ok() || StringField((*pod)["metadata"], "uid") != key.uid) continue;
    std::string phase = StringField(pod->value("status", Json::object()), "phase");
    if (phase == "Succeeded" || phase == "Failed") continue;
    if (pod->at("metadata").contains("deletionTimestamp")) continue;
    Track(*pod);
  }
}

void Kubelet::Track(const Json& pod) {
  auto run = std::make_unique<PodRun>();
  run->pod = pod;
  run->uid = StringField(pod["metadata"], "uid");
  run->ns = StringField(pod["metadata"], "namespace");
  run->name = StringField(pod["metadata"], "name");
  run->dir = JoinPath(options_.home, "pods/" + run->uid);
  PodRun& ref = *run;
  pods_[run->uid] = std::move(run);
  BeginPod(ref);
}

Status Kubelet::PreparePod(PodRun& run) {
  const Json& spec = run.pod["spec"];
  // Creating directories is the costliest part of starting a step on ext4 (0.05-0.5 ms each,
  // more after many deletions), so a Pod whose directory held nothing but an empty /tmp hands it
  // on to the next Pod (a rename) instead of leaving it behind.
  bool reused = false;
  while (!reused && !free_dirs_.empty() && !PathExists(run.dir)) {
    std::string from = JoinPath(pool_dir_, free_dirs_.back());
    free_dirs_.pop_back();
    reused = ::rename(from.c_str(), run.dir.c_str()) == 0;
  }
  if (!reused) {
    SKIFF_RETURN_IF_ERROR(MakeDirs(JoinPath(run.dir, "tmp")));
    ::chmod(JoinPath(run.dir, "tmp").c_str(), 01777);
  }
  // Containers.
  int mains = 0;
  for (const char* section : {"initContainers", "containers"}) {
    const Json* list = FindField(spec, section);
    if (list == nullptr || !list->is_array()) continue;
    for (size_t i = 0; i < list->size(); ++i) {
      ContainerRun c;
      c.spec = (*list)[i];
      c.name = StringField(c.spec, "name");
      if (c.name.empty()) c.name = std::string(section) + "-" + std::to_string(i);
      if (std::string(section) == "initContainers") {
        c.kind = ContainerRun::Kind::kInit;
      } else {
        c.kind = ContainerRun::Kind::kMain;
        ++mains;
      }
      run.containers.push_back(std::move(c));
    }
  }
  if (mains == 0) return InvalidArgument("spec.containers: at least one container is required");
  SKIFF_RETURN_IF_ERROR(ParseProbes(run));
  // Argo: the main container is "main"; the others are sidecars.
  const Json& annotations = run.pod["metadata"].value("annotations", Json::object());
  if (annotations.contains(kTemplateAnnotation)) {
    auto tmpl = ParseJson(StringField(annotations, kTemplateAnnotation));
    if (!tmpl.ok()) return tmpl.status().WithPrefix("metadata.annotations[workflows.argoproj.io/template]");
    run.argo_template = *tmpl;
    bool container_set = run.argo_template.contains("containerSet");
    if (!container_set) {
      for (auto& c : run.containers) {
        if (c.kind == ContainerRun::Kind::kMain && c.name != "main") c.kind = ContainerRun::Kind::kSidecar;
      }
    }
  }
  // Volumes.
  std::map<std::string, std::string> volume_dirs;
  if (const Json* vols = FindField(spec, "volumes"); vols != nullptr && vols->is_array()) {
    for (size_t i = 0; i < vols->size(); ++i) {
      const Json& v = (*vols)[i];
      std::string vname = StringField(v, "name");
      std::string path = "spec.volumes[" + std::to_string(i) + "]";
      std::string dir;
      if (v.contains("emptyDir")) {
        run.recyclable = false;
        dir = JoinPath(run.dir, "volumes/" + vname);
      } else if (const Json* hp = FindField(v, "hostPath")) {
        dir = StringField(*hp, "path");
      } else if (const Json* pvc = FindField(v, "persistentVolumeClaim")) {
        std::string claim = StringField(*pvc, "claimName");
        if (claim.empty()) return InvalidArgument(path + ".persistentVolumeClaim.claimName: required");
        dir = ClaimHostDir(options_.home, run.ns, claim);
      } else if (v.contains("configMap") || v.contains("secret")) {
        bool secret = v.contains("secret");
        const Json& src = secret ? v["secret"] : v["configMap"];
        std::string obj_name = StringField(src, secret ? "secretName" : "name");
        dir = JoinPath(run.dir, "volumes/" + vname);
        run.recyclable = false;
        SKIFF_RETURN_IF_ERROR(MakeDirs(dir));
        auto obj = store_.Get({secret ? "Secret" : "ConfigMap", run.ns, obj_name});
        if (!obj.ok()) {
          if (src.value("optional", false)) continue;
          return NotFound(path + ": " + (secret ? "secret" : "configmap") + " \"" + obj_name + "\" not found");
        }
        for (const char* field : {"data", "stringData", "binaryData"}) {
          const Json* data = FindField(*obj, field);
          if (data == nullptr || !data->is_object()) continue;
          for (auto it = data->begin(); it != data->end(); ++it) {
            std::string value = ScalarToString(it.value());
            if (secret && std::string(field) == "data") value = Base64Decode(value);
            if (std::string(field) == "binaryData") value = Base64Decode(value);
            SKIFF_RETURN_IF_ERROR(WriteFile(JoinPath(dir, it.key()), value));
          }
        }
      } else if (v.contains("downwardAPI") || v.contains("projected")) {
        run.recyclable = false;
        dir = JoinPath(run.dir, "volumes/" + vname);
      } else {
        return Unimplemented(path + ": volume type of \"" + vname + "\" is not supported on the local backend");
      }
      SKIFF_RETURN_IF_ERROR(MakeDirs(dir));
      volume_dirs[vname] = dir;
    }
  }
  // Mounts (the same for every container: the Pod shares one view, like Argo's emissary).
  bool tmp_mounted = false;
  std::set<std::string> targets;
  for (const auto& c : run.containers) {
    const Json* vms = FindField(c.spec, "volumeMounts");
    if (vms == nullptr || !vms->is_array()) continue;
    for (const auto& vm : *vms) {
      std::string vname = StringField(vm, "name");
      std::string target = StringField(vm, "mountPath");
      auto vd = volume_dirs.find(vname);
      if (vd == volume_dirs.end()) {
        return InvalidArgument("spec.containers[" + c.name + "].volumeMounts: volume \"" + vname + "\" not found");
      }
      if (!targets.insert(target).second) continue;
      std::string source = vd->second;
      std::string sub = StringField(vm, "subPath");
      if (!sub.empty()) {
        auto rel = SafeRelativePath(sub);
        if (!rel.ok()) return rel.status().WithPrefix("volumeMounts.subPath");
        source = JoinPath(source, *rel);
        if (PathIsBelow(source, run.dir)) run.recyclable = false;
        SKIFF_RETURN_IF_ERROR(MakeDirs(source));
      }
      run.mounts.push_back({"bind", source, target, vm.value("readOnly", false)});
      run.paths.AddMount(target, source);
      if (target == "/tmp") tmp_mounted = true;
    }
  }
  if (!tmp_mounted) {
    run.mounts.insert(run.mounts.begin(), MountSpec{"bind", JoinPath(run.dir, "tmp"), "/tmp", false});
    run.paths.AddMount("/tmp", JoinPath(run.dir, "tmp"));
  }
  SKIFF_RETURN_IF_ERROR(PrepareHostAliases(run));
  if (run.argo_template.contains("script")) {
    std::string staging = JoinPath(run.dir, "staging");
    run.recyclable = false;
    SKIFF_RETURN_IF_ERROR(MakeDirs(staging));
    run.mounts.push_back({"bind", staging, "/argo/staging", true});
    run.paths.AddMount("/argo/staging", staging);
  }
  // A mount inside another (a volume at /tmp/data under the private /tmp) needs its mount point
  // in the outer mount's source: made there, and mounted after the outer one.
  std::stable_sort(run.mounts.begin(), run.mounts.end(), [](const MountSpec& a, const MountSpec& b) {
    return std::count(a.target.begin(), a.target.end(), '/') < std::count(b.target.begin(), b.target.end(), '/');
  });
  std::set<std::string> nested;
  for (const auto& m : run.mounts) {
    const MountSpec* outer = nullptr;
    for (const auto& o : run.mounts) {
      if (!PathIsBelow(m.target, o.target)) continue;
      if (outer == nullptr || o.target.size() > outer->target.size()) outer = &o;
    }
    if (outer == nullptr) continue;
    std::string point = JoinPath(outer->source, m.target.substr(outer->target.size()));
    if (IsDirectory(m.source)) {
      SKIFF_RETURN_IF_ERROR(MakeDirs(point));
    } else if (!PathExists(point)) {
      SKIFF_RETURN_IF_ERROR(MakeDirs(DirName(point)));
      SKIFF_RETURN_IF_ERROR(WriteFile(point, ""));
    }
    if (PathIsBelow(point, run.dir)) run.recyclable = false;
    nested.insert(m.target);
  }
  // A private root when the Pod writes outside its mounts (Argo examples write /out, /mnt/...)
  // or asks for a working directory.
  bool needs_root = false;
  for (const auto& p : DeclaredPaths(run.argo_template)) {
    if (!run.paths.Mounted(p)) needs_root = true;
  }
  for (const auto& c : run.containers) {
    std::string wd = StringField(c.spec, "workingDir");
    if (!wd.empty() && !run.paths.Mounted(wd)) needs_root = true;
  }
  for (const auto& m : run.mounts) {
    if (m.target == "/etc/hosts" && PathExists(m.target)) continue;  // a file over a file
    if (m.target != "/tmp" && m.target != "/argo/staging" && !nested.count(m.target) && !IsDirectory(m.target)) {
      needs_root = true;
    }
  }
  if (needs_root && options_.isolate) {
    run.overlay_dir = JoinPath(run.dir, "root");
    run.recyclable = false;
    SKIFF_RETURN_IF_ERROR(MakeDirs(JoinPath(run.overlay_dir, "upper")));
    SKIFF_RETURN_IF_ERROR(MakeDirs(JoinPath(run.overlay_dir, "work")));
    SKIFF_RETURN_IF_ERROR(MakeDirs(JoinPath(run.overlay_dir, "merged")));
    run.paths.SetOverlayUpper(JoinPath(run.overlay_dir, "upper"));
    run.cwd = "/";
  } else if (options_.isolate) {
    // The Pod's private /tmp doubles as its working directory: relative writes stay private.
    run.cwd = "/tmp";
  } else {
    run.cwd = JoinPath(run.dir, "work");
    run.recyclable = false;
    SKIFF_RETURN_IF_ERROR(MakeDirs(run.cwd));
  }
  return OkStatus();
}

// `spec.hostAliases`: the Pod sees the host's /etc/hosts plus its aliases, from a file of its
// own bind-mounted over /etc/hosts in its mount namespace (Kubernetes' kubelet writes a managed
// hosts file the same way). The training controller names every replica this way
// (`127.0.0.1 job-master-0 job-worker-0`), so Kubeflow's DNS names resolve locally.
Status Kubelet::PrepareHostAliases(PodRun& run) {
  const Json* aliases = FindField(run.pod["spec"], "hostAliases");
  if (aliases == nullptr || aliases->is_null()) return OkStatus();
  if (!aliases->is_array()) return InvalidArgument("spec.hostAliases: must be a list");
  std::string entries;
  for (size_t i = 0; i < aliases->size(); ++i) {
    const Json& a = (*aliases)[i];
    std::string path = "spec.hostAliases[" + std::to_string(i) + "]";
    std::string ip = a.is_object() ? StringField(a, "ip") : "";
    in6_addr addr{};
    if (::inet_pton(AF_INET, ip.c_str(), &addr) != 1 && ::inet_pton(AF_INET6, ip.c_str(), &addr) != 1) {
      return InvalidArgument(path + ".ip: \"" + ip + "\" is not a valid IP address");
    }
    const Json* names = FindField(a, "hostnames");
    if (names == nullptr || !names->is_array() || names->empty()) {
      return InvalidArgument(path + ".hostnames: at least one hostname is required");
    }
    std::string line = ip;
    for (size_t k = 0; k < names->size(); ++k) {
      std::string name = ScalarToString((*names)[k]);
      if (name.empty() || name.find_first_of(" \t\r\n#") != std::string::npos) {
        return InvalidArgument(path + ".hostnames[" + std::to_string(k) + "]: \"" + name +
                               "\" is not a valid hostname");
      }
      line += "\t" + name;
    }
    entries += line + "\n";
    run.host_aliases.emplace_back(ip, std::vector<std::string>{});
    for (const auto& n : *names) run.host_aliases.back().second.push_back(ScalarToString(n));
  }
  if (entries.empty()) return OkStatus();
  std::string hosts = ReadFile("/etc/hosts").value_or("127.0.0.1\tlocalhost\n");
  if (!hosts.empty() && hosts.back() != '\n') hosts += '\n';
  hosts += "\n# Entries added by HostAliases.\n" + entries;
  std::string file = JoinPath(run.dir, "etc-hosts");
  SKIFF_RETURN_IF_ERROR(WriteFile(file, hosts));
  run.recyclable = false;  // the directory holds more than the private /tmp
  run.mounts.push_back({"bind", file, "/etc/hosts", true});
  return OkStatus();
}

void Kubelet::BeginPod(PodRun& run) {
  const Json& status = run.pod.value("status", Json::object());
  if (auto t = ParseRfc3339(StringField(status, "startTime")); t.ok()) {
    run.start_ms = std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
  }
  Status s = PreparePod(run);
  if (!s.ok()) {
    FailPod(run, "CreateContainerConfigError", s.message());
    return;
  }
  run.prepared = true;
  // Adoption: what each container already did, from its supervisor records.
  bool any_started = false;
  for (auto& c : run.containers) {
    // Find the latest attempt on disk.
    for (int attempt = 0;; ++attempt) {
      std::string id = run.uid + "/" + c.name + (attempt ? "/" + std::to_string(attempt) : "");
      std::string dir = ContainerDir(run, c, attempt);
      ProcessStatus st = ReadProcessStatusFromDir(dir);
      if (st.state == ProcessStatus::State::kUnknown) break;
      any_started = true;
      c.restarts = attempt;
      c.proc_id = id;
      c.last = st;
      c.state = st.state == ProcessStatus::State::kExited ? ContainerRun::State::kTerminated
                                                          : ContainerRun::State::kStarting;
      process_to_pod_[id] = run.uid;
    }
  }
  if (run.start_ms == 0) run.start_ms = NowMs();
  if (const Json* ads = FindField(run.pod["spec"], "activeDeadlineSeconds"); ads != nullptr && ads->is_number()) {
    run.deadline_ms = run.start_ms + ads->get<int64_t>() * 1000;
  }
  if (Status g = JoinGang(run); !g.ok()) {
    FailPod(run, "CreateContainerConfigError", g.message());
    return;
  }
  if (run.finished) return;  // its gang can never fit
  if (!any_started && !run.argo_template.is_null()) {
    Status staged = StageArgoInputs(run.argo_template, run.paths, JoinPath(run.dir, "staging"), artifacts_);
    if (!staged.ok()) {
      FailPod(run, "Error", staged.message());
      return;
    }
  }
  // Re-attach to processes that were running: a Start for a known id starts nothing.
  for (auto& c : run.containers) {
    if (c.state == ContainerRun::State::kStarting) {
      Status st = StartContainer(run, c);
      if (!st.ok()) LogWarn("re-attach failed", {{"pod", run.name}, {"error", st.message()}});
    }
  }
  StartNext(run);
}

Status Kubelet::StartContainer(PodRun& run, ContainerRun& c) {
  SKIFF_ASSIGN_OR_RETURN(ProcessSpec ps, ContainerProcess(run, c));
  SKIFF_RETURN_IF_ERROR(MakeDirs(ps.dir));
  c.proc_id = ps.id;
  c.process = ps;
  process_to_pod_[ps.id] = run.uid;
  if (c.state == ContainerRun::State::kWaiting) c.state = ContainerRun::State::kStarting;
  SKIFF_RETURN_IF_ERROR(EnsureSupervisor());
  return supervisor_->Start(ps);
}

std::pair<int64_t, int64_t> Kubelet::ContainerRequests(const PodRun& run, const ContainerRun& c) const {
  bool first_main = c.kind == ContainerRun::Kind::kMain &&
                    &c == &*std::find_if(run.containers.begin(), run.containers.end(), [](const ContainerRun& x) {
                      return x.kind == ContainerRun::Kind::kMain;
                    });
  return {ResourceRequest(c.spec, "cpu", true, first_main ? options_.default_cpu_millis : 0),
          ResourceRequest(c.spec, "memory", false, 0)};
}

// Where user code finds its server and execution, and the file it logs to without a server
// (metadata/pod_log.h); set after the container's own `env`, which may override only
// SKIFF_SERVER, and PATH/PYTHONPATH extended rather than replaced.
void Kubelet::AddMetadataEnv(const PodRun& run, std::vector<std::string>& env) const {
  auto get = [&env](const std::string& k) -> std::string* {
    for (auto& e : env) {
      if (e.compare(0, k.size() + 1, k + "=") == 0) return &e;
    }
    return nullptr;
  };
  auto set = [&](const std::string& k, const std::string& v) {
    if (std::string* e = get(k)) {
      *e = k + "=" + v;
    } else {
      env.push_back(k + "=" + v);
    }
  };
  auto set_default = [&](const std::string& k, const std::string& v) {
    if (get(k) == nullptr) env.push_back(k + "=" + v);
  };
  // The directory is created by whoever logs first (a Pod that logs nothing costs nothing).
  std::string dir = metadata::PodMetadataDir(options_.home, run.uid);
  set("SKIFF_POD_NAMESPACE", run.ns);
  set("SKIFF_POD_NAME", run.name);
  set("SKIFF_POD_UID", run.uid);
  set("SKIFF_EXECUTION", run.name);
  set("SKIFF_METADATA_DIR", dir);
  set("SKIFF_METADATA_FILE", JoinPath(dir, "log.jsonl"));
  set("SKIFF_OUTPUT_DIR", JoinPath(dir, "outputs"));
  if (!server_url_.empty()) set_default("SKIFF_SERVER", server_url_);  // "" in `env` = offline
  if (!options_.sdk_dir.empty()) {
    std::string* path = get("PATH");
    set("PATH", (path != nullptr ? path->substr(5) + ":" : "") + JoinPath(options_.sdk_dir, "bin"));
    std::string* py = get("PYTHONPATH");
    std::string mine = JoinPath(options_.sdk_dir, "python");
    set("PYTHONPATH", py != nullptr && py->size() > 11 ? py->substr(11) + ":" + mine : mine);
  }
}

Result<ProcessSpec> Kubelet::ContainerProcess(PodRun& run, ContainerRun& c) {
  const Json& pod = run.pod;
  const Json& meta = pod["metadata"];
  std::string image = StringField(c.spec, "image");
  std::vector<std::string> env = {"PATH=" + runtime_.PathFor(image), "HOSTNAME=" + run.name,
                                  "HOME=/root"};
  auto set_env = [&env](const std::string& k, const std::string& v) {
    for (auto& e : env) {
      if (e.compare(0, k.size() + 1, k + "=") == 0) {
        e = k + "=" + v;
        return;
      }
    }
    env.push_back(k + "=" + v);
  };
  auto lookup = [&](const char* kind, const std::string& name, const std::string& key,
                    bool optional, std::string* out) -> Status {
    auto obj = store_.Get({kind, run.ns, name});
    if (!obj.ok()) {
      if (optional) return OkStatus();
      return NotFound(std::string(kind) + " \"" + name + "\" not found");
    }
    bool secret = std::string(kind) == "Secret";
    for (const char* field : {"data", "stringData"}) {
      const Json* data = FindField(*obj, field);
      if (data != nullptr && data->contains(key)) {
        *out = ScalarToString((*data)[key]);
        if (secret && std::string(field) == "data") *out = Base64Decode(*out);
        return OkStatus();
      }
    }
    if (optional) return OkStatus();
    return NotFound(std::string(kind) + " \"" + name + "\" has no key \"" + key + "\"");
  };
  if (const Json* from = FindField(c.spec, "envFrom"); from != nullptr && from->is_array()) {
    for (const auto& f : *from) {
      std::string prefix = StringField(f, "prefix");
      bool secret = f.contains("secretRef");
      const Json& ref = secret ? f["secretRef"] : f.value("configMapRef", Json::object());
      auto obj = store_.Get({secret ? "Secret" : "ConfigMap", run.ns, StringField(ref, "name")});
      if (!obj.ok()) {
        if (ref.value("optional", false)) continue;
        return NotFound(std::string(secret ? "Secret" : "ConfigMap") + " \"" + StringField(ref, "name") + "\" not found");
      }
      for (const char* field : {"data", "stringData"}) {
        const Json* data = FindField(*obj, field);
        if (data == nullptr || !data->is_object()) continue;
        for (auto it = data->begin(); it != data->end(); ++it) {
          std::string v = ScalarToString(it.value());
          if (secret && std::string(field) == "data") v = Base64Decode(v);
          set_env(prefix + it.key(), v);
        }
      }
    }
  }
  if (const Json* list = FindField(c.spec, "env"); list != nullptr && list->is_array()) {
    for (const auto& e : *list) {
      std::string name = StringField(e, "name");
      std::string value;
      if (e.contains("value")) {
        value = ExpandKubeVars(ScalarToString(e["value"]), env);
      } else if (const Json* vf = FindField(e, "valueFrom")) {
        if (const Json* fr = FindField(*vf, "fieldRef")) {
          std::string path = StringField(*fr, "fieldPath");
          if (path == "metadata.name") value = run.name;
          else if (path == "metadata.namespace") value = run.ns;
          else if (path == "metadata.uid") value = run.uid;
          else if (path == "spec.nodeName") value = options_.node_name;
          else if (path == "spec.serviceAccountName") value = StringField(pod["spec"], "serviceAccountName", "default");
          else if (path == "status.podIP" || path == "status.hostIP") value = "127.0.0.1";
          else if (path.rfind("metadata.labels['", 0) == 0 || path.rfind("metadata.annotations['", 0) == 0) {
            bool labels = path[9] == 'l';
            size_t q = path.find('\'');
            std::string key = path.substr(q + 1, path.rfind('\'') - q - 1);
            value = StringField(meta.value(labels ? "labels" : "annotations", Json::object()), key);
          }
        } else if (const Json* cm = FindField(*vf, "configMapKeyRef")) {
          SKIFF_RETURN_IF_ERROR(lookup("ConfigMap", StringField(*cm, "name"), StringField(*cm, "key"),
                                       cm->value("optional", false), &value));
        } else if (const Json* sk = FindField(*vf, "secretKeyRef")) {
          SKIFF_RETURN_IF_ERROR(lookup("Secret", StringField(*sk, "name"), StringField(*sk, "key"),
                                       sk->value("optional", false), &value));
        } else if (const Json* rf = FindField(*vf, "resourceFieldRef")) {
          std::string res = StringField(*rf, "resource");
          value = res.find("cpu") != std::string::npos
                      ? std::to_string(std::max<int64_t>(1, ResourceRequest(c.spec, "cpu", true, 1000) / 1000))
                      : std::to_string(ResourceRequest(c.spec, "memory", false, 0));
        }
      }
      set_env(name, value);
    }
  }
  AddMetadataEnv(run, env);
  SKIFF_ASSIGN_OR_RETURN(std::vector<std::string> argv, runtime_.ResolveArgv(c.spec, env));

  ProcessSpec ps;
  ps.id = run.uid + "/" + c.name + (c.restarts ? "/" + std::to_string(c.restarts) : "");
  ps.dir = ContainerDir(run, c, c.restarts);
  ps.argv = std::move(argv);
  ps.env = std::move(env);
  std::string wd = StringField(c.spec, "workingDir");
  ps.cwd = wd.empty() ? run.cwd : wd;
  if (!wd.empty() && run.overlay_dir.empty()) {
    // Without a private root the working directory is created on the host.
    SKIFF_RETURN_IF_ERROR(MakeDirs(run.paths.ForWrite(wd)));
    ps.cwd = run.paths.ForWrite(wd);
  }
  ps.stdout_path = LogPath(options_.home, run.uid, c.name, false);
  ps.stderr_path = LogPath(options_.home, run.uid, c.name, true);
  ps.isolate = options_.isolate;
  ps.root_overlay_dir = run.overlay_dir;
  ps.mounts = run.mounts;
  if (!run.overlay_dir.empty()) {
    // A private root would keep what user code logs from the recorder.
    std::string mdir = metadata::PodMetadataDir(options_.home, run.uid);
    SKIFF_RETURN_IF_ERROR(MakeDirs(mdir));
    ps.mounts.push_back({"bind", mdir, mdir, false});
  }
  std::tie(ps.cpu_millis, ps.memory_bytes) = ContainerRequests(run, c);
  if (!run.gang_unit.empty() && c.kind != ContainerRun::Kind::kInit && c.restarts == 0) {
    ps.gang = run.gang_unit;
    ps.gang_size = run.gang_processes;
  }
  ps.deadline_unix_ms = run.deadline_ms;
  // Start order among Pods waiting for a slot: spec.priority first (as kube-scheduler orders its
  // queue), then the engine's rank (work still behind the step), so that a long chain of steps
  // is not left until every independent step has run.
  ps.priority = PodPriority(pod);
  ps.grace_ms = 2000;
  if (const Json* g = FindField(run.pod["spec"], "terminationGracePeriodSeconds"); g != nullptr && g->is_number()) {
    ps.grace_ms = g->get<int64_t>() * 1000;
  }
  return ps;
}

// Starts whatever may start now: the next init container, else every main container and
// sidecar not yet started; finishes the Pod when its main containers are done.
void Kubelet::StartNext(PodRun& run) {
  if (run.finished || run.deleting) return;
  for (auto& c : run.containers) {
    if (c.kind != ContainerRun::Kind::kInit) continue;
    if (c.state == ContainerRun::State::kTerminated) {
      if (c.last.exit_code != 0 || c.last.reason != "Completed") {
        FailPod(run, c.last.reason == "DeadlineExceeded" ? "DeadlineExceeded" : "Error",
                "init container \"" + c.name + "\" failed: " +
                    (c.last.message.empty() ? "exit code " + std::to_string(c.last.exit_code) : c.last.message));
        return;
      }
      continue;
    }
    if (c.state == ContainerRun::State::kWaiting) {
      Status s = StartContainer(run, c);
      if (!s.ok()) FailPod(run, "CreateContainerError", s.message());
    }
    return;  // one init container at a time
  }
  bool mains_done = true;
  bool any_main = false;
  for (auto& c : run.containers) {
    if (c.kind == ContainerRun::Kind::kInit) continue;
    // A gang member's first attempt waits until its gang has formed (kubelet_gangs.cc).
    bool waits_for_gang = !run.gang.empty() && !run.gang_submitted && run.gang_unit.empty() &&
                          c.restarts == 0;
    if (c.state == ContainerRun::State::kWaiting && c.restart_at_ms <= NowMs() && !waits_for_gang) {
      Status s = StartContainer(run, c);
      if (!s.ok()) {
        FailPod(run, "CreateContainerError", s.message());
        return;
      }
    }
    if (c.kind == ContainerRun::Kind::kMain) {
      any_main = true;
      if (c.state != ContainerRun::State::kTerminated) mains_done = false;
    }
  }
  if (any_main && mains_done) {
    // Stop the sidecars, then finish.
    bool sidecars_done = true;
    for (auto& c : run.containers) {
      if (c.kind == ContainerRun::Kind::kSidecar && c.state != ContainerRun::State::kTerminated) {
        sidecars_done = false;
        Status s = EnsureSupervisor();
        if (s.ok()) s = supervisor_->Kill(c.proc_id, std::chrono::seconds(0));
        (void)s;
      }
    }
    if (sidecars_done) FinishPod(run);
  }
}

void Kubelet::OnSupervisorReadable() {
  if (!supervisor_) return;
  auto events = supervisor_->ReadEvents();
  if (!events.ok()) {
    LogWarn("supervisor connection lost; reconnecting", {{"error", events.status().message()}});
    Status s = Reconnect();
    if (!s.ok()) {
      LogError("cannot reconnect to the supervisor", {{"error", s.message()}});
      loop_.After(std::chrono::seconds(1), [this] { OnSupervisorReadable(); });
      return;
    }
    // Re-submit every unfinished container: nothing runs twice.
    for (auto& [uid, run] : pods_) {
      for (auto& c : run->containers) {
        if (c.state == ContainerRun::State::kStarting || c.state == ContainerRun::State::kRunning) {
          Status st = StartContainer(*run, c);
          (void)st;
        }
      }
    }
    return;
  }
  for (const auto& st : *events) OnProcess(st);
}

void Kubelet::OnProcess(const ProcessStatus& event) {
  if (OnExecProbeProcess(event)) return;
  ProcessStatus st = event;
  auto pit = process_to_pod_.find(st.id);
  if (pit == process_to_pod_.end()) return;
  auto it = pods_.find(pit->second);
  if (it == pods_.end()) return;
  PodRun& run = *it->second;
  ContainerRun* c = nullptr;
  for (auto& x : run.containers) {
    if (x.proc_id == st.id) c = &x;
  }
  if (c == nullptr) return;
  if (st.state == ProcessStatus::State::kExited && !c->probe_kill_message.empty()) {
    // Killed by the kubelet for a failed liveness or startup probe: for restartPolicy it ended
    // like a crash (Kubernetes reports reason Error with the signal's exit code).
    st.reason = "Error";
    st.message = c->probe_kill_message;
    c->probe_kill_message.clear();
  }
  c->last = st;
  bool changed = false;
  const bool was_pending = run.phase == "Pending";
  switch (st.state) {
    case ProcessStatus::State::kQueued:
      c->waiting_reason = "WaitingForResources";
      if (run.scheduled) {
        run.scheduled = false;
        changed = true;
      }
      break;
    case ProcessStatus::State::kRunning:
      if (!st.isolated && !run.host_aliases.empty() && !run.warned_unisolated) {
        // The fallback of every isolation step: run anyway, and say so where users look.
        run.warned_unisolated = true;
        std::string note =
            "spec.hostAliases not applied: mount namespaces are unavailable here, so the Pod sees "
            "the host's /etc/hosts";
        if (run.message.empty()) run.message = note;
        LogWarn("pod runs without isolation", {{"pod", run.ns + "/" + run.name}, {"note", note}});
        RecordEvent(run, "Warning", "HostAliasesNotApplied", note, c->name);
        changed = true;
      }
      if (c->state != ContainerRun::State::kRunning) {
        c->state = ContainerRun::State::kRunning;
        run.scheduled = true;
        if (run.phase == "Pending") run.phase = "Running";
        changed = true;
        if (!run.deleting && !run.finished) StartProbes(run, *c);
      }
      break;
    case ProcessStatus::State::kExited: {
      c->state = ContainerRun::State::kTerminated;
      StopProbes(*c);
      Status fs = supervisor_ ? supervisor_->Forget(st.id) : OkStatus();
      (void)fs;
      if (st.reason == "DeadlineExceeded") run.deadline_hit = true;
      if (st.reason == "Unschedulable") {
        FailPod(run, "Unschedulable", st.message);
        return;
      }
      // Restart policy for regular containers.
      std::string policy = StringField(run.pod["spec"], "restartPolicy", "Always");
      bool failed = st.exit_code != 0;
      bool restart = c->kind != ContainerRun::Kind::kInit && !run.deleting && !run.deadline_hit &&
                     st.reason != "Killed" && st.reason != "StartError" &&
                     (policy == "Always" || (policy == "OnFailure" && failed));
      if (c->kind == ContainerRun::Kind::kSidecar) restart = false;
      if (restart) {
        c->previous = st;
        c->restarts++;
        c->state = ContainerRun::State::kWaiting;
        int64_t backoff = std::min<int64_t>(300000, 10000LL << std::min(c->restarts - 1, 5));
        c->restart_at_ms = NowMs() + backoff;
        c->waiting_reason = "CrashLoopBackOff";
        loop_.After(std::chrono::milliseconds(backoff), [this, uid = run.uid] {
          auto p = pods_.find(uid);
          if (p != pods_.end()) StartNext(*p->second);
        });
      }
      changed = true;
      break;
    }
    case ProcessStatus::State::kUnknown:
      break;
  }
  if (run.deleting) {
    bool all_done = std::all_of(run.containers.begin(), run.containers.end(), [](const ContainerRun& x) {
      return x.state == ContainerRun::State::kTerminated || x.state == ContainerRun::State::kWaiting;
    });
    if (all_done) FinishPod(run);
    return;
  }
  // When the last member of a gang turns Running, the gang's statuses are written at the end of
  // this loop turn instead of after the batch delay: controllers and peers wait for the whole
  // gang (MPI's WaitForWorkersReady, "all replicas Running"), and a gang is a long-running
  // parallel job, not a short step whose second write the delay would save. The members that
  // turned Running before it are still written together with it, in one commit.
  bool gang_running = false;
  if (!run.gang.empty() && was_pending && run.phase == "Running") {
    auto g = gangs_.find(run.gang);
    gang_running = g != gangs_.end() && static_cast<int>(g->second.members.size()) >= g->second.pods &&
                   std::all_of(g->second.members.begin(), g->second.members.end(), [this](const std::string& uid) {
                     auto p = pods_.find(uid);
                     return p == pods_.end() || p->second->phase != "Pending";
                   });
  }
  if (changed && !run.finished) QueueStatus(run, gang_running);
  StartNext(run);
}

void Kubelet::FinishPod(PodRun& run) {
  if (run.finished) return;
  run.finished = true;
  Json outputs;
  const ContainerRun* main = nullptr;
  bool all_ok = true;
  std::string message;
  for (const auto& c : run.containers) {
    if (c.kind != ContainerRun::Kind::kMain) continue;
    if (main == nullptr || c.name == "main") main = &c;
    if (c.state != ContainerRun::State::kTerminated || c.last.exit_code != 0) {
      all_ok = false;
      if (message.empty()) {
        message = c.last.reason == "StartError" || c.last.reason == "Lost" ? c.last.message : "";
      }
    }
  }
  if (run.deleting) {
    run.phase = "Failed";
    run.reason = "Deleted";
    run.message = "pod deleted";
  } else if (run.deadline_hit) {
    run.phase = "Failed";
    run.reason = "DeadlineExceeded";
    run.message = "Pod was active on the node longer than the specified deadline";
  } else {
    run.phase = all_ok ? "Succeeded" : "Failed";
    if (!all_ok) {
      run.reason = "Error";
      run.message = message;
    }
  }
  if (!run.argo_template.is_null() && main != nullptr && !run.deleting) {
    std::string wf = StringField(run.pod["metadata"].value("labels", Json::object()), "workflows.argoproj.io/workflow");
    auto collected = CollectArgoOutputs(run.argo_template, run.paths,
                                        LogPath(options_.home, run.uid, main->name, false),
                                        main->last.exit_code, wf + "/" + run.name, artifacts_);
    if (collected.ok()) {
      outputs = *collected;
    } else if (run.phase == "Succeeded") {
      run.phase = "Failed";
      run.reason = "OutputsError";
      run.message = collected.status().message();
      outputs = Json{{"exitCode", std::to_string(main->last.exit_code)}};
    } else {
      outputs = Json{{"exitCode", std::to_string(main->last.exit_code)}};
    }
  }
  if (!run.deleted) WriteStatus(run, outputs.is_null() ? nullptr : &outputs);
  if (run.deleting && !run.deleted) {
    // Graceful deletion (deletionTimestamp): the object goes once its containers are gone.
    Status s = store_.Delete({"Pod", run.ns, run.name});
    (void)s;
    run.deleted = true;
  }
  Forget(run);
}

void Kubelet::FailPod(PodRun& run, const std::string& reason, const std::string& message) {
  bool running = false;
  for (auto& c : run.containers) StopProbes(c);
  for (auto& c : run.containers) {
    if (c.state == ContainerRun::State::kStarting || c.state == ContainerRun::State::kRunning) {
      running = true;
      Status s = EnsureSupervisor();
      if (s.ok()) s = supervisor_->Kill(c.proc_id, std::chrono::seconds(0));
      (void)s;
    }
  }
  run.phase = "Failed";
  run.reason = reason;
  run.message = message;
  run.finished = true;
  if (!run.deleted) WriteStatus(run);
  if (!running) Forget(run);
}

void Kubelet::KillPod(PodRun& run, Duration grace, const std::string& reason) {
  run.deleting = true;
  for (auto& c : run.containers) StopProbes(c);
  bool any = false;
  for (auto& c : run.containers) {
    if (c.state == ContainerRun::State::kStarting || c.state == ContainerRun::State::kRunning) {
      any = true;
      Status s = EnsureSupervisor();
      if (s.ok()) s = supervisor_->Kill(c.proc_id, grace);
      (void)s;
    }
  }
  (void)reason;
  if (!any) FinishPod(run);
}

void Kubelet::Forget(PodRun& run) {
  for (auto& c : run.containers) StopProbes(c);
  LeaveGang(run);
  for (const auto& c : run.containers) {
    process_to_pod_.erase(c.proc_id);
    // The Pod's final status is in the store: its records are not needed any more.
    if (run.finished) {
      for (int attempt = 0; attempt <= c.restarts; ++attempt) {
        Status s = RemoveAll(ContainerDir(run, c, attempt));
        (void)s;
      }
    }
  }
  std::string uid = run.uid;
  bool deleted = run.deleted;
  if (deleted) {
    RemovePodFiles(options_.home, run.pod);
  } else if (!run.deleting && run.finished) {
    // Outputs are collected: a directory with nothing but an empty /tmp goes to the pool for
    // the next Pod; the private root is not needed any more. Logs stay until the Pod goes.
    if (run.recyclable && run.prepared && DirIsEmpty(JoinPath(run.dir, "tmp")) &&
        ::rename(run.dir.c_str(), JoinPath(pool_dir_, run.uid).c_str()) == 0) {
      free_dirs_.push_back(run.uid);
    } else if (!run.overlay_dir.empty()) {
      Status s = RemoveAll(run.overlay_dir);
      (void)s;
    }
  }
  loop_.Post([this, uid] {
    pods_.erase(uid);
    AdmitWaiting();
  });
}

// A `v1/Event` about the Pod, as the kubelet records them (`kubectl describe pod`, `kubectl get
// events`); owned by the Pod so that it goes with it.
void Kubelet::RecordEvent(const PodRun& run, const std::string& type, const std::string& reason,
                          const std::string& message, const std::string& container) {
  std::string ts = FormatRfc3339(SystemClock::Get().Now());
  Json involved = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"name", run.name}, {"namespace", run.ns},
                   {"uid", run.uid}};
  if (!container.empty()) involved["fieldPath"] = "spec.containers{" + container + "}";
  Json ev = {{"apiVersion", "v1"},
             {"kind", "Event"},
             {"metadata",
              {{"name", run.name + "." + RandomSuffix(10)},
               {"namespace", run.ns},
               {"ownerReferences",
                {{{"apiVersion", "v1"}, {"kind", "Pod"}, {"name", run.name}, {"uid", run.uid}}}}}},
             {"involvedObject", involved},
             {"reason", reason},
             {"message", message},
             {"type", type},
             {"count", 1},
             {"firstTimestamp", ts},
             {"lastTimestamp", ts},
             {"source", {{"component", "kubelet"}, {"host", options_.node_name}}},
             {"reportingComponent", "kubelet"}};
  auto r = store_.Create(ev);
  if (!r.ok()) LogWarn("cannot record event", {{"pod", run.name}, {"error", r.status().message()}});
}

void Kubelet::RemovePodFiles(const std::string& home, const Json& pod) {
  std::string uid = StringField(pod["metadata"], "uid");
  if (uid.empty() || uid.find('/') != std::string::npos) return;
  for (const char* section : {"initContainers", "containers"}) {
    const Json* list = FindField(pod["spec"], section);
    if (list == nullptr || !list->is_array()) continue;
    for (const auto& c : *list) {
      std::string name = StringField(c, "name");
      if (name.empty() || name.find('/') != std::string::npos) continue;
      ::unlink(LogPath(home, uid, name, false).c_str());
      ::unlink(LogPath(home, uid, name, true).c_str());
    }
  }
  if (std::string mdir = metadata::PodMetadataDir(home, uid); PathExists(mdir)) RemoveAll(mdir).IgnoreError();
  std::string dir = JoinPath(home, "pods/" + uid);
  if (PathExists(dir)) {
    Status s = RemoveAll(dir);
    (void)s;
  }
}

Json Kubelet::BuildStatus(const PodRun& run) const {
  Json status = Json::object();
  status["phase"] = run.phase;
  status["hostIP"] = "127.0.0.1";
  status["podIP"] = "127.0.0.1";
  status["startTime"] = MsToRfc3339(run.start_ms);
  if (!run.reason.empty()) status["reason"] = run.reason;
  if (!run.message.empty()) status["message"] = run.message;
  Json inits = Json::array();
  Json mains = Json::array();
  double cpu = 0;
  int64_t rss = 0;
  bool all_ready = true;
  bool inits_done = true;
  for (const auto& c : run.containers) {
    // `imageID` is required by Kubernetes clients (python-kubernetes rejects a status without it).
    Json cs = {{"name", c.name}, {"image", StringField(c.spec, "image")}, {"imageID", ""},
               {"restartCount", c.restarts}};
    bool running = c.state == ContainerRun::State::kRunning;
    // Readiness and startup probes decide these; without probes a running container is both.
    cs["ready"] = running && c.started && c.ready;
    cs["started"] = running && c.started;
    cs["lastState"] = c.previous ? Json{{"terminated", TerminatedJson(*c.previous)}} : Json::object();
    if (c.state == ContainerRun::State::kTerminated) {
      cs["state"] = {{"terminated", TerminatedJson(c.last)}};
      cpu += c.last.cpu_seconds;
      rss = std::max(rss, c.last.max_rss_bytes);
      cs["usage"] = {{"cpuSeconds", c.last.cpu_seconds}, {"maxRSSBytes", c.last.max_rss_bytes}};
    } else if (running) {
      cs["state"] = {{"running", {{"startedAt", MsToRfc3339(c.last.started_unix_ms)}}}};
    } else {
      cs["state"] = {{"waiting", {{"reason", c.waiting_reason}}}};
    }
    if (c.kind == ContainerRun::Kind::kInit) {
      if (c.state != ContainerRun::State::kTerminated) inits_done = false;
      inits.push_back(cs);
    } else {
      if (!cs["ready"].get<bool>()) all_ready = false;
      mains.push_back(cs);
    }
  }
  if (!inits.empty()) status["initContainerStatuses"] = inits;
  status["containerStatuses"] = mains;
  std::string now = FormatRfc3339(SystemClock::Get().Now());
  // A condition keeps its lastTransitionTime while its status stays the same.
  const Json& before = run.pod.value("status", Json::object()).value("conditions", Json::array());
  auto cond = [&](const char* type, bool ok, const char* reason = nullptr,
                  const std::string& message = "") {
    std::string status_text = ok ? "True" : "False";
    std::string since = now;
    for (const auto& b : before) {
      if (b.is_object() && StringField(b, "type") == type && StringField(b, "status") == status_text &&
          !StringField(b, "lastTransitionTime").empty()) {
        since = StringField(b, "lastTransitionTime");
      }
    }
    Json c = {{"type", type}, {"status", status_text}, {"lastTransitionTime", since}};
    if (reason != nullptr && !ok) c["reason"] = reason;
    if (!message.empty() && !ok) c["message"] = message;
    return c;
  };
  bool unschedulable = run.reason == "Unschedulable";
  bool scheduled = !unschedulable && (run.scheduled || run.phase != "Pending");
  bool ready = all_ready && run.phase == "Running";
  status["conditions"] = Json::array(
      {cond("PodScheduled", scheduled, "Unschedulable", unschedulable ? run.message : ""),
       cond("Initialized", inits_done), cond("ContainersReady", ready, "ContainersNotReady"),
       cond("Ready", ready, "ContainersNotReady")});
  status["usage"] = {{"cpuSeconds", cpu}, {"maxRSSBytes", rss}};
  return status;
}

void Kubelet::WriteStatus(PodRun& run, const Json* outputs_annotation) {
  run.status_queued = false;
  Json obj = run.pod;
  obj["metadata"].erase("resourceVersion");
  obj["status"] = BuildStatus(run);
  store::Write write = store::Write::UpdateStatus(std::move(obj));
  if (outputs_annotation != nullptr) {
    // Outputs, the completed label and the final status: one write, one version, one event.
    Json& meta = write.object["metadata"];
    meta["annotations"][kOutputsAnnotation] = DumpJson(*outputs_annotation);
    if (meta.contains("labels") && (run.phase == "Succeeded" || run.phase == "Failed")) {
      // Argo marks finished Pods; harmless elsewhere.
      if (meta["labels"].contains("workflows.argoproj.io/completed")) {
        meta["labels"]["workflows.argoproj.io/completed"] = "true";
      }
    }
    write.op = store::Write::Op::kUpdateWithStatus;
  }
  auto r = store_.Commit({std::move(write)});
  if (!r.ok()) {
    if (r.status().code() != StatusCode::kNotFound) {
      LogWarn("cannot write pod status", {{"pod", run.name}, {"error", r.status().message()}});
    }
    return;
  }
  run.pod = std::move(r->back());
}

// Like the kubelet's status manager, intermediate states (scheduled, running, waiting for
// resources) are written in batches a moment later: a step that finishes within that moment
// costs one status write instead of three. Final states are written at once (WriteStatus).
void Kubelet::QueueStatus(PodRun& run, bool soon) {
  // One flush timer is pending exactly while statuses are queued (the destructor relies on it).
  if (!run.status_queued) {
    run.status_queued = true;
    queued_statuses_.push_back(run.uid);
    if (queued_statuses_.size() == 1 && !soon) {
      flush_timer_ = loop_.After(kStatusBatchDelay, [this] { FlushStatuses(); });
    }
  }
  if (soon) {
    loop_.Cancel(flush_timer_);  // a no-op once it fired
    flush_timer_ = loop_.After(Duration(0), [this] { FlushStatuses(); });
  }
}

void Kubelet::FlushStatuses() {
  std::vector<std::string> uids;
  uids.swap(queued_statuses_);
  std::vector<PodRun*> runs;
  std::vector<store::Write> writes;
  for (const auto& uid : uids) {
    auto it = pods_.find(uid);
    if (it == pods_.end()) continue;
    PodRun& run = *it->second;
    if (!run.status_queued || run.finished || run.deleted) continue;
    run.status_queued = false;
    runs.push_back(&run);
  }
  if (runs.empty()) return;
  auto status_write = [this](const PodRun& run) {
    Json obj = run.pod;
    obj["metadata"].erase("resourceVersion");
    obj["status"] = BuildStatus(run);
    return store::Write::UpdateStatus(std::move(obj));
  };
  for (const PodRun* run : runs) writes.push_back(status_write(*run));
  auto r = store_.Commit(std::move(writes));
  if (r.ok()) {
    for (size_t i = 0; i < runs.size(); ++i) runs[i]->pod = std::move((*r)[i]);
    return;
  }
  // One of them is gone (deleted meanwhile): write the others one by one.
  for (PodRun* run : runs) {
    auto one = store_.Commit({status_write(*run)});
    if (one.ok()) run->pod = std::move(one->back());
  }
}

}  // namespace skiff::local
