// The shared `Store` conformance suite (see store_conformance.h). Only the `Store` interface is
// used here; anything implementation-specific belongs in that implementation's own test file.
#include "store/store_conformance.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "common/clock.h"

namespace skiff::store {
namespace {

Json Obj(const std::string& kind, const std::string& ns, const std::string& name,
         Json spec = Json::object()) {
  Json obj = {{"apiVersion", "v1"}, {"kind", kind}, {"metadata", {{"name", name}}}};
  if (!ns.empty()) obj["metadata"]["namespace"] = ns;
  obj["spec"] = std::move(spec);
  return obj;
}

Json Labeled(Json obj, Json labels) {
  obj["metadata"]["labels"] = std::move(labels);
  return obj;
}

Json OwnedBy(Json obj, const Json& owner) {
  obj["metadata"]["ownerReferences"] = Json::array({{{"apiVersion", owner["apiVersion"]},
                                                     {"kind", owner["kind"]},
                                                     {"name", owner["metadata"]["name"]},
                                                     {"uid", owner["metadata"]["uid"]},
                                                     {"controller", true}}});
  return obj;
}

Json WithStatus(Json obj, Json status) {
  obj["status"] = std::move(status);
  return obj;
}

std::string Rv(const Json& obj) { return obj["metadata"]["resourceVersion"].get<std::string>(); }

std::vector<std::string> Names(const ListResult& list) {
  std::vector<std::string> names;
  for (const Json& item : list.items) {
    std::string ns = StringField(item["metadata"], "namespace");
    names.push_back(ns.empty() ? item["metadata"]["name"].get<std::string>()
                               : ns + "/" + item["metadata"]["name"].get<std::string>());
  }
  return names;
}

// Collects watch events; safe to read after the writes that produced them returned.
class Recorder {
 public:
  std::function<void(const WatchEvent&)> Callback() {
    return [this](const WatchEvent& e) {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(e);
    };
  }
  std::vector<WatchEvent> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  // "ADDED Pod ns/name", one per event.
  std::vector<std::string> Summary() {
    std::vector<std::string> out;
    for (const WatchEvent& e : events()) {
      out.push_back(std::string(EventTypeName(e.type)) + " " + KeyString(KeyOf(e.object)));
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<WatchEvent> events_;
};

}  // namespace

void StoreConformanceTest::SetUp() {
  store_ = NewStore();
  ASSERT_NE(store_, nullptr);
}

void StoreConformanceTest::TearDown() { store_.reset(); }

// --- Create and Get ---

TEST_P(StoreConformanceTest, CreateAssignsSystemMetadata) {
  Json in = Obj("Pod", "ns", "a", {{"x", 1}});
  in["metadata"]["uid"] = "caller-uid";
  in["metadata"]["resourceVersion"] = "999";
  auto created = store().Create(in);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const Json& meta = (*created)["metadata"];
  EXPECT_FALSE(meta["uid"].get<std::string>().empty());
  EXPECT_NE(meta["uid"], "caller-uid");
  EXPECT_EQ(meta["generation"], 1);
  EXPECT_GT(ParseResourceVersion(*created), 0);
  EXPECT_NE(Rv(*created), "999");
  EXPECT_TRUE(ParseRfc3339(meta["creationTimestamp"].get<std::string>()).ok());
  EXPECT_EQ((*created)["spec"]["x"], 1);

  auto got = store().Get({"Pod", "ns", "a"});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, *created);
}

TEST_P(StoreConformanceTest, CreateWithGenerateNameAppendsRandomSuffix) {
  Json in = Obj("Workflow", "ns", "");
  in["metadata"].erase("name");
  in["metadata"]["generateName"] = "hello-";
  auto a = store().Create(in);
  auto b = store().Create(in);
  ASSERT_TRUE(a.ok() && b.ok());
  std::string name_a = (*a)["metadata"]["name"];
  std::string name_b = (*b)["metadata"]["name"];
  EXPECT_EQ(name_a.size(), 11u);
  EXPECT_EQ(name_a.rfind("hello-", 0), 0u);
  EXPECT_NE(name_a, name_b);
  EXPECT_TRUE(store().Get({"Workflow", "ns", name_a}).ok());
}

TEST_P(StoreConformanceTest, CreateExistingKeyReturnsAlreadyExists) {
  ASSERT_TRUE(store().Create(Obj("Pod", "ns", "a")).ok());
  auto again = store().Create(Obj("Pod", "ns", "a"));
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(store().Create(Obj("Pod", "other", "a")).ok());
  EXPECT_TRUE(store().Create(Obj("Service", "ns", "a")).ok());
}

TEST_P(StoreConformanceTest, CreateRequiresKindApiVersionAndName) {
  Json no_kind = Obj("Pod", "ns", "a");
  no_kind.erase("kind");
  auto r = store().Create(no_kind);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("kind"), std::string::npos);

  Json no_api = Obj("Pod", "ns", "a");
  no_api.erase("apiVersion");
  r = store().Create(no_api);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("apiVersion"), std::string::npos);

