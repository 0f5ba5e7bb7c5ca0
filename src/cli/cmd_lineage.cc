// `skiff lineage` and `skiff artifacts`: what produced an artifact and what was built from it,
// read from the lineage store (`<home>/lineage.db`) that the recorder fills as steps finish.
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "api/http_client.h"

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/local_runtime.h"
#include "common/clock.h"
#include "common/fs.h"

namespace skiff::cli {

namespace {

// Lineage lives beside the store: `skiff server --store URL` users point these commands at the
// same database with $SKIFF_STORE.
std::string StoreSpecFromEnv() {
  const char* env = std::getenv("SKIFF_STORE");
  return env != nullptr ? env : "";
}

std::string Short(const std::string& digest) {
  return digest.size() > 19 ? digest.substr(0, 19) + "…" : digest;
}

std::string HumanSize(int64_t n) {
  char buf[32];
  if (n < 1024) {
    std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(n));
  } else if (n < 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KB", n / 1024.0);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MB", n / 1048576.0);
  }
  return buf;
}

std::string ArtifactLine(const metadata::ArtifactRecord& a) {
  return "artifact " + (a.name.empty() ? std::string("(unnamed)") : a.name) + "  " + Short(a.digest) + "  " +
         HumanSize(a.size) + "  [" + a.type + "]";
}

std::string ExecutionLine(const metadata::ExecutionRecord& e) {
  std::string tmpl = StringField(e.properties, "template");
  std::string what = e.type == "argo.Step" ? "step" : e.type;
  return what + " " + e.name + (tmpl.empty() ? "" : "  (" + tmpl + ")") + "  " + e.state;
}

// Prints the graph as a tree from its start nodes, following edges in the query's direction;
// a node met again is shown once and marked.
void PrintTree(const metadata::LineageGraph& g, bool upstream, const std::vector<int64_t>& start_artifacts,
               const std::vector<int64_t>& start_executions) {
  std::map<int64_t, const metadata::ArtifactRecord*> arts;
  std::map<int64_t, const metadata::ExecutionRecord*> execs;
  for (const auto& a : g.artifacts) arts[a.id] = &a;
  for (const auto& e : g.executions) execs[e.id] = &e;
  // Children: upstream, artifact -> executions that wrote it -> artifacts they read.
  std::multimap<int64_t, int64_t> a_children, e_children;
  for (const auto& ed : g.edges) {
    bool output = ed.type == "OUTPUT";
    if (upstream == output) {
      a_children.emplace(ed.artifact_id, ed.execution_id);
    } else {
      e_children.emplace(ed.execution_id, ed.artifact_id);
    }
  }
  std::set<std::pair<bool, int64_t>> shown;
  std::function<void(bool, int64_t, const std::string&, bool)> walk = [&](bool is_art, int64_t id,
                                                                           const std::string& pad, bool last) {
    std::string line;
    if (is_art) {
      auto it = arts.find(id);
      if (it == arts.end()) return;
      line = ArtifactLine(*it->second);
    } else {
      auto it = execs.find(id);
      if (it == execs.end()) return;
      line = (upstream ? "written by " : "read by ") + ExecutionLine(*it->second);
    }
    bool again = !shown.insert({is_art, id}).second;
    std::printf("%s%s%s%s\n", pad.c_str(), pad.empty() ? "" : (last ? "└─ " : "├─ "), line.c_str(),
                again ? "  (above)" : "");
    if (again) return;
    std::string child_pad = pad.empty() ? " " : pad + (last ? "   " : "│  ");
    auto range = is_art ? a_children.equal_range(id) : e_children.equal_range(id);
    std::vector<int64_t> kids;
    for (auto it = range.first; it != range.second; ++it) kids.push_back(it->second);
    for (size_t i = 0; i < kids.size(); ++i) walk(!is_art, kids[i], child_pad, i + 1 == kids.size());
  };
  for (int64_t a : start_artifacts) walk(true, a, "", true);
  for (int64_t e : start_executions) walk(false, e, "", true);
}

}  // namespace

