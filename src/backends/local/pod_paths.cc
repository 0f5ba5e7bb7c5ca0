#include "backends/local/pod_paths.h"

#include <map>

#include "backends/local/argo_executor.h"
#include "common/fs.h"

namespace skiff::local {

std::string PodHostPath(const std::string& home, const Json& pod, const std::string& path,
                        bool isolated) {
  if (!isolated) return path;
  const Json meta = pod.value("metadata", Json::object());
  const Json spec = pod.value("spec", Json::object());
  const std::string dir = JoinPath(home, "pods/" + StringField(meta, "uid"));
  std::string ns = StringField(meta, "namespace");
  if (ns.empty()) ns = "default";
  std::map<std::string, std::string> volume_dirs;
  for (const auto& v : spec.value("volumes", Json::array())) {
    std::string name = StringField(v, "name");
    if (const Json* hp = FindField(v, "hostPath"); hp != nullptr) {
      volume_dirs[name] = StringField(*hp, "path");
    } else if (const Json* pvc = FindField(v, "persistentVolumeClaim"); pvc != nullptr) {
      volume_dirs[name] = ClaimHostDir(home, ns, StringField(*pvc, "claimName"));
    } else {
      volume_dirs[name] = JoinPath(dir, "volumes/" + name);
    }
  }
  PathMap paths;
  bool tmp_mounted = false;
  for (const char* section : {"initContainers", "containers"}) {
    for (const auto& c : spec.value(section, Json::array())) {
      for (const auto& vm : c.value("volumeMounts", Json::array())) {
        auto it = volume_dirs.find(StringField(vm, "name"));
        if (it == volume_dirs.end()) continue;
        std::string target = StringField(vm, "mountPath");
        std::string source = it->second;
        std::string sub = StringField(vm, "subPath");
        if (!sub.empty()) source = JoinPath(source, sub);
        paths.AddMount(target, source);
        if (target == "/tmp") tmp_mounted = true;
      }
    }
  }
  if (!tmp_mounted) paths.AddMount("/tmp", JoinPath(dir, "tmp"));
  if (paths.Mounted(path)) return paths.ForRead(path);
  return JoinPath(JoinPath(dir, "root/upper"), path);
}

std::string ClaimHostDir(const std::string& home, const std::string& ns, const std::string& claim) {
  return JoinPath(home, "volumes/" + (ns.empty() ? std::string("default") : ns) + "/" + claim);
}

}  // namespace skiff::local