  r = store().Create(Obj("Pod", "ns", ""));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("metadata.name: required"), std::string::npos);
  EXPECT_EQ(store().CurrentResourceVersion(), 0);
}

TEST_P(StoreConformanceTest, CreateWithoutNamespaceIsClusterScoped) {
  auto created = store().Create(Obj("Namespace", "", "team-a"));
  ASSERT_TRUE(created.ok());
  EXPECT_FALSE((*created)["metadata"].contains("namespace"));
  EXPECT_TRUE(store().Get({"Namespace", "", "team-a"}).ok());
  EXPECT_EQ(store().Get({"Namespace", "default", "team-a"}).status().code(), StatusCode::kNotFound);
}

TEST_P(StoreConformanceTest, GetMissingReturnsNotFound) {
  EXPECT_EQ(store().Get({"Pod", "ns", "nope"}).status().code(), StatusCode::kNotFound);
}

// --- List ---

TEST_P(StoreConformanceTest, ListOrdersByNamespaceThenName) {
  for (auto [ns, name] : std::vector<std::pair<std::string, std::string>>{
           {"b", "x"}, {"a", "z"}, {"a", "b"}, {"c", "a"}, {"b", "a"}}) {
    ASSERT_TRUE(store().Create(Obj("Pod", ns, name)).ok());
  }
  ASSERT_TRUE(store().Create(Obj("Service", "a", "a")).ok());
  auto all = store().List("Pod", "");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Names(*all), (std::vector<std::string>{"a/b", "a/z", "b/a", "b/x", "c/a"}));
}

