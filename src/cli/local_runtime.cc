#include "cli/local_runtime.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>

#include "api/url_fetch.h"
#include "cli/trial_metrics_api.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/trace_mark.h"

namespace skiff::cli {

extern const char kPythonSdkInit[];  // python/skiff/__init__.py (sdk_files.cc, generated)

namespace {

// `<home>/sdk`: the Python module and a `skiff` link for Pods (KubeletOptions::sdk_dir).
// Rewritten only when this binary's copy differs, so running Pods never see a half file.
Status PrepareSdk(const std::string& dir) {
  std::string init = JoinPath(dir, "python/skiff/__init__.py");
  auto current = ReadFile(init);
  if (!current.ok() || *current != kPythonSdkInit) {
    SKIFF_RETURN_IF_ERROR(MakeDirs(JoinPath(dir, "python/skiff")));
    SKIFF_RETURN_IF_ERROR(WriteFileAtomic(init, kPythonSdkInit));
  }
  SKIFF_RETURN_IF_ERROR(MakeDirs(JoinPath(dir, "bin")));
  std::string link = JoinPath(dir, "bin/skiff"), self = SelfExePath();
  char buf[4096];
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
  if (n < 0 || std::string(buf, static_cast<size_t>(n)) != self) {
    std::string tmp = link + ".tmp";
    ::unlink(tmp.c_str());
    if (::symlink(self.c_str(), tmp.c_str()) != 0 || ::rename(tmp.c_str(), link.c_str()) != 0) {
      return Internal("cannot link " + link + " to " + self);
    }
  }
  return OkStatus();
}

}  // namespace

std::string SkiffHome() {
  const char* env = std::getenv("SKIFF_HOME");
  if (env != nullptr && *env != '\0') return env;
  const char* home = std::getenv("HOME");
  return JoinPath(home != nullptr ? home : "/root", ".skiff");
}

Result<std::unique_ptr<LocalRuntime>> LocalRuntime::Open(const std::string& home,
                                                         const std::string& store_spec) {
  std::unique_ptr<LocalRuntime> rt(new LocalRuntime(home));
  rt->store_spec_ = store_spec;
  SKIFF_RETURN_IF_ERROR(MakeDirs(home));
  if (store_spec.empty()) {
    SKIFF_ASSIGN_OR_RETURN(rt->store_, store::OpenSqliteStore(JoinPath(home, "skiff.db")));
  } else {
    SKIFF_ASSIGN_OR_RETURN(rt->store_, store::OpenStore(store_spec));
  }
  rt->artifacts_ = std::make_unique<metadata::ArtifactStore>(JoinPath(home, "artifacts"));
  return rt;
}

LocalRuntime::~LocalRuntime() {
  isvcs_.reset();
  training_.reset();
  TraceMark("runtime closing");
  if (recorder_) recorder_->Flush().IgnoreError();  // steps that ended in the last moments
  TraceMark("lineage flushed");
  recorder_.reset();
  experiments_.reset();
  cron_workflows_.reset();
  jobs_.reset();
  workflows_.reset();
  kubelet_.reset();
  informer_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);
  TraceMark("runtime closed");
}

Result<bool> LocalRuntime::TryBecomeController() {
  if (lock_fd_ >= 0) return true;
  std::string path = JoinPath(home_, "controller.lock");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Internal("cannot open " + path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return false;
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) {
    ssize_t ignored = ::pwrite(fd, pid.data(), pid.size(), 0);
    (void)ignored;
  }
  lock_fd_ = fd;
  return true;
}

Result<metadata::LineageStore*> LocalRuntime::lineage() {
  if (!lineage_) {
    SKIFF_ASSIGN_OR_RETURN(lineage_, metadata::LineageStore::OpenForStore(store_spec_, JoinPath(home_, "lineage.db")));
  }
  return lineage_.get();
}