int CmdLineage(const Argv& argv) {
  Args args({"--namespace", "--hops", "-o", "--type", "--context"}, {"--downstream", "--both"},
            {{"-n", "--namespace"}, {"--output", "-o"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  const auto& pos = args.positional();
  if (pos.size() != 2 || (pos[0] != "artifact" && pos[0] != "execution" && pos[0] != "step")) {
    return Fail(InvalidArgument("usage: skiff lineage artifact DIGEST|KEY | execution NAME [--downstream|--both] [--hops N] [-o json]"));
  }
  auto rt = LocalRuntime::Open(SkiffHome(), StoreSpecFromEnv());
  if (!rt.ok()) return Fail(rt.status(), 1);
  auto lineage = (*rt)->lineage();
  if (!lineage.ok()) return Fail(lineage.status(), 1);
  metadata::LineageQuery q;
  q.ns = args.Get("--namespace", "default");
  q.max_hops = std::atoi(args.Get("--hops", "10").c_str());
  if (q.max_hops <= 0) return Fail(InvalidArgument("--hops: must be a positive number"));
  q.direction = args.Has("--both") ? metadata::Direction::kBoth
                : args.Has("--downstream") ? metadata::Direction::kDownstream
                                           : metadata::Direction::kUpstream;
  q.artifact_type = args.Get("--type");
  q.context = args.Get("--context");
  if (pos[0] == "artifact") {
    std::string ref = pos[1];
    bool digest = ref.rfind("sha256:", 0) == 0 || (ref.size() == 64 && ref.find_first_not_of("0123456789abcdef") == std::string::npos);
    if (digest) {
      q.digest = ref;
    } else {
      auto blob = (*rt)->artifacts().ResolveKey(ref);  // an artifact key, e.g. wf/pod/model.tgz
      if (!blob.ok()) return Fail(NotFound("artifact \"" + ref + "\": neither a digest nor a known key"), 1);
      q.digest = blob->digest;
    }
  } else {
    q.execution_name = pos[1];
  }
  auto g = (*lineage)->Lineage(q);
  if (!g.ok()) return Fail(g.status(), 1);
  if (args.Get("-o") == "json" || args.Get("-o") == "yaml") {
    std::fputs(args.Get("-o") == "json" ? (DumpJson(g->ToJson(), 2) + "\n").c_str() : ToYaml(g->ToJson()).c_str(), stdout);
    return 0;
  }
  std::vector<int64_t> start_a, start_e;
  if (pos[0] == "artifact") {
    std::string d = q.digest.rfind("sha256:", 0) == 0 ? q.digest : "sha256:" + q.digest;
    for (const auto& a : g->artifacts) {
      if (a.digest == d) start_a.push_back(a.id);
    }
  } else {
    for (const auto& e : g->executions) {
      if (e.name == q.execution_name) start_e.push_back(e.id);
    }
  }
  if (q.direction != metadata::Direction::kDownstream) {
    std::printf("upstream:\n");
    PrintTree(*g, true, start_a, start_e);
  }
  if (q.direction != metadata::Direction::kUpstream) {
    std::printf("downstream:\n");
    PrintTree(*g, false, start_a, start_e);
  }
  return 0;
}

// `skiff artifacts gc`: removes blobs that no artifact key binds and no lineage record names,
// once they are `--grace` old (so a writer between storing and binding a blob keeps it).
int ArtifactsGc(const Args& args) {
  auto grace = ParseGoDuration(args.Get("--grace", "1h"));
  if (!grace.ok()) return Fail(grace.status().WithPrefix("--grace"));
  if (*grace < Duration(0)) return Fail(InvalidArgument("--grace: must not be negative"));
  auto rt = LocalRuntime::Open(SkiffHome(), StoreSpecFromEnv());
  if (!rt.ok()) return Fail(rt.status(), 1);
  auto lineage = (*rt)->lineage();
  if (!lineage.ok()) return Fail(lineage.status(), 1);
  auto digests = (*lineage)->AllDigests();
  if (!digests.ok()) return Fail(digests.status(), 1);
  metadata::ArtifactStore::GcOptions o;
  o.grace = std::chrono::duration_cast<std::chrono::seconds>(*grace);
  o.dry_run = args.Has("--dry-run");
  o.roots.insert(digests->begin(), digests->end());
  auto r = (*rt)->artifacts().CollectGarbage(o);
  if (!r.ok()) return Fail(r.status(), 1);
  if (args.Get("-o") == "json") {
    Json removed = Json::array();
    for (const auto& b : r->removed) removed.push_back({{"digest", b.digest}, {"size", b.size}});
    std::printf("%s\n", DumpJson({{"dryRun", o.dry_run}, {"removed", removed}, {"removedBytes", r->removed_bytes},
                                   {"kept", r->kept}}, 2).c_str());
    return 0;
  }
  for (const auto& b : r->removed) std::printf("%s %s  %s\n", o.dry_run ? "would remove" : "removed", b.digest.c_str(), HumanSize(b.size).c_str());
  std::printf("%s %zu blobs (%s); %lld kept\n", o.dry_run ? "would remove" : "removed", r->removed.size(),
              HumanSize(r->removed_bytes).c_str(), static_cast<long long>(r->kept));
  return 0;
}

// `skiff artifacts get` through a server's metadata API: the blob streamed into the file as
// it arrives (never whole in memory), published under its name only once complete.
int RemoteArtifactGet(const RemoteTarget& t, const Args& args) {
  const auto& pos = args.positional();
  if (pos.size() != 2 || args.Get("-o").empty()) return Fail(InvalidArgument("usage: skiff artifacts get DIGEST -o FILE"));
  auto client = api::HttpClient::Create(t.server, t.token);
  if (!client.ok()) return Fail(client.status(), 1);
  std::string path = "/apis/metadata.skiff.dev/v1/namespaces/" + api::UrlEncode(args.Get("--namespace", "default")) +
                     "/artifacts/" + api::UrlEncode(pos[1]);
  auto r = client->Download(path, args.Get("-o"));
  if (!r.ok()) return Fail(r.status(), 1);
  if (r->status != 200) {
    auto j = ParseJson(r->body);
    std::string message = j.ok() && j->is_object() ? StringField(*j, "message") : r->body;
    std::fprintf(stderr, "Error from server (%d): %s\n", r->status, message.c_str());
    return 1;
  }
  std::error_code ec;
  auto size = std::filesystem::file_size(args.Get("-o"), ec);
  std::printf("%s -> %s (%s)\n", pos[1].c_str(), args.Get("-o").c_str(), HumanSize(static_cast<int64_t>(size)).c_str());
  return 0;
}

int CmdArtifacts(const Argv& argv_in) {
  Argv argv = argv_in;
  // `get` goes through a server when one is configured (`--server`, $SKIFF_SERVER, the config
  // file), as `skiff get` does; listing and garbage collection read the local store.
  std::optional<RemoteTarget> remote;
  if (!argv.empty() && argv[0] == "get") remote = FindRemote(argv);
  Args args({"--namespace", "--type", "--context", "--digest", "-o", "--grace"}, {"--dry-run"},
            {{"-n", "--namespace"}, {"--output", "-o"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  const auto& pos = args.positional();
  if (pos.empty() || (pos[0] != "ls" && pos[0] != "list" && pos[0] != "get" && pos[0] != "gc")) {
    return Fail(InvalidArgument(
        "usage: skiff artifacts ls [--type T] [--context TYPE/NAME] [--digest D] | get DIGEST -o FILE | gc [--grace 1h] [--dry-run]"));
  }
  if (pos[0] == "gc") return ArtifactsGc(args);
  if (remote) return RemoteArtifactGet(*remote, args);
  auto rt = LocalRuntime::Open(SkiffHome(), StoreSpecFromEnv());
  if (!rt.ok()) return Fail(rt.status(), 1);
  if (pos[0] == "get") {
    if (pos.size() != 2 || args.Get("-o").empty()) return Fail(InvalidArgument("usage: skiff artifacts get DIGEST -o FILE"));
    std::string path = (*rt)->artifacts().BlobPath(pos[1]);
    if (path.empty()) return Fail(InvalidArgument("\"" + pos[1] + "\" is not a sha256 digest"));
    auto data = ReadFile(path);
    if (!data.ok()) return Fail(NotFound("no artifact with digest " + pos[1]), 1);
    Status w = WriteFile(args.Get("-o"), *data);
    if (!w.ok()) return Fail(w, 1);
    std::printf("%s -> %s (%s)\n", pos[1].c_str(), args.Get("-o").c_str(), HumanSize(static_cast<int64_t>(data->size())).c_str());
    return 0;
  }
  auto lineage = (*rt)->lineage();
  if (!lineage.ok()) return Fail(lineage.status(), 1);
  auto list = (*lineage)->Artifacts(args.Get("--namespace", "default"), args.Get("--type"), args.Get("--context"),
                                    args.Get("--digest"));
  if (!list.ok()) return Fail(list.status(), 1);
  std::string o = args.Get("-o");
  if (o == "json" || o == "yaml") {
    Json out = Json::array();
    for (const auto& a : *list) out.push_back(a.ToJson());
    std::fputs(o == "json" ? (DumpJson(out, 2) + "\n").c_str() : ToYaml(out).c_str(), stdout);
    return 0;
  }
  if (!o.empty() && o != "wide") return Fail(InvalidArgument("-o: must be json, yaml or wide, not \"" + o + "\""));
  std::vector<std::vector<std::string>> rows = {{"DIGEST", "TYPE", "NAME", "SIZE", "URI"}};
  if (o == "wide") rows[0].push_back("PROPERTIES");
  for (const auto& a : *list) {
    rows.push_back({a.digest, a.type, a.name, HumanSize(a.size), a.uri});
    if (o == "wide") rows.back().push_back(a.properties.dump());
  }
  PrintTable(rows);
  return 0;
}

// `skiff metrics`: the metrics of the executions of a context (a run, an experiment) as a table,
// one row an execution, one column a metric (its latest value); -o json lists every observation.
int CmdMetrics(const Argv& argv) {
  Args args({"--namespace", "--context", "--execution", "-o"}, {}, {{"-n", "--namespace"}, {"--output", "-o"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  if (!args.positional().empty()) {
    return Fail(InvalidArgument("usage: skiff metrics [--context TYPE/NAME | --execution NAME] [-o json]"));
  }
  auto rt = LocalRuntime::Open(SkiffHome(), StoreSpecFromEnv());
  if (!rt.ok()) return Fail(rt.status(), 1);
  auto lineage = (*rt)->lineage();
  if (!lineage.ok()) return Fail(lineage.status(), 1);
  std::string ns = args.Get("--namespace", "default");
  std::vector<std::pair<std::string, metadata::MetricRecord>> rows;
  if (args.Has("--execution")) {
    auto list = (*lineage)->ExecutionMetrics(ns, args.Get("--execution"));
    if (!list.ok()) return Fail(list.status(), 1);
    for (auto& m : *list) rows.emplace_back(args.Get("--execution"), std::move(m));
  } else {
    auto list = (*lineage)->ContextMetrics(ns, args.Get("--context"));
    if (!list.ok()) return Fail(list.status(), 1);
    rows = std::move(*list);
  }
  if (args.Get("-o") == "json" || args.Get("-o") == "yaml") {
    Json out = Json::array();
    for (const auto& [exec, m] : rows) {
      out.push_back({{"execution", exec}, {"name", m.name}, {"value", m.value}, {"step", m.step}, {"ms", m.ms}});
    }
    std::fputs(args.Get("-o") == "json" ? (DumpJson(out, 2) + "\n").c_str() : ToYaml(out).c_str(), stdout);
    return 0;
  }
  std::vector<std::string> names, execs;
  std::map<std::pair<std::string, std::string>, double> latest;
  for (const auto& [exec, m] : rows) {
    if (std::find(names.begin(), names.end(), m.name) == names.end()) names.push_back(m.name);
    if (std::find(execs.begin(), execs.end(), exec) == execs.end()) execs.push_back(exec);
    latest[{exec, m.name}] = m.value;
  }
  std::vector<std::vector<std::string>> table = {{"EXECUTION"}};
  for (const auto& n : names) table[0].push_back(n);
  for (const auto& e : execs) {
    std::vector<std::string> row = {e};
    for (const auto& n : names) {
      auto it = latest.find({e, n});
      char buf[32] = "";
      if (it != latest.end()) std::snprintf(buf, sizeof buf, "%.6g", it->second);
      row.push_back(buf);
    }
    table.push_back(std::move(row));
  }
  PrintTable(table);
  return 0;
}

// `skiff contexts ls [--type T] [--name N] [--parent TYPE/NAME]` (also `skiff get contexts`):
// the pipelines, runs, experiments, training jobs and inference services that group executions.
int CmdContexts(const Argv& argv) {
  Args args({"--namespace", "--type", "--name", "--parent", "-o"}, {}, {{"-n", "--namespace"}, {"--output", "-o"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  const auto& pos = args.positional();
  if (pos.size() > 1 || (pos.size() == 1 && pos[0] != "ls" && pos[0] != "list")) {
    return Fail(InvalidArgument("usage: skiff contexts ls [--type T] [--name N] [--parent TYPE/NAME] [-o json|yaml|wide]"));
  }
  std::string o = args.Get("-o");
  if (!o.empty() && o != "json" && o != "yaml" && o != "wide") {
    return Fail(InvalidArgument("-o: must be json, yaml or wide, not \"" + o + "\""));
  }
  auto rt = LocalRuntime::Open(SkiffHome(), StoreSpecFromEnv());
  if (!rt.ok()) return Fail(rt.status(), 1);
  auto lineage = (*rt)->lineage();
  if (!lineage.ok()) return Fail(lineage.status(), 1);
  std::string ns = args.Get("--namespace", "default");
  auto list = (*lineage)->Contexts(ns, args.Get("--type"), args.Get("--name"), args.Get("--parent"));
  if (!list.ok()) return Fail(list.status().code() == StatusCode::kNotFound ? list.status().WithPrefix("--parent") : list.status(), 1);
  if (o == "json" || o == "yaml") {
    Json out = Json::array();
    for (const auto& c : *list) out.push_back(c.ToJson());
    std::fputs(o == "json" ? (DumpJson(out, 2) + "\n").c_str() : ToYaml(out).c_str(), stdout);
    return 0;
  }
  // Executions per context, so a listing says which runs did anything.
  std::vector<std::vector<std::string>> rows = {{"TYPE", "NAME", "PARENT", "EXECUTIONS"}};
  if (o == "wide") rows[0].push_back("PROPERTIES");
  for (const auto& c : *list) {
    auto execs = (*lineage)->Executions(ns, c.type + "/" + c.name, "");
    rows.push_back({c.type, c.name, c.parent_name.empty() ? "" : c.parent_type + "/" + c.parent_name,
                    execs.ok() ? std::to_string(execs->size()) : "?"});
    if (o == "wide") rows.back().push_back(c.properties.dump());
  }
  PrintTable(rows);
  return 0;
}

// `skiff executions ls [--context TYPE/NAME] [--state S]`: the recorded executions.
int CmdExecutions(const Argv& argv) {
  Args args({"--namespace", "--context", "--state", "-o"}, {}, {{"-n", "--namespace"}, {"--output", "-o"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  const auto& pos = args.positional();
  if (pos.size() != 1 || (pos[0] != "ls" && pos[0] != "list")) {
    return Fail(InvalidArgument("usage: skiff executions ls [--context TYPE/NAME] [--state STATE] [-o json|yaml|wide]"));
  }
  auto rt = LocalRuntime::Open(SkiffHome(), StoreSpecFromEnv());
  if (!rt.ok()) return Fail(rt.status(), 1);
  auto lineage = (*rt)->lineage();
  if (!lineage.ok()) return Fail(lineage.status(), 1);
  auto list = (*lineage)->Executions(args.Get("--namespace", "default"), args.Get("--context"), args.Get("--state"));
  if (!list.ok()) return Fail(list.status(), 1);
  std::string o = args.Get("-o");
  if (o == "json" || o == "yaml") {
    Json out = Json::array();
    for (const auto& e : *list) out.push_back(e.ToJson());
    std::fputs(o == "json" ? (DumpJson(out, 2) + "\n").c_str() : ToYaml(out).c_str(), stdout);
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"NAME", "TYPE", "STATE"}};
  if (o == "wide") rows[0].push_back("PROPERTIES");
  for (const auto& e : *list) {
    rows.push_back({e.name, e.type, e.state});
    if (o == "wide") rows.back().push_back(e.properties.dump());
  }
  PrintTable(rows);
  return 0;
}

}  // namespace skiff::cli