TEST_P(StoreConformanceTest, ListFiltersByNamespace) {
  ASSERT_TRUE(store().Create(Obj("Pod", "a", "1")).ok());
  ASSERT_TRUE(store().Create(Obj("Pod", "b", "2")).ok());
  ASSERT_TRUE(store().Create(Obj("Pod", "b", "3")).ok());
  auto b = store().List("Pod", "b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(Names(*b), (std::vector<std::string>{"b/2", "b/3"}));
  EXPECT_TRUE(store().List("Pod", "none")->items.empty());
}

TEST_P(StoreConformanceTest, ListFiltersByLabelSelector) {
  ASSERT_TRUE(store().Create(Labeled(Obj("Pod", "n", "a"), {{"app", "web"}, {"tier", "1"}})).ok());
  ASSERT_TRUE(store().Create(Labeled(Obj("Pod", "n", "b"), {{"app", "db"}})).ok());
  ASSERT_TRUE(store().Create(Obj("Pod", "n", "c")).ok());
  auto names = [&](const std::string& selector) {
    ListOptions opts;
    opts.label_selector = selector;
    auto r = store().List("Pod", "n", opts);
    EXPECT_TRUE(r.ok()) << selector << ": " << r.status().ToString();
    return r.ok() ? Names(*r) : std::vector<std::string>{"<error>"};
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names(""), (V{"n/a", "n/b", "n/c"}));
  EXPECT_EQ(names("app=web"), (V{"n/a"}));
  EXPECT_EQ(names("app==db"), (V{"n/b"}));
  EXPECT_EQ(names("app!=web"), (V{"n/b", "n/c"}));
  EXPECT_EQ(names("app in (web, db)"), (V{"n/a", "n/b"}));
  EXPECT_EQ(names("app notin (web)"), (V{"n/b", "n/c"}));
  EXPECT_EQ(names("app"), (V{"n/a", "n/b"}));
  EXPECT_EQ(names("!app"), (V{"n/c"}));
  EXPECT_EQ(names("app=web,tier=1"), (V{"n/a"}));
  EXPECT_EQ(names("app=web,tier=2"), V{});
}

TEST_P(StoreConformanceTest, ListFiltersByFieldSelector) {
  ASSERT_TRUE(store().Create(WithStatus(Obj("Pod", "a", "p1"), {{"phase", "Running"}})).ok());
  auto p2 = store().Create(Obj("Pod", "b", "p2"));
  ASSERT_TRUE(p2.ok());
  ASSERT_TRUE(store().UpdateStatus(WithStatus(*p2, {{"phase", "Succeeded"}})).ok());
  ASSERT_TRUE(store().Create(Obj("Pod", "b", "p3")).ok());
  auto names = [&](const std::string& selector) {
    ListOptions opts;
    opts.field_selector = selector;
    auto r = store().List("Pod", "", opts);
    EXPECT_TRUE(r.ok()) << selector << ": " << r.status().ToString();
    return r.ok() ? Names(*r) : std::vector<std::string>{"<error>"};
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names("metadata.name=p2"), (V{"b/p2"}));
  EXPECT_EQ(names("metadata.namespace==b"), (V{"b/p2", "b/p3"}));
  EXPECT_EQ(names("metadata.namespace!=b"), (V{"a/p1"}));
  EXPECT_EQ(names("status.phase=Succeeded"), (V{"b/p2"}));
  // Create stores the status it is given (the API edge drops it on POST, as Kubernetes does).
  EXPECT_EQ(names("status.phase=Running"), (V{"a/p1"}));
  EXPECT_EQ(names("status.phase!=Succeeded,metadata.namespace=b"), (V{"b/p3"}));
}

TEST_P(StoreConformanceTest, ListRejectsMalformedSelectors) {
  for (const char* bad : {"app in (a", "a=b,", "=x", "app notin ()", "a b"}) {
    ListOptions opts;
    opts.label_selector = bad;
    EXPECT_EQ(store().List("Pod", "", opts).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  ListOptions opts;
  opts.field_selector = "spec.nodeName=x";
  EXPECT_EQ(store().List("Pod", "", opts).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreConformanceTest, ListRespectsLimit) {
  for (const char* name : {"c", "a", "d", "b"})
    ASSERT_TRUE(store().Create(Obj("Pod", "n", name)).ok());
  ListOptions opts;
  opts.limit = 2;
  auto r = store().List("Pod", "n", opts);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Names(*r), (std::vector<std::string>{"n/a", "n/b"}));
}

TEST_P(StoreConformanceTest, ListReturnsCurrentResourceVersion) {
  EXPECT_EQ(store().List("Pod", "")->resource_version, store().CurrentResourceVersion());
  auto a = store().Create(Obj("Pod", "n", "a"));
  ASSERT_TRUE(store().Create(Obj("Service", "n", "s")).ok());
  auto list = store().List("Pod", "");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->resource_version, store().CurrentResourceVersion());
  EXPECT_GT(list->resource_version, ParseResourceVersion(*a));
}

// --- Update and UpdateStatus ---

TEST_P(StoreConformanceTest, UpdateKeepsStoredStatus) {
  auto created = store().Create(Obj("Job", "n", "j", {{"replicas", 1}}));
  ASSERT_TRUE(created.ok());
  auto with_status = store().UpdateStatus(WithStatus(*created, {{"phase", "Running"}}));
  ASSERT_TRUE(with_status.ok());
  Json change = WithStatus(*with_status, {{"phase", "Hacked"}});
  change["spec"]["replicas"] = 2;
  auto updated = store().Update(change);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ((*updated)["status"]["phase"], "Running");
  EXPECT_EQ((*updated)["spec"]["replicas"], 2);
  EXPECT_EQ(*store().Get({"Job", "n", "j"}), *updated);
}

TEST_P(StoreConformanceTest, UpdateBumpsGenerationOnlyWhenSpecChanges) {
  auto created = store().Create(Obj("Job", "n", "j", {{"replicas", 1}}));
  ASSERT_TRUE(created.ok());
  Json relabel = Labeled(*created, {{"a", "b"}});
  auto relabeled = store().Update(relabel);
  ASSERT_TRUE(relabeled.ok());
  EXPECT_EQ((*relabeled)["metadata"]["generation"], 1);
  EXPECT_GT(ParseResourceVersion(*relabeled), ParseResourceVersion(*created));

  Json respec = *relabeled;
  respec["spec"]["replicas"] = 3;
  auto respecced = store().Update(respec);
  ASSERT_TRUE(respecced.ok());
  EXPECT_EQ((*respecced)["metadata"]["generation"], 2);
  EXPECT_EQ((*respecced)["metadata"]["labels"]["a"], "b");
}

TEST_P(StoreConformanceTest, UpdateKeepsUidAndCreationTimestamp) {
  auto created = store().Create(Obj("Job", "n", "j"));
  ASSERT_TRUE(created.ok());
  Json change = *created;
  change["metadata"].erase("uid");
  change["metadata"]["creationTimestamp"] = "2001-01-01T00:00:00Z";
  change["metadata"]["generation"] = 42;
  change["spec"]["x"] = 1;
  auto updated = store().Update(change);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ((*updated)["metadata"]["uid"], (*created)["metadata"]["uid"]);
  EXPECT_EQ((*updated)["metadata"]["creationTimestamp"],
            (*created)["metadata"]["creationTimestamp"]);
  EXPECT_EQ((*updated)["metadata"]["generation"], 2);

  Json other_uid = *updated;
  other_uid["metadata"]["uid"] = "someone-else";
  EXPECT_EQ(store().Update(other_uid).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreConformanceTest, StaleUpdateReturnsConflict) {
  auto v1 = store().Create(Obj("Job", "n", "j"));
  ASSERT_TRUE(v1.ok());
  Json first = *v1;
  first["spec"]["x"] = 1;
  ASSERT_TRUE(store().Update(first).ok());
  Json stale = *v1;
  stale["spec"]["x"] = 2;
  auto r = store().Update(stale);
  EXPECT_EQ(r.status().code(), StatusCode::kConflict);
  EXPECT_NE(r.status().message().find("the object has been modified"), std::string::npos);
  EXPECT_EQ(store().UpdateStatus(WithStatus(*v1, {{"phase", "x"}})).status().code(),
            StatusCode::kConflict);
  EXPECT_EQ((*store().Get({"Job", "n", "j"}))["spec"]["x"], 1);

  // Without a resourceVersion the write is unconditional.
  stale["metadata"].erase("resourceVersion");
  auto forced = store().Update(stale);
  ASSERT_TRUE(forced.ok()) << forced.status().ToString();
  EXPECT_EQ((*forced)["spec"]["x"], 2);
}

TEST_P(StoreConformanceTest, UpdateMissingReturnsNotFound) {
  EXPECT_EQ(store().Update(Obj("Job", "n", "ghost")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store().UpdateStatus(Obj("Job", "n", "ghost")).status().code(), StatusCode::kNotFound);
}

TEST_P(StoreConformanceTest, NoOpUpdateSucceedsWithoutNewVersion) {
  auto created = store().Create(Obj("Job", "n", "j", {{"x", 1}}));
  ASSERT_TRUE(created.ok());
  const int64_t rv = store().CurrentResourceVersion();
  auto same = store().Update(*created);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, *created);
  auto same_status = store().UpdateStatus(*created);
  ASSERT_TRUE(same_status.ok());
  EXPECT_EQ(store().CurrentResourceVersion(), rv);
  EXPECT_TRUE(store().EventsSince(rv, {})->empty());
}

TEST_P(StoreConformanceTest, UpdateStatusKeepsSpecMetadataAndGeneration) {
  auto created = store().Create(Obj("Job", "n", "j", {{"x", 1}}));
  ASSERT_TRUE(created.ok());
  Json change = WithStatus(*created, {{"phase", "Running"}});
  change["spec"]["x"] = 99;
  change["metadata"]["labels"] = {{"sneaky", "yes"}};
  auto updated = store().UpdateStatus(change);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ((*updated)["status"]["phase"], "Running");
  EXPECT_EQ((*updated)["spec"]["x"], 1);
  EXPECT_FALSE((*updated)["metadata"].contains("labels"));
  EXPECT_EQ((*updated)["metadata"]["generation"], 1);
  EXPECT_GT(ParseResourceVersion(*updated), ParseResourceVersion(*created));
  EXPECT_EQ(*store().Get({"Job", "n", "j"}), *updated);
}

TEST_P(StoreConformanceTest, UpdateWithStatusWritesBothInOneVersion) {
  auto created = store().Create(Obj("Job", "n", "j", {{"x", 1}}));
  ASSERT_TRUE(created.ok());
  const int64_t rv = store().CurrentResourceVersion();
  Json change = WithStatus(Labeled(*created, {{"done", "true"}}), {{"phase", "Succeeded"}});
  auto r = store().Commit({Write::UpdateWithStatus(change)});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Json& updated = r->back();
  EXPECT_EQ(updated["status"]["phase"], "Succeeded");
  EXPECT_EQ(updated["metadata"]["labels"]["done"], "true");
  EXPECT_EQ(updated["metadata"]["generation"], 1);
  EXPECT_EQ(*store().Get({"Job", "n", "j"}), updated);
  auto events = store().EventsSince(rv, {});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].object["status"]["phase"], "Succeeded");
  // Stale versions conflict as for Update.
  Json stale = WithStatus(*created, {{"phase", "Failed"}});
  EXPECT_EQ(store().Commit({Write::UpdateWithStatus(stale)}).status().code(), StatusCode::kConflict);
}

TEST_P(StoreConformanceTest, EveryWriteGetsAHigherResourceVersion) {
  std::vector<int64_t> versions;
  auto a = store().Create(Obj("Pod", "n", "a"));
  versions.push_back(ParseResourceVersion(*a));
  auto b = store().Create(Obj("Pod", "n", "b"));
  versions.push_back(ParseResourceVersion(*b));
  auto a2 = store().UpdateStatus(WithStatus(*a, {{"phase", "Running"}}));
  versions.push_back(ParseResourceVersion(*a2));
  auto a3 = store().Update(Labeled(*a2, {{"k", "v"}}));
  versions.push_back(ParseResourceVersion(*a3));
  ASSERT_TRUE(store().Delete({"Pod", "n", "b"}).ok());
  versions.push_back(store().CurrentResourceVersion());
  EXPECT_TRUE(std::is_sorted(versions.begin(), versions.end()));
  EXPECT_EQ(std::set<int64_t>(versions.begin(), versions.end()).size(), versions.size());
}

// --- Delete ---

TEST_P(StoreConformanceTest, DeleteRemovesObjectAndRecordsDeletedEvent) {
  auto created = store().Create(Obj("Pod", "n", "a"));
  ASSERT_TRUE(created.ok());
  const int64_t before = store().CurrentResourceVersion();
  ASSERT_TRUE(store().Delete({"Pod", "n", "a"}).ok());
  EXPECT_EQ(store().Get({"Pod", "n", "a"}).status().code(), StatusCode::kNotFound);
  auto events = store().EventsSince(before, {});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].type, EventType::kDeleted);
  EXPECT_EQ((*events)[0].resource_version, before + 1);
  EXPECT_EQ(ParseResourceVersion((*events)[0].object), before + 1);
  EXPECT_EQ((*events)[0].object["metadata"]["uid"], (*created)["metadata"]["uid"]);
  EXPECT_EQ(store().Delete({"Pod", "n", "a"}).code(), StatusCode::kNotFound);
}