Status LocalRuntime::StartControllers() {
  if (lock_fd_ < 0) return FailedPrecondition("the controller lock is not held");
  informer_ = std::make_unique<store::Informer>(*store_, loop_);
  local::KubeletOptions ko;
  ko.home = home_;
  ko.supervisor_argv = {SelfExePath(), "supervisor"};
  if (const char* cpu = std::getenv("SKIFF_DEFAULT_CPU_MILLIS")) ko.default_cpu_millis = std::atoll(cpu);
  if (const char* iso = std::getenv("SKIFF_ISOLATE"); iso != nullptr && std::string(iso) == "0") ko.isolate = false;
  // Metadata logging from user code is optional: Pods run without it if it cannot be set up.
  if (Status sdk = PrepareSdk(JoinPath(home_, "sdk")); sdk.ok()) {
    ko.sdk_dir = JoinPath(home_, "sdk");
  } else {
    LogWarn("skiff log/python module unavailable to Pods", {{"error", sdk.message()}});
  }
  kubelet_ = std::make_unique<local::Kubelet>(ko, *store_, loop_, *artifacts_);
  workflows_ = std::make_unique<controllers::WorkflowController>(*store_, loop_, *informer_);
  jobs_ = std::make_unique<controllers::JobController>(*store_, loop_, *informer_);
  controllers::WorkQueueOptions cron_queue;
  cron_queue.resync_period = std::chrono::minutes(5);  // heals a missed event; schedules use timers
  cron_workflows_ = std::make_unique<controllers::CronWorkflowController>(*store_, loop_, *informer_,
                                                                          SystemClock::Get(), cron_queue);
  auto eo = KatibControllerOptions(home_, ko.isolate, [this] { return server_url_; });
  experiments_ = std::make_unique<controllers::ExperimentController>(*store_, loop_, *informer_, std::move(eo));
  // Training replicas share this machine: each gets its own port on 127.0.0.1. Host names
  // (resolved through the Pods' hostAliases) instead of 127.0.0.1 with SKIFF_TRAINING_HOSTNAMES=1.
  controllers::TrainingControllerOptions training_opts;
  if (const char* names = std::getenv("SKIFF_TRAINING_HOSTNAMES"); names != nullptr && std::string(names) == "1") {
    training_opts.loopback = false;
  }
  training_opts.checkpoint_root = JoinPath(home_, "jobs");
  training_opts.output_files = [home = home_](const std::string& pod_uid, const std::string& container) {
    return std::vector<std::string>{local::Kubelet::LogPath(home, pod_uid, container, false),
                                    local::Kubelet::LogPath(home, pod_uid, container, true)};
  };
  training_ = std::make_unique<controllers::TrainingController>(*store_, loop_, *informer_, SystemClock::Get(),
                                                                training_opts);
  // InferenceServices: replicas run this binary's model server; http:// models come through
  // the project's HTTP client into the data dir's model cache.
  controllers::IsvcControllerOptions isvc_opts;
  isvc_opts.data_dir = home_;
  isvc_opts.skiff_binary = SelfExePath();
  isvc_opts.stats = serving_stats_;
  isvc_opts.gateway_address = [this] {
    if (!gateway_address_.empty()) return gateway_address_;
    const std::string scheme = "http://";  // the server's own URL, once it listens
    return server_url_.rfind(scheme, 0) == 0 ? server_url_.substr(scheme.size()) : server_url_;
  };
  isvc_opts.http_head = [](const std::string& url) -> Result<controllers::RemoteObjectInfo> {
    SKIFF_ASSIGN_OR_RETURN(api::UrlHead h, api::HeadUrl(url));
    return controllers::RemoteObjectInfo{h.status, h.etag, h.content_length};
  };
  isvc_opts.http_download = api::DownloadUrl;
  isvcs_ = std::make_unique<controllers::InferenceServiceController>(*store_, loop_, *informer_, std::move(isvc_opts));
  // The informer records the current version first, so nothing written between it and the
  // listings below is missed (handlers only run once the loop turns; duplicates are harmless).
  SKIFF_RETURN_IF_ERROR(informer_->Start());
  TraceMark("informer started");
  SKIFF_RETURN_IF_ERROR(workflows_->Start());
  TraceMark("workflow controller started");
  SKIFF_RETURN_IF_ERROR(jobs_->Start());
  SKIFF_RETURN_IF_ERROR(cron_workflows_->Start());
  SKIFF_RETURN_IF_ERROR(experiments_->Start());
  SKIFF_RETURN_IF_ERROR(training_->Start());
  SKIFF_RETURN_IF_ERROR(isvcs_->Start());
  TraceMark("other controllers started");
  // Lineage is derived data: a recorder that cannot start must not stop the controllers.
  if (auto ls = lineage(); ls.ok()) {
    recorder_ = std::make_unique<controllers::LineageRecorder>(*store_, loop_, *informer_, **ls, *artifacts_, home_);
    Status rs = recorder_->Start();
    TraceMark("recorder started");
    if (!rs.ok()) LogWarn("lineage recorder did not start", {{"error", rs.message()}});
  } else {
    LogWarn("lineage store unavailable", {{"error", ls.status().message()}});
  }
  SKIFF_RETURN_IF_ERROR(kubelet_->Start());
  TraceMark("kubelet started");
  return OkStatus();
}

}  // namespace skiff::cli
