// `skiff run experiment.yaml`: runs a Katib Experiment to completion in this process.
#pragma once

#include <string>

#include "cli/local_runtime.h"

namespace skiff::cli {

// Follows a submitted Experiment until it Succeeded or Failed, acting as the controller when no
// other process does (with the Push collector's endpoint on an ephemeral loopback port). On a
// terminal it redraws a table of trials (name, status, parameters, objective), the best so far
// and an ETA; otherwise it prints one line per Trial state change. `output` "json"/"yaml"/"name"
// prints the final Experiment on stdout (progress then goes to stderr). Returns 0 iff the
// Experiment Succeeded.
int FollowExperiment(LocalRuntime& rt, const std::string& ns, const std::string& name,
                     const std::string& output, bool quiet);

}  // namespace skiff::cli