TEST_P(StoreConformanceTest, DeleteCascadesThroughOwnerReferences) {
  auto wf = store().Create(Obj("Workflow", "n", "wf"));
  ASSERT_TRUE(wf.ok());
  auto pod1 = store().Create(OwnedBy(Obj("Pod", "n", "wf-1"), *wf));
  auto pod2 = store().Create(OwnedBy(Obj("Pod", "n", "wf-2"), *wf));
  ASSERT_TRUE(pod1.ok() && pod2.ok());
  auto cm = store().Create(OwnedBy(Obj("ConfigMap", "n", "wf-1-cm"), *pod1));
  ASSERT_TRUE(cm.ok());
  ASSERT_TRUE(store().Create(OwnedBy(Obj("Secret", "n", "wf-1-cm-secret"), *cm)).ok());
  ASSERT_TRUE(store().Create(Obj("Pod", "n", "bystander")).ok());

  Recorder rec;
  auto watch = store().Watch({}, rec.Callback());
  ASSERT_TRUE(store().Delete({"Workflow", "n", "wf"}).ok());
  for (ObjectKey key : std::vector<ObjectKey>{{"Workflow", "n", "wf"},
                                              {"Pod", "n", "wf-1"},
                                              {"Pod", "n", "wf-2"},
                                              {"ConfigMap", "n", "wf-1-cm"},
                                              {"Secret", "n", "wf-1-cm-secret"}}) {
    EXPECT_EQ(store().Get(key).status().code(), StatusCode::kNotFound) << KeyString(key);
  }
  EXPECT_TRUE(store().Get({"Pod", "n", "bystander"}).ok());
  auto summary = rec.Summary();
  ASSERT_EQ(summary.size(), 5u);
  EXPECT_EQ(summary[0], "DELETED Workflow n/wf");  // owner first, then dependents
  EXPECT_EQ(summary[4], "DELETED Secret n/wf-1-cm-secret");
  for (const WatchEvent& e : rec.events()) EXPECT_EQ(e.type, EventType::kDeleted);
}

