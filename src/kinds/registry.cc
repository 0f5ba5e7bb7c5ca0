#include "kinds/registry.h"

#include <algorithm>
#include <cctype>

namespace skiff::kinds {

const std::vector<KindInfo>& AllKinds() {
  static const std::vector<KindInfo> kinds = {
      {"", "v1", "Pod", "pods", "pod", {"po"}, true, true, {"all"}},
      {"", "v1", "Service", "services", "service", {"svc"}, true, true, {"all"}},
      {"", "v1", "ConfigMap", "configmaps", "configmap", {"cm"}, true, false, {}},
      {"", "v1", "Secret", "secrets", "secret", {}, true, false, {}},
      {"", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", {"pvc"},
       true, true, {}},
      {"", "v1", "Namespace", "namespaces", "namespace", {"ns"}, false, true, {}},
      {"", "v1", "Event", "events", "event", {"ev"}, true, false, {}},
      {"batch", "v1", "Job", "jobs", "job", {}, true, true, {"all"}},
      {"argoproj.io", "v1alpha1", "Workflow", "workflows", "workflow", {"wf"}, true, true,
       {"all", "argo"}},
      {"argoproj.io", "v1alpha1", "WorkflowTemplate", "workflowtemplates", "workflowtemplate",
       {"wftmpl"}, true, false, {"argo"}},
      {"argoproj.io", "v1alpha1", "ClusterWorkflowTemplate", "clusterworkflowtemplates",
       "clusterworkflowtemplate", {"clusterwftmpl", "cwft"}, false, false, {"argo"}},
      {"argoproj.io", "v1alpha1", "CronWorkflow", "cronworkflows", "cronworkflow",
       {"cwf", "cronwf"}, true, true, {"all", "argo"}},
      {"kubeflow.org", "v1", "PyTorchJob", "pytorchjobs", "pytorchjob", {}, true, true,
       {"all", "kubeflow"}},
      {"kubeflow.org", "v1", "TFJob", "tfjobs", "tfjob", {}, true, true, {"all", "kubeflow"}},
      {"kubeflow.org", "v1", "XGBoostJob", "xgboostjobs", "xgboostjob", {}, true, true,
       {"all", "kubeflow"}},
      {"kubeflow.org", "v1", "PaddleJob", "paddlejobs", "paddlejob", {}, true, true,
       {"all", "kubeflow"}},
      {"kubeflow.org", "v2beta1", "MPIJob", "mpijobs", "mpijob", {}, true, true,
       {"all", "kubeflow"}},
      {"kubeflow.org", "v1beta1", "Experiment", "experiments", "experiment", {}, true, true,
       {"all", "kubeflow", "katib"}},
      {"kubeflow.org", "v1beta1", "Trial", "trials", "trial", {}, true, true,
       {"all", "kubeflow", "katib"}},
      {"kubeflow.org", "v1beta1", "Suggestion", "suggestions", "suggestion", {}, true, true,
       {"kubeflow", "katib"}},
      {"serving.kserve.io", "v1beta1", "InferenceService", "inferenceservices", "inferenceservice",
       {"isvc"}, true, true, {"all", "kserve"}},
  };
  return kinds;
}

const KindInfo* FindKind(std::string_view kind) {
  for (const auto& k : AllKinds()) {
    if (k.kind == kind) return &k;
  }
  return nullptr;
}

const KindInfo* FindResource(std::string_view group, std::string_view version,
                             std::string_view plural) {
  for (const auto& k : AllKinds()) {
    if (k.group == group && k.version == version && k.plural == plural) return &k;
  }
  return nullptr;
}

namespace {
std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}
}  // namespace

const KindInfo* ResolveName(std::string_view name) {
  std::string n = Lower(name);
  std::string group;
  if (size_t dot = n.find('.'); dot != std::string::npos) {
    group = n.substr(dot + 1);
    n = n.substr(0, dot);
  }
  for (const auto& k : AllKinds()) {
    if (!group.empty() && k.group != group) continue;
    if (k.plural == n || k.singular == n || Lower(k.kind) == n) return &k;
    for (const auto& s : k.short_names) {
      if (s == n) return &k;
    }
  }
  return nullptr;
}

}  // namespace skiff::kinds
