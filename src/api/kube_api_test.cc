// The Kubernetes API over real HTTP on loopback, backed by a real SQLite store.
#include "api/kube_api.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "api/test_client.h"

namespace skiff::api {
namespace {

using testing::Client;
using testing::Response;

class KubeApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-api-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto s = store::OpenSqliteStore(dir_ + "/skiff.db");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    KubeApiOptions o;
    o.store = store_.get();
    o.validate = [](const Json& obj) -> Status {
      if (StringField(obj, "kind") == "Workflow" && !obj.value("spec", Json::object()).contains("templates")) {
        return InvalidArgument("spec.templates: at least one template is required");
      }
      return OkStatus();
    };
    o.log_paths = [this](const Json& pod, const std::string& c) {
      std::string base = dir_ + "/" + StringField(pod["metadata"], "name") + "." + c;
      return std::make_pair(base + ".out", base + ".err");
    };
    o.bookmark_interval = std::chrono::milliseconds(50);
    o.log_poll_interval = std::chrono::milliseconds(10);
    api_ = std::make_unique<KubeApi>(o);
    server_ = std::make_unique<HttpServer>(HttpServerOptions{"127.0.0.1", 0, 4},
                                           [this](const HttpRequest& q, HttpResponse& r, HttpExchange& e) {
                                             api_->Handle(q, r, e);
                                           });
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    server_.reset();
    api_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  Response Do(const std::string& method, const std::string& target, const std::string& body = "",
              const std::string& ct = "application/json", const std::map<std::string, std::string>& h = {}) {
    Client c(server_->port());
    return c.Do(method, target, body, ct, h);
  }
  static Json Body(const Response& r) {
    auto j = ParseJson(r.body);
    return j.ok() ? *j : Json();
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<KubeApi> api_;
  std::unique_ptr<HttpServer> server_;
};

const char* kWf = R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow",
  "metadata":{"name":"hello","labels":{"team":"a"}},
  "spec":{"entrypoint":"main","templates":[{"name":"main","container":{"image":"x","command":["true"]}}]},
  "status":{"phase":"Succeeded"}})";

TEST_F(KubeApiTest, DiscoveryListsGroupsAndResources) {
  Json api = Body(Do("GET", "/api"));
  EXPECT_EQ(api["versions"], Json::array({"v1"}));
  Json groups = Body(Do("GET", "/apis"));
  std::vector<std::string> names;
  for (const auto& g : groups["groups"]) names.push_back(g["name"]);
  EXPECT_NE(std::find(names.begin(), names.end(), "argoproj.io"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "batch"), names.end());
  Json argo = Body(Do("GET", "/apis/argoproj.io/v1alpha1"));
  bool wf = false, wf_status = false;
  for (const auto& r : argo["resources"]) {
    wf = wf || (r["name"] == "workflows" && r["kind"] == "Workflow" && r["shortNames"][0] == "wf");
    wf_status = wf_status || r["name"] == "workflows/status";
  }
  EXPECT_TRUE(wf);
  EXPECT_TRUE(wf_status);
  EXPECT_EQ(Do("GET", "/apis/nope.io/v1").status, 404);
  Json openapi = Body(Do("GET", "/openapi/v3"));
  std::string url = openapi["paths"]["apis/argoproj.io/v1alpha1"]["serverRelativeURL"];
  Json gv = Body(Do("GET", url));
  Json patch = gv["paths"]["/apis/argoproj.io/v1alpha1/namespaces/{namespace}/workflows/{name}"]["patch"];
  EXPECT_EQ(patch["x-kubernetes-group-version-kind"]["kind"], "Workflow");
}