TEST_P(StoreConformanceTest, DeleteRemovesRecordsOwnedByDeletedObjects) {
  auto wf = store().Create(Obj("Workflow", "n", "wf"));
  auto pod = store().Create(OwnedBy(Obj("Pod", "n", "p"), *wf));
  auto other = store().Create(Obj("Workflow", "n", "other"));
  ASSERT_TRUE(wf.ok() && pod.ok() && other.ok());
  std::string wf_uid = (*wf)["metadata"]["uid"];
  std::string pod_uid = (*pod)["metadata"]["uid"];
  std::string other_uid = (*other)["metadata"]["uid"];
  ASSERT_TRUE(store()
                  .Commit({Write::PutRecord("nodes", wf_uid, "n1", {{"phase", "Succeeded"}}),
                           Write::PutRecord("memo", wf_uid, "k", 1),
                           Write::PutRecord("logs", pod_uid, "main", "hello"),
                           Write::PutRecord("nodes", other_uid, "n1", 2)})
                  .ok());
  ASSERT_TRUE(store().Delete({"Workflow", "n", "wf"}).ok());
  EXPECT_TRUE(store().GetRecords("nodes", wf_uid)->empty());
  EXPECT_TRUE(store().GetRecords("memo", wf_uid)->empty());
  EXPECT_TRUE(store().GetRecords("logs", pod_uid)->empty());
  EXPECT_EQ(*store().GetRecord("nodes", other_uid, "n1"), 2);
}

// --- Commit ---

TEST_P(StoreConformanceTest, CommitAppliesWritesInOrderAndReturnsEachResult) {
  auto existing = store().Create(Obj("Pod", "n", "old"));
  ASSERT_TRUE(existing.ok());
  auto results = store().Commit(
      {Write::Create(Obj("Workflow", "n", "wf")),
       Write::UpdateStatus(WithStatus(Obj("Workflow", "n", "wf"), {{"phase", "Running"}})),
       Write::Delete({"Pod", "n", "old"}), Write::PutRecord("c", "o", "k", {{"v", 1}})});
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->size(), 4u);
  EXPECT_EQ((*results)[0]["metadata"]["name"], "wf");
  EXPECT_EQ((*results)[1]["status"]["phase"], "Running");
  EXPECT_EQ((*results)[2]["metadata"]["uid"], (*existing)["metadata"]["uid"]);
  EXPECT_TRUE((*results)[3].is_null());
  EXPECT_EQ((*store().Get({"Workflow", "n", "wf"}))["status"]["phase"], "Running");
  EXPECT_EQ(store().CurrentResourceVersion(), ParseResourceVersion((*results)[2]));
}

