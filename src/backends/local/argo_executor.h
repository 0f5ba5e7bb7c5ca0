// The local equivalent of Argo's in-Pod executor (argoexec): before a workflow step's main
// container starts it places input artifacts and the script source; after it exits it collects
// `outputs.result`, output parameters and output artifacts (archived into the artifact store).
// The step template comes from the Pod annotation `workflows.argoproj.io/template`, and the
// collected outputs go back in `workflows.argoproj.io/outputs`, as in Argo.
// Stateless functions; thread-compatible.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "metadata/artifact_store.h"

namespace skiff::local {

// Maps paths as a container sees them to host paths: mounts first (longest target wins), then
// the private root's upper layer when the Pod has one, else the host path itself.
class PathMap {
 public:
  void AddMount(std::string target, std::string source);
  void SetOverlayUpper(std::string upper) { upper_ = std::move(upper); }
  bool has_overlay() const { return !upper_.empty(); }
  // Where a file must be written so that the container sees it at `path`.
  std::string ForWrite(const std::string& path) const;
  // Where the container's file `path` is (after it ran).
  std::string ForRead(const std::string& path) const;
  // True if `path` is under a mount target.
  bool Mounted(const std::string& path) const;

 private:
  std::vector<std::pair<std::string, std::string>> mounts_;  // sorted: longest target first
  std::string upper_;
};

// Writes the script source (script templates) to `staging_dir/script` and materializes every
// input artifact at its path. Errors name the artifact.
Status StageArgoInputs(const Json& tmpl, const PathMap& paths, const std::string& staging_dir,
                       metadata::ArtifactStore& artifacts);

// Collects outputs after the main container exited with `exit_code`. `key_prefix` is
// "<workflow>/<pod>" for artifacts without an explicit key. Returns Argo's Outputs object.
Result<Json> CollectArgoOutputs(const Json& tmpl, const PathMap& paths,
                                const std::string& stdout_path, int exit_code,
                                const std::string& key_prefix, metadata::ArtifactStore& artifacts);

// Every path the template declares (artifact and parameter paths); used to decide whether the
// Pod needs a private root.
std::vector<std::string> DeclaredPaths(const Json& tmpl);

}  // namespace skiff::local