TEST_F(KubeApiTest, CreateGetListDeleteWithKubernetesErrors) {
  Response created = Do("POST", "/apis/argoproj.io/v1alpha1/namespaces/default/workflows", kWf);
  ASSERT_EQ(created.status, 201) << created.body;
  Json obj = Body(created);
  EXPECT_EQ(obj["metadata"]["namespace"], "default");
  EXPECT_FALSE(obj.contains("status"));  // status is the controllers' to write
  EXPECT_FALSE(StringField(obj["metadata"], "uid").empty());

  Response dup = Do("POST", "/apis/argoproj.io/v1alpha1/namespaces/default/workflows", kWf);
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(Body(dup)["reason"], "AlreadyExists");
  EXPECT_EQ(Body(dup)["message"], "workflows.argoproj.io \"hello\" already exists");

  Response missing = Do("GET", "/apis/argoproj.io/v1alpha1/namespaces/default/workflows/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Body(missing)["kind"], "Status");
  EXPECT_EQ(Body(missing)["details"]["name"], "nope");

  Json list = Body(Do("GET", "/apis/argoproj.io/v1alpha1/namespaces/default/workflows?labelSelector=team%3Da"));
  EXPECT_EQ(list["kind"], "WorkflowList");
  EXPECT_EQ(list["items"].size(), 1u);
  list = Body(Do("GET", "/apis/argoproj.io/v1alpha1/workflows?labelSelector=team%3Db"));
  EXPECT_EQ(list["items"].size(), 0u);
  list = Body(Do("GET", "/apis/argoproj.io/v1alpha1/namespaces/other/workflows"));
  EXPECT_EQ(list["items"].size(), 0u);

  Response del = Do("DELETE", "/apis/argoproj.io/v1alpha1/namespaces/default/workflows/hello");
  EXPECT_EQ(del.status, 200);
  EXPECT_EQ(Do("GET", "/apis/argoproj.io/v1alpha1/namespaces/default/workflows/hello").status, 404);
}

TEST_F(KubeApiTest, InvalidObjectsAreRejectedNamingTheFieldAndNothingIsStored) {
  Response bad = Do("POST", "/apis/argoproj.io/v1alpha1/namespaces/default/workflows",
                    R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"name":"x"},"spec":{}})");
  EXPECT_EQ(bad.status, 422);
  Json s = Body(bad);
  EXPECT_EQ(s["reason"], "Invalid");
  EXPECT_EQ(s["details"]["causes"][0]["field"], "spec.templates");
  EXPECT_EQ(Do("GET", "/apis/argoproj.io/v1alpha1/namespaces/default/workflows/x").status, 404);

  Response wrong_kind = Do("POST", "/apis/argoproj.io/v1alpha1/namespaces/default/workflows",
                           R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}})");
  EXPECT_EQ(wrong_kind.status, 400);
  Response not_json = Do("POST", "/api/v1/namespaces/default/configmaps", "{nope");
  EXPECT_EQ(not_json.status, 400);
  Response no_name = Do("POST", "/api/v1/namespaces/default/configmaps", R"({"metadata":{}})");
  EXPECT_EQ(no_name.status, 422);
  Response wrong_ns = Do("POST", "/api/v1/namespaces/default/configmaps",
                         R"({"metadata":{"name":"a","namespace":"other"}})");
  EXPECT_EQ(wrong_ns.status, 400);
  EXPECT_EQ(Do("GET", "/apis/argoproj.io/v1alpha1/namespaces/default/nothings").status, 404);
}