TEST_P(StoreConformanceTest, FailedCommitLeavesNoTraceAndEmitsNoEvents) {
  ASSERT_TRUE(store().Create(Obj("Pod", "n", "keep")).ok());
  const int64_t before = store().CurrentResourceVersion();
  Recorder rec;
  auto watch = store().Watch({}, rec.Callback());
  auto r = store().Commit({Write::Create(Obj("Pod", "n", "a")), Write::Delete({"Pod", "n", "keep"}),
                           Write::PutRecord("c", "o", "k", 1),
                           Write::Update(Obj("Pod", "n", "missing"))});
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message().rfind("writes[3]: ", 0), 0u) << r.status().message();
  EXPECT_EQ(store().Get({"Pod", "n", "a"}).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store().Get({"Pod", "n", "keep"}).ok());
  EXPECT_EQ(store().GetRecord("c", "o", "k").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store().CurrentResourceVersion(), before);
  EXPECT_TRUE(store().EventsSince(before, {})->empty());
  EXPECT_TRUE(rec.events().empty());

  // The store is still usable afterwards.
  EXPECT_TRUE(store().Create(Obj("Pod", "n", "a")).ok());
  EXPECT_EQ(store().CurrentResourceVersion(), before + 1);
}

// --- Watch ---

TEST_P(StoreConformanceTest, WatchReceivesAddedModifiedDeletedInOrder) {
  Recorder rec;
  auto watch = store().Watch({}, rec.Callback());
  auto a = store().Create(Obj("Pod", "n", "a"));
  ASSERT_TRUE(a.ok());
  auto a2 = store().UpdateStatus(WithStatus(*a, {{"phase", "Running"}}));
  ASSERT_TRUE(a2.ok());
  ASSERT_TRUE(store().Delete({"Pod", "n", "a"}).ok());
  auto events = rec.events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, EventType::kAdded);
  EXPECT_EQ(events[1].type, EventType::kModified);
  EXPECT_EQ(events[2].type, EventType::kDeleted);
  EXPECT_EQ(events[0].object, *a);
  EXPECT_EQ(events[1].object, *a2);
  EXPECT_EQ(events[2].object["status"]["phase"], "Running");
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].resource_version, ParseResourceVersion(events[i].object));
    if (i > 0) {
      EXPECT_GT(events[i].resource_version, events[i - 1].resource_version);
    }
  }
}

TEST_P(StoreConformanceTest, WatchFiltersByKindAndNamespace) {
  Recorder pods, pods_in_a, in_b;
  auto w1 = store().Watch({"Pod", ""}, pods.Callback());
  auto w2 = store().Watch({"Pod", "a"}, pods_in_a.Callback());
  auto w3 = store().Watch({"", "b"}, in_b.Callback());
  ASSERT_TRUE(store().Create(Obj("Pod", "a", "1")).ok());
  ASSERT_TRUE(store().Create(Obj("Pod", "b", "2")).ok());
  ASSERT_TRUE(store().Create(Obj("Service", "a", "3")).ok());
  ASSERT_TRUE(store().Create(Obj("Service", "b", "4")).ok());
  using V = std::vector<std::string>;
  EXPECT_EQ(pods.Summary(), (V{"ADDED Pod a/1", "ADDED Pod b/2"}));
  EXPECT_EQ(pods_in_a.Summary(), (V{"ADDED Pod a/1"}));
  EXPECT_EQ(in_b.Summary(), (V{"ADDED Pod b/2", "ADDED Service b/4"}));
}

TEST_P(StoreConformanceTest, WatchSharedGetsTheEventsThatWatchGets) {
  Recorder plain;
  std::vector<std::shared_ptr<const WatchEvent>> shared, shared_again;
  auto w1 = store().Watch({"Pod", ""}, plain.Callback());
  auto w2 = store().WatchShared({"Pod", ""}, [&](std::shared_ptr<const WatchEvent> e) {
    shared.push_back(std::move(e));
  });
  auto w3 = store().WatchShared({"Pod", ""}, [&](std::shared_ptr<const WatchEvent> e) {
    shared_again.push_back(std::move(e));
  });
  ASSERT_TRUE(store().Create(Obj("Pod", "a", "1")).ok());
  ASSERT_TRUE(store().Create(Obj("Service", "a", "2")).ok());
  ASSERT_TRUE(store().Delete({"Pod", "a", "1"}).ok());
  w2.reset();
  ASSERT_TRUE(store().Create(Obj("Pod", "a", "3")).ok());
  std::vector<WatchEvent> expected = plain.events();
  ASSERT_EQ(expected.size(), 3u);
  ASSERT_EQ(shared.size(), 2u);  // none after its handle was destroyed
  ASSERT_EQ(shared_again.size(), 3u);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(shared_again[i]->type, expected[i].type);
    EXPECT_EQ(shared_again[i]->resource_version, expected[i].resource_version);
    EXPECT_EQ(shared_again[i]->object, expected[i].object);
    if (i < shared.size()) {
      EXPECT_EQ(shared[i]->object, expected[i].object);
    }
  }
}

TEST_P(StoreConformanceTest, WatchCallbackCanReadTheStore) {
  std::vector<std::string> seen;
  auto watch = store().Watch({"Pod", ""}, [&](const WatchEvent& e) {
    auto got = store().Get(KeyOf(e.object));
    auto list = store().List("Pod", "");
    seen.push_back(got.ok() ? Rv(*got) : "missing");
    EXPECT_TRUE(list.ok());
  });
  auto a = store().Create(Obj("Pod", "n", "a"));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(store().Delete({"Pod", "n", "a"}).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{Rv(*a), "missing"}));
}

