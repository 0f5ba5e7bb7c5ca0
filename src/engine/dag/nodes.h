// The node model of a running workflow, with Argo's names so that `status.nodes` reads the same
// as in Argo: every template invocation is a node (Pod, Steps, StepGroup, DAG, TaskGroup, Retry,
// Skipped, Suspend) keyed by an id derived from its name. Pure data; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/json.h"
#include "common/status.h"

namespace skiff::dag {

enum class NodePhase { kPending, kRunning, kSucceeded, kSkipped, kFailed, kError, kOmitted };
enum class NodeType { kPod, kContainer, kSteps, kStepGroup, kDAG, kTaskGroup, kRetry, kSkipped,
                      kSuspend, kHTTP, kPlugin };

std::string_view PhaseName(NodePhase p);
Result<NodePhase> ParsePhase(std::string_view s);
std::string_view TypeName(NodeType t);
Result<NodeType> ParseType(std::string_view s);

// Succeeded, Failed, Error, Skipped or Omitted: the node will not change any more.
inline bool IsFulfilled(NodePhase p) {
  return p == NodePhase::kSucceeded || p == NodePhase::kFailed || p == NodePhase::kError ||
         p == NodePhase::kSkipped || p == NodePhase::kOmitted;
}
// Fulfilled and not Omitted.
inline bool IsCompleted(NodePhase p) { return IsFulfilled(p) && p != NodePhase::kOmitted; }
inline bool IsFailedOrError(NodePhase p) {
  return p == NodePhase::kFailed || p == NodePhase::kError;
}

struct NodeStatus {
  std::string id;
  std::string name;
  std::string display_name;
  NodeType type = NodeType::kPod;
  std::string template_name;
  Json template_ref;          // null, or {name, template, clusterScope}
  std::string template_scope;  // "local/<wf>", "namespaced/<wftmpl>", "cluster/<cwftmpl>"
  NodePhase phase = NodePhase::kPending;
  std::string boundary_id;
  std::string message;
  TimePoint started_at{};
  TimePoint finished_at{};
  std::vector<std::string> children;
  std::vector<std::string> outbound_nodes;
  Json inputs;   // null or {parameters: [...], artifacts: [...]}
  Json outputs;  // null or {parameters, artifacts, result, exitCode}
  std::string host_node_name;
  std::string pod_name;  // for Pod nodes
  Json memoization_status;  // null or {hit, key, cacheName}
  bool daemoned = false;
  bool hooked = false;   // nodeFlag.hooked: an exit/lifecycle hook
  bool retried = false;  // nodeFlag.retried: an attempt under a Retry node
  Json resources_duration;  // null or {cpu: seconds, memory: seconds}
  std::string progress;     // "1/1"
  bool memo_saved = false;  // runtime only: the cache entry for this result has been written

  bool Fulfilled() const { return IsFulfilled(phase); }
  bool Completed() const { return IsCompleted(phase); }
  bool FailedOrError() const { return IsFailedOrError(phase); }

  Json ToJson() const;
  // DumpJson(ToJson()), written directly (a workflow's node records are written this way).
  std::string ToJsonText() const;
  static Result<NodeStatus> FromJson(const Json& j);
};

// Argo's node id: the workflow name for the root node, else "<wf>-<fnv32a(name)>".
std::string NodeId(std::string_view workflow_name, std::string_view node_name);
// Argo's v2 pod name: "<wf>-<template>-<fnv32a(node name)>", with the prefix shortened so the
// whole fits Kubernetes' 63-character limit for host names.
std::string PodName(std::string_view workflow_name, std::string_view node_name,
                    std::string_view template_name);

}  // namespace skiff::dag