TEST_F(KubeApiTest, GenerateNameStatusSubresourceAndPatches) {
  Response created = Do("POST", "/api/v1/namespaces/default/pods",
                        R"({"metadata":{"generateName":"p-"},"spec":{"containers":[{"name":"main","image":"x","env":[{"name":"A","value":"1"}]}]}})");
  ASSERT_EQ(created.status, 201) << created.body;
  std::string name = Body(created)["metadata"]["name"];
  EXPECT_EQ(name.rfind("p-", 0), 0u);
  EXPECT_GT(name.size(), 2u);
  std::string path = "/api/v1/namespaces/default/pods/" + name;

  // PUT /status changes only status.
  Json withStatus = Body(Do("GET", path));
  withStatus["status"] = {{"phase", "Running"}};
  withStatus["spec"]["containers"][0]["image"] = "ignored";
  Response st = Do("PUT", path + "/status", withStatus.dump());
  ASSERT_EQ(st.status, 200) << st.body;
  Json got = Body(Do("GET", path));
  EXPECT_EQ(got["status"]["phase"], "Running");
  EXPECT_EQ(got["spec"]["containers"][0]["image"], "x");

  // Strategic merge patch (kubectl's format for Pods) merges env by name.
  Response sp = Do("PATCH", path, R"({"metadata":{"labels":{"l":"v"}},"spec":{"containers":[{"name":"main","env":[{"name":"B","value":"2"}]}]}})",
                   "application/strategic-merge-patch+json");
  ASSERT_EQ(sp.status, 200) << sp.body;
  got = Body(sp);
  EXPECT_EQ(got["metadata"]["labels"]["l"], "v");
  EXPECT_EQ(got["spec"]["containers"][0]["env"].size(), 2u);
  EXPECT_EQ(got["status"]["phase"], "Running");  // a main-resource patch keeps status

  // A stale resourceVersion in a patch is a Conflict.
  Response stale = Do("PATCH", path, R"({"metadata":{"resourceVersion":"1","labels":{"x":"y"}}})",
                      "application/merge-patch+json");
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(Body(stale)["reason"], "Conflict");
  // An unknown patch type is 415.
  EXPECT_EQ(Do("PATCH", path, "{}", "text/plain").status, 415);
  // JSON patch.
  Response jp = Do("PATCH", path, R"([{"op":"add","path":"/metadata/annotations","value":{"a":"b"}}])",
                   "application/json-patch+json");
  ASSERT_EQ(jp.status, 200) << jp.body;
  EXPECT_EQ(Body(jp)["metadata"]["annotations"]["a"], "b");
}

TEST_F(KubeApiTest, KubectlGetReceivesTables) {
  ASSERT_EQ(Do("POST", "/apis/argoproj.io/v1alpha1/namespaces/default/workflows", kWf).status, 201);
  Response t = Do("GET", "/apis/argoproj.io/v1alpha1/namespaces/default/workflows", "", "",
                  {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}});
  Json table = Body(t);
  EXPECT_EQ(table["kind"], "Table");
  EXPECT_EQ(table["columnDefinitions"][0]["name"], "Name");
  EXPECT_EQ(table["columnDefinitions"][1]["name"], "Status");
  EXPECT_EQ(table["rows"][0]["cells"][0], "hello");
  EXPECT_EQ(table["rows"][0]["cells"][1], "Pending");
  EXPECT_EQ(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
}

TEST_F(KubeApiTest, WatchSendsCurrentStateThenChangesAndResumesFromAVersion) {
  ASSERT_EQ(Do("POST", "/apis/argoproj.io/v1alpha1/namespaces/default/workflows", kWf).status, 201);
  Client w(server_->port());
  ASSERT_TRUE(w.Send("GET", "/apis/argoproj.io/v1alpha1/namespaces/default/workflows?watch=true&allowWatchBookmarks=true"));
  Response head;
  ASSERT_TRUE(w.ReadHead(&head));
  EXPECT_EQ(head.status, 200);
  std::string chunk;
  ASSERT_TRUE(w.NextChunk(&chunk));
  Json ev = *ParseJson(chunk);
  EXPECT_EQ(ev["type"], "ADDED");
  std::string rv = ev["object"]["metadata"]["resourceVersion"];

  Json wf = *ParseJson(kWf);
  wf["metadata"]["name"] = "second";
  ASSERT_EQ(Do("POST", "/apis/argoproj.io/v1alpha1/namespaces/default/workflows", wf.dump()).status, 201);
  ASSERT_EQ(Do("DELETE", "/apis/argoproj.io/v1alpha1/namespaces/default/workflows/hello").status, 200);
  std::vector<std::string> types;
  for (int i = 0; i < 10 && types.size() < 3; ++i) {
    ASSERT_TRUE(w.NextChunk(&chunk));
    Json e = *ParseJson(chunk);
    types.push_back(e["type"]);
  }
  // Two changes, and a bookmark (every 50 ms here) somewhere among them.
  EXPECT_NE(std::find(types.begin(), types.end(), "ADDED"), types.end());
  EXPECT_NE(std::find(types.begin(), types.end(), "DELETED"), types.end());

  // Resuming from the first version replays what came after it, in order.
  Client again(server_->port());
  ASSERT_TRUE(again.Send("GET", "/apis/argoproj.io/v1alpha1/namespaces/default/workflows?watch=1&resourceVersion=" + rv + "&timeoutSeconds=1"));
  ASSERT_TRUE(again.ReadHead(&head));
  std::vector<std::string> replay;
  while (again.NextChunk(&chunk, 3000)) replay.push_back((*ParseJson(chunk))["type"]);
  EXPECT_EQ(replay, (std::vector<std::string>{"ADDED", "DELETED"}));  // and the stream ended at the timeout
}