TEST_P(StoreConformanceTest, DestroyingWatchHandleStopsDelivery) {
  Recorder rec;
  auto watch = store().Watch({}, rec.Callback());
  ASSERT_TRUE(store().Create(Obj("Pod", "n", "a")).ok());
  watch.reset();
  ASSERT_TRUE(store().Create(Obj("Pod", "n", "b")).ok());
  EXPECT_EQ(rec.Summary(), (std::vector<std::string>{"ADDED Pod n/a"}));
}

TEST_P(StoreConformanceTest, ConcurrentWritersDeliverEveryEventInVersionOrder) {
  constexpr int kThreads = 4;
  constexpr int kObjectsPerThread = 40;
  struct Seen {
    std::mutex mu;
    std::vector<int64_t> versions;
    bool in_order = true;
  };
  auto watch_into = [&](Seen& seen, WatchOptions opts) {
    return store().Watch(opts, [&seen](const WatchEvent& e) {
      std::lock_guard<std::mutex> lock(seen.mu);
      if (!seen.versions.empty() && e.resource_version <= seen.versions.back()) {
        seen.in_order = false;
      }
      seen.versions.push_back(e.resource_version);
    });
  };
  Seen all, jobs;
  auto w1 = watch_into(all, {});
  auto w2 = watch_into(jobs, {"Job", ""});

  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string kind = t % 2 == 0 ? "Job" : "Pod";
      for (int i = 0; i < kObjectsPerThread; ++i) {
        std::string name = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto obj = store().Create(Obj(kind, "n", name));
        if (!obj.ok()) {
          ++failures;
          continue;
        }
        auto done = store().UpdateStatus(WithStatus(*obj, {{"phase", "Done"}}));
        if (!done.ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  const size_t total = kThreads * kObjectsPerThread * 2;
  std::lock_guard<std::mutex> l1(all.mu);
  std::lock_guard<std::mutex> l2(jobs.mu);
  EXPECT_TRUE(all.in_order);
  EXPECT_TRUE(jobs.in_order);
  EXPECT_EQ(all.versions.size(), total);
  EXPECT_EQ(jobs.versions.size(), total / 2);
  EXPECT_EQ(std::set<int64_t>(all.versions.begin(), all.versions.end()).size(), total);
  EXPECT_EQ(all.versions.back(), store().CurrentResourceVersion());
}

// --- EventsSince and compaction ---

TEST_P(StoreConformanceTest, EventsSinceReturnsLaterEventsOldestFirst) {
  auto a = store().Create(Obj("Pod", "n", "a"));
  const int64_t after = ParseResourceVersion(*a);
  auto b = store().Create(Obj("Pod", "m", "b"));
  ASSERT_TRUE(store().Create(Obj("Service", "n", "s")).ok());
  ASSERT_TRUE(store().UpdateStatus(WithStatus(*b, {{"phase", "Running"}})).ok());
  ASSERT_TRUE(store().Delete({"Pod", "n", "a"}).ok());

  auto all = store().EventsSince(after, {});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 4u);
  for (size_t i = 0; i < all->size(); ++i) {
    EXPECT_EQ((*all)[i].resource_version, after + 1 + static_cast<int64_t>(i));
  }
  EXPECT_EQ((*all)[2].type, EventType::kModified);
  EXPECT_EQ((*all)[2].object["status"]["phase"], "Running");
  EXPECT_EQ((*all)[3].type, EventType::kDeleted);

  auto pods = store().EventsSince(0, {"Pod", ""});
  ASSERT_EQ(pods->size(), 4u);
  auto pods_in_n = store().EventsSince(0, {"Pod", "n"});
  ASSERT_EQ(pods_in_n->size(), 2u);
  auto limited = store().EventsSince(0, {}, 2);
  ASSERT_EQ(limited->size(), 2u);
  EXPECT_EQ((*limited)[1].resource_version, after + 1);
  EXPECT_TRUE(store().EventsSince(store().CurrentResourceVersion(), {})->empty());
}

TEST_P(StoreConformanceTest, EventsSinceCompactedVersionFailsWithFailedPrecondition) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store().Create(Obj("Pod", "n", "p" + std::to_string(i))).ok());
  }
  ASSERT_TRUE(store().CompactEvents(3).ok());  // keeps versions 8, 9, 10
  auto too_old = store().EventsSince(6, {});
  EXPECT_EQ(too_old.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(too_old.status().message().find("too old resource version: 6"), std::string::npos);
  auto oldest = store().EventsSince(7, {});
  ASSERT_TRUE(oldest.ok()) << oldest.status().ToString();
  EXPECT_EQ(oldest->size(), 3u);
  // Compaction leaves the objects alone.
  EXPECT_EQ(store().List("Pod", "n")->items.size(), 10u);
  ASSERT_TRUE(store().CompactEvents(0).ok());
  EXPECT_TRUE(store().EventsSince(10, {})->empty());
  EXPECT_EQ(store().EventsSince(9, {}).status().code(), StatusCode::kFailedPrecondition);
  // Versions keep increasing after the log was emptied.
  EXPECT_EQ(store().CurrentResourceVersion(), 10);
  auto next = store().Create(Obj("Pod", "n", "next"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(ParseResourceVersion(*next), 11);
}

// --- Records ---

TEST_P(StoreConformanceTest, RecordsCanBePutReadOverwrittenAndDeleted) {
  EXPECT_EQ(store().GetRecord("nodes", "wf-uid", "a").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(store()
                  .Commit({Write::PutRecord("nodes", "wf-uid", "b", {{"phase", "Running"}}),
                           Write::PutRecord("nodes", "wf-uid", "a", {{"phase", "Pending"}}),
                           Write::PutRecord("nodes", "other", "a", 7),
                           Write::PutRecord("memo", "wf-uid", "a", "x")})
                  .ok());
  EXPECT_EQ((*store().GetRecord("nodes", "wf-uid", "a"))["phase"], "Pending");
  ASSERT_TRUE(
      store().Commit({Write::PutRecord("nodes", "wf-uid", "a", {{"phase", "Succeeded"}})}).ok());
  auto records = store().GetRecords("nodes", "wf-uid");
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ(records->begin()->first, "a");
  EXPECT_EQ(records->begin()->second["phase"], "Succeeded");
  EXPECT_EQ(records->rbegin()->first, "b");

  ASSERT_TRUE(store().Commit({Write::DeleteRecords("nodes", "wf-uid")}).ok());
  EXPECT_TRUE(store().GetRecords("nodes", "wf-uid")->empty());
  EXPECT_EQ(*store().GetRecord("nodes", "other", "a"), 7);
  EXPECT_EQ(*store().GetRecord("memo", "wf-uid", "a"), "x");
}

TEST_P(StoreConformanceTest, RecordsByKeyReturnsOnlyTheAskedKeysOfTheOwner) {
  ASSERT_TRUE(store()
                  .Commit({Write::PutRecord("memo", "ns/cache", "k1", {{"pod", "p1"}}),
                           Write::PutRecord("memo", "ns/cache", "k2", {{"pod", "p2"}}),
                           Write::PutRecord("memo", "ns/cache", "k'3\"", {{"pod", "p3"}}),
                           Write::PutRecord("memo", "ns/other", "k1", {{"pod", "elsewhere"}}),
                           Write::PutRecord("nodes", "ns/cache", "k1", 1)})
                  .ok());
  auto got = store().GetRecordsByKey("memo", "ns/cache", {"k1", "k'3\"", "absent"});
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ(got->at("k1")["pod"], "p1");
  EXPECT_EQ(got->at("k'3\"")["pod"], "p3");
  EXPECT_TRUE(store().GetRecordsByKey("memo", "ns/cache", {})->empty());
}

void ExpectListNeverServesACachedVersionAnotherStoreReplaced(Store& s1, Store& s2) {
  Json labelled = Obj("Pod", "n", "a");
  labelled["metadata"]["labels"] = {{"app", "x"}};
  auto a = s1.Create(labelled);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(s1.Create(Obj("Pod", "n", "b")).ok());  // both documents now cached in s1

  // s2 relabels "a" and writes a status into "b": s1's cached copies are stale.
  Json relabel = *a;
  relabel["metadata"]["labels"] = {{"app", "y"}};
  ASSERT_TRUE(s2.Update(relabel).ok());
  auto b = s2.Get({"Pod", "n", "b"});
  ASSERT_TRUE(b.ok());
  (*b)["status"] = {{"phase", "Running"}};
  ASSERT_TRUE(s2.UpdateStatus(*b).ok());

  auto all = s1.List("Pod", "n");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->items.size(), 2u);
  EXPECT_EQ(all->items[0]["metadata"]["labels"]["app"], "y");
  EXPECT_EQ(all->items[1]["status"]["phase"], "Running");
  // The label selector is judged on the current document, not the cached one.
  auto x = s1.List("Pod", "n", {"app=x", "", 0});
  ASSERT_TRUE(x.ok());
  EXPECT_TRUE(x->items.empty());
  auto y = s1.List("Pod", "n", {"app=y", "", 0});
  ASSERT_TRUE(y.ok());
  ASSERT_EQ(y->items.size(), 1u);
  EXPECT_EQ(y->items[0]["metadata"]["name"], "a");

  // Written through s1 itself: listed from its cache, and still the current document.
  Json relabel_again = y->items[0];
  relabel_again["metadata"]["labels"] = {{"app", "z"}};
  ASSERT_TRUE(s1.Update(relabel_again).ok());
  auto z = s1.List("Pod", "n", {"app=z", "", 0});
  ASSERT_TRUE(z.ok());
  ASSERT_EQ(z->items.size(), 1u);
  EXPECT_EQ(z->items[0]["metadata"]["resourceVersion"],
            (*s1.Get({"Pod", "n", "a"}))["metadata"]["resourceVersion"]);
  EXPECT_EQ(z->items[0]["metadata"]["resourceVersion"],
            (*s2.Get({"Pod", "n", "a"}))["metadata"]["resourceVersion"]);
}

}  // namespace skiff::store
