#include "controllers/tuning/trial_checkpoint.h"

#include <filesystem>

#include "common/fs.h"
#include "controllers/tuning/metrics_collector.h"

namespace skiff::controllers {
namespace {

// The value of algorithm setting `name`, or "".
std::string AlgorithmSetting(const tuning::AlgorithmSpec& algorithm, const std::string& name) {
  for (const auto& [k, v] : algorithm.settings) {
    if (k == name) return v;
  }
  return "";
}

}  // namespace

CheckpointMount CheckpointFor(const tuning::AlgorithmSpec& algorithm, const std::string& exp_name,
                              const std::string& trial_name) {
  CheckpointMount m;
  m.mount_path = AlgorithmSetting(algorithm, "suggestion_trial_dir");
  if (m.mount_path.empty()) return m;
  m.claim = exp_name + "-" + algorithm.name;
  m.sub_path = exp_name + "/" + trial_name;
  return m;
}

void AddCheckpointVolume(Json& run, const std::string& primary, const CheckpointMount& m) {
  ForEachPrimaryContainer(run, primary, [&m](Json& pod_spec, Json& c) {
    if (!c.contains("volumeMounts") || !c["volumeMounts"].is_array()) c["volumeMounts"] = Json::array();
    c["volumeMounts"].push_back({{"name", kSuggestionVolume}, {"mountPath", m.mount_path}, {"subPath", m.sub_path}});
    AddVolumeOnce(pod_spec, {{"name", kSuggestionVolume}, {"persistentVolumeClaim", {{"claimName", m.claim}}}});
  });
}

Status PrepareCheckpointDir(const std::string& claim_dir, const CheckpointMount& m, const std::string& exp_name,
                            const std::string& parent_trial) {
  namespace fs = std::filesystem;
  const std::string dir = JoinPath(claim_dir, m.sub_path);
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return Internal("cannot clear checkpoint directory " + dir + ": " + ec.message());
  const std::string parent = parent_trial.empty() ? "" : JoinPath(claim_dir, exp_name + "/" + parent_trial);
  if (!parent.empty() && fs::is_directory(parent, ec)) {
    SKIFF_RETURN_IF_ERROR(MakeDirs(DirName(dir)));
    fs::copy(parent, dir, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
    if (ec) return Internal("cannot copy checkpoint " + parent + " to " + dir + ": " + ec.message());
    return OkStatus();
  }
  return MakeDirs(dir);
}

}  // namespace skiff::controllers
