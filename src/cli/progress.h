// Terminal progress for `skiff run` and `skiff get`: Argo-style node tree (STEP, TEMPLATE,
// PODNAME, DURATION, MESSAGE) redrawn in place on a TTY, or one plain line per node phase change
// otherwise (logs, CI). Not thread-safe; used from the loop thread.
#pragma once

#include <cstdio>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/json.h"
#include "engine/dag/nodes.h"

namespace skiff::cli {

using NodeMap = std::unordered_map<std::string, dag::NodeStatus>;

// Nodes from a Workflow JSON's status.nodes.
NodeMap NodesFromWorkflowJson(const Json& wf);

// The header (Name, Namespace, Status, ...) and node tree, as `argo get` prints them.
std::string RenderWorkflow(const Json& wf, const NodeMap& nodes, TimePoint now, bool color,
                           size_t max_rows = 0);

// "1m2s" style, as Argo prints durations.
std::string HumanDuration(Duration d);

class ProgressPrinter {
 public:
  ProgressPrinter(FILE* out, bool tty);
  void Update(const Json& wf, const NodeMap& nodes, bool force = false);
  // Like Update, when only the nodes `changed` may have changed since the last call (plain
  // lines then cost nothing for the other nodes).
  void UpdateChanged(const Json& wf, const NodeMap& nodes, const std::vector<std::string>& changed);
  // Leaves the final tree on screen (TTY) or prints the final status line.
  void Finish(const Json& wf, const NodeMap& nodes);

 private:
  // Plain lines for the nodes whose phase changed since they were last printed (not on a TTY).
  void PrintPhaseChanges(const std::vector<std::pair<const std::string*, const dag::NodeStatus*>>& nodes,
                         TimePoint now);

  FILE* out_;
  bool tty_;
  size_t last_lines_ = 0;
  TimePoint last_draw_{};
  std::unordered_map<std::string, dag::NodePhase> seen_;
};

}  // namespace skiff::cli
