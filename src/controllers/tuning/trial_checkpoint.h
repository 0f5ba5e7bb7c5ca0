// Katib's Trial checkpoint directories (the algorithm setting `suggestion_trial_dir`, used by
// PBT): Katib's webhook mounts the Suggestion's volume (PersistentVolumeClaim
// `<experiment>-<algorithm>`) in the Trial's primary container at that path, subPath
// `<experiment>/<trial>`, and the suggestion service fills the directory before the Trial runs:
// empty, or a copy of the parent Trial's (the member it continues or exploits). Pure functions
// except PrepareCheckpointDir, which writes under the claim's host directory.
#pragma once

#include <string>

#include "common/json.h"
#include "common/status.h"
#include "engine/tuning/sampler.h"

namespace skiff::controllers {

inline constexpr const char* kSuggestionVolume = "suggestion-volume";  // Katib's name for it

struct CheckpointMount {
  std::string mount_path;  // "" = the Experiment has no checkpoint directories
  std::string claim, sub_path;
};

// The mount for `trial_name` of Experiment `exp_name` under `algorithm`'s settings.
CheckpointMount CheckpointFor(const tuning::AlgorithmSpec& algorithm, const std::string& exp_name,
                              const std::string& trial_name);

// Adds the claim volume to every Pod spec in `run` whose containers include `primary`, and the
// mount to that container.
void AddCheckpointVolume(Json& run, const std::string& primary, const CheckpointMount& m);

// Makes `<claim_dir>/<m.sub_path>`: a copy of the parent Trial's directory, or empty. Called before
// the Trial is committed; a pass that does not commit leaves a directory that the next attempt
// at the same Trial replaces.
Status PrepareCheckpointDir(const std::string& claim_dir, const CheckpointMount& m,
                            const std::string& exp_name, const std::string& parent_trial);

}  // namespace skiff::controllers
