// PodHostPath against the kubelet's Pod layout (kubelet.cc `PreparePod`).
#include "backends/local/pod_paths.h"

#include <gtest/gtest.h>

namespace skiff::local {
namespace {

Json Pod() {
  return Json::parse(R"({
    "metadata": {"name": "p", "namespace": "ns1", "uid": "u1"},
    "spec": {
      "containers": [
        {"name": "main", "volumeMounts": [
          {"name": "metrics-volume", "mountPath": "/var/log/katib"},
          {"name": "claim", "mountPath": "/data"},
          {"name": "host", "mountPath": "/host/logs/"},
          {"name": "scratch", "mountPath": "/work/out", "subPath": "a/b"}]},
        {"name": "side", "volumeMounts": [{"name": "cm", "mountPath": "/etc/conf"}]}],
      "volumes": [
        {"name": "metrics-volume", "emptyDir": {}},
        {"name": "claim", "persistentVolumeClaim": {"claimName": "c1"}},
        {"name": "host", "hostPath": {"path": "/srv/logs"}},
        {"name": "scratch", "emptyDir": {}},
        {"name": "cm", "configMap": {"name": "x"}}]}})");
}

TEST(PodHostPathTest, FollowsTheKubeletsLayout) {
  const Json pod = Pod();
  EXPECT_EQ(PodHostPath("/h", pod, "/var/log/katib/metrics.log"),
            "/h/pods/u1/volumes/metrics-volume/metrics.log");
  EXPECT_EQ(PodHostPath("/h", pod, "/data/m.json"), "/h/volumes/ns1/c1/m.json");
  EXPECT_EQ(PodHostPath("/h", pod, "/host/logs/m.txt"), "/srv/logs/m.txt");
  EXPECT_EQ(PodHostPath("/h", pod, "/work/out/m.txt"), "/h/pods/u1/volumes/scratch/a/b/m.txt");
  EXPECT_EQ(PodHostPath("/h", pod, "/etc/conf/k"), "/h/pods/u1/volumes/cm/k");  // any container
  EXPECT_EQ(PodHostPath("/h", pod, "/tmp/out/m.log"), "/h/pods/u1/tmp/out/m.log");
  EXPECT_EQ(PodHostPath("/h", pod, "/opt/m.log"), "/h/pods/u1/root/upper/opt/m.log");
  // Not isolated: the process wrote the host's path.
  EXPECT_EQ(PodHostPath("/h", pod, "/var/log/katib/metrics.log", false), "/var/log/katib/metrics.log");
}

TEST(PodHostPathTest, AVolumeAtTmpReplacesThePrivateTmp) {
  Json pod = Pod();
  pod["spec"]["containers"][0]["volumeMounts"].push_back({{"name", "scratch"}, {"mountPath", "/tmp"}});
  EXPECT_EQ(PodHostPath("/h", pod, "/tmp/m.log"), "/h/pods/u1/volumes/scratch/m.log");
}

}  // namespace
}  // namespace skiff::local