TEST_F(KubeApiTest, WatchFromACompactedVersionGetsExpired) {
  for (int i = 0; i < 5; ++i) {
    Json cm = {{"metadata", {{"name", "c" + std::to_string(i)}}}, {"data", {{"k", "v"}}}};
    ASSERT_EQ(Do("POST", "/api/v1/namespaces/default/configmaps", cm.dump()).status, 201);
  }
  ASSERT_TRUE(store_->CompactEvents(1).ok());
  Client w(server_->port());
  ASSERT_TRUE(w.Send("GET", "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1"));
  Response head;
  ASSERT_TRUE(w.ReadHead(&head));
  std::string chunk;
  ASSERT_TRUE(w.NextChunk(&chunk));
  Json ev = *ParseJson(chunk);
  EXPECT_EQ(ev["type"], "ERROR");
  EXPECT_EQ(ev["object"]["code"], 410);
  EXPECT_EQ(ev["object"]["reason"], "Expired");
}

TEST_F(KubeApiTest, PodLogsAndFollowUntilThePodEnds) {
  Response created = Do("POST", "/api/v1/namespaces/default/pods",
                        R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"main","image":"x"}]}})");
  ASSERT_EQ(created.status, 201);
  { std::ofstream(dir_ + "/p.main.out") << "line1\nline2\nline3\n"; }
  Response all = Do("GET", "/api/v1/namespaces/default/pods/p/log");
  EXPECT_EQ(all.status, 200);
  EXPECT_EQ(all.body, "line1\nline2\nline3\n");
  EXPECT_EQ(Do("GET", "/api/v1/namespaces/default/pods/p/log?tailLines=1").body, "line3\n");
  EXPECT_EQ(Do("GET", "/api/v1/namespaces/default/pods/p/log?container=nope").status, 400);

  Client f(server_->port());
  ASSERT_TRUE(f.Send("GET", "/api/v1/namespaces/default/pods/p/log?follow=true"));
  Response head;
  ASSERT_TRUE(f.ReadHead(&head));
  std::string got, chunk;
  ASSERT_TRUE(f.NextChunk(&chunk));
  got += chunk;
  { std::ofstream(dir_ + "/p.main.out", std::ios::app) << "line4\n"; }
  Json pod = Body(Do("GET", "/api/v1/namespaces/default/pods/p"));
  pod["status"] = {{"phase", "Succeeded"}};
  ASSERT_EQ(Do("PUT", "/api/v1/namespaces/default/pods/p/status", pod.dump()).status, 200);
  while (f.NextChunk(&chunk)) got += chunk;  // ends once the pod has finished
  EXPECT_EQ(got, "line1\nline2\nline3\nline4\n");
}

TEST_F(KubeApiTest, DefaultNamespaceExistsAndHealthAnswers) {
  EXPECT_EQ(Body(Do("GET", "/api/v1/namespaces/default"))["status"]["phase"], "Active");
  EXPECT_EQ(Do("GET", "/healthz").body, "ok");
  EXPECT_EQ(Body(Do("GET", "/version"))["major"], "1");
}

}  // namespace
}  // namespace skiff::api
