// `skiff apply|create|get|describe|delete|logs|wait` against a running `skiff server`, chosen by
// `--server URL`, `$SKIFF_SERVER` or the config file (`$SKIFF_CONFIG`, default
// `~/.config/skiff/config.yaml`: `server:` and `token:`). Output follows kubectl's: Tables from the
// server for `get`, `Error from server (Reason): message` on failures.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>

#include "api/http_client.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "common/fs.h"
#include "kinds/registry.h"

namespace skiff::cli {

namespace {

using kinds::KindInfo;

std::string KindPath(const KindInfo& k, const std::string& ns, const std::string& name = "") {
  std::string p = k.group.empty() ? "/api/" + k.version : "/apis/" + k.group + "/" + k.version;
  if (k.namespaced && !ns.empty()) p += "/namespaces/" + api::UrlEncode(ns);
  p += "/" + k.plural;
  if (!name.empty()) p += "/" + api::UrlEncode(name);
  return p;
}

std::string Qualified(const KindInfo& k) { return k.group.empty() ? k.singular : k.singular + "." + k.group; }

// kubectl's way of showing a failed request; returns the exit code (1).
int ServerError(const api::ClientResponse& r) {
  auto body = ParseJson(r.body);
  if (body.ok() && body->is_object() && StringField(*body, "kind") == "Status") {
    std::fprintf(stderr, "Error from server (%s): %s\n", StringField(*body, "reason").c_str(),
                 StringField(*body, "message").c_str());
  } else {
    std::fprintf(stderr, "Error from server: HTTP %d %s\n", r.status, r.body.c_str());
  }
  return 1;
}

int Unreachable(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  return 1;
}

const KindInfo* ResolveOrFail(const std::string& res) {
  const KindInfo* k = kinds::ResolveName(res);
  if (k == nullptr) std::fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n", res.c_str());
  return k;
}

// Splits "kind/name" and "kind name..." forms.
void SplitKindName(const std::vector<std::string>& pos, std::string* res, std::vector<std::string>* names) {
  *res = pos.empty() ? "" : pos[0];
  size_t slash = res->find('/');
  if (slash != std::string::npos) {
    names->push_back(res->substr(slash + 1));
    *res = res->substr(0, slash);
  }
  for (size_t i = 1; i < pos.size(); ++i) names->push_back(pos[i]);
}

std::string Upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Rows of a server Table: the columns `wide` allows, with a NAMESPACE column first if asked.
std::vector<std::vector<std::string>> TableRows(const Json& table, const std::vector<size_t>& cols,
                                                bool with_ns) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : table.value("rows", Json::array())) {
    std::vector<std::string> r;
    if (with_ns) r.push_back(StringField(row.value("object", Json::object()).value("metadata", Json::object()), "namespace"));
    const Json& cells = row.value("cells", Json::array());
    for (size_t c : cols) r.push_back(c < cells.size() ? ScalarToString(cells[c]) : "");
    rows.push_back(std::move(r));
  }
  return rows;
}

constexpr const char* kTableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

}  // namespace

std::optional<RemoteTarget> FindRemote(Argv& argv) {
  RemoteTarget t;
  for (size_t i = 0; i < argv.size();) {
    const std::string& a = argv[i];
    auto take = [&](const char* flag, std::string* out) {
      std::string f = flag;
      if (a == f && i + 1 < argv.size()) {
        *out = argv[i + 1];
        argv.erase(argv.begin() + static_cast<std::ptrdiff_t>(i), argv.begin() + static_cast<std::ptrdiff_t>(i) + 2);
        return true;
      }
      if (a.rfind(f + "=", 0) == 0) {
        *out = a.substr(f.size() + 1);
        argv.erase(argv.begin() + static_cast<std::ptrdiff_t>(i));
        return true;
      }
      return false;
    };
    if (take("--server", &t.server) || take("--token", &t.token)) continue;
    ++i;
  }
  if (t.server.empty()) {
    if (const char* s = std::getenv("SKIFF_SERVER")) t.server = s;
  }
  if (t.token.empty()) {
    if (const char* s = std::getenv("SKIFF_TOKEN")) t.token = s;
  }
  if (t.server.empty() || t.token.empty()) {
    std::string path;
    if (const char* c = std::getenv("SKIFF_CONFIG")) {
      path = c;
    } else if (const char* h = std::getenv("HOME")) {
      path = std::string(h) + "/.config/skiff/config.yaml";
    }
    auto text = path.empty() ? Result<std::string>(NotFound("")) : ReadFile(path);
    if (text.ok()) {
      auto cfg = ParseYaml(*text);
      if (cfg.ok() && cfg->is_object()) {
        if (t.server.empty()) t.server = StringField(*cfg, "server");
        if (t.token.empty()) t.token = StringField(*cfg, "token");
      }
    }
  }
  if (t.server.empty()) return std::nullopt;
  return t;
}

int RemoteGet(const RemoteTarget& t, const Argv& argv) {
  Args args({"-o", "--namespace", "-l", "--field-selector"}, {"-A", "--watch"},
            {{"--output", "-o"}, {"-n", "--namespace"}, {"--selector", "-l"}, {"--all-namespaces", "-A"}, {"-w", "--watch"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  std::string res;
  std::vector<std::string> names;
  SplitKindName(args.positional(), &res, &names);
  if (res.empty()) return Fail(InvalidArgument("usage: skiff get KIND [NAME] [-o json|yaml|name|wide]"));
  const KindInfo* k = ResolveOrFail(res);
  if (k == nullptr) return 1;
  auto client = api::HttpClient::Create(t.server, t.token);
  if (!client.ok()) return Fail(client.status());
  bool all_ns = args.Has("-A");
  std::string ns = all_ns ? "" : args.Get("--namespace", "default");
  std::string output = args.Get("-o");
  std::string query;
  auto add = [&](const std::string& key, const std::string& v) {
    if (!v.empty()) query += (query.empty() ? "?" : "&") + key + "=" + api::UrlEncode(v);
  };
  add("labelSelector", args.Get("-l"));
  add("fieldSelector", args.Get("--field-selector"));
  std::string path = KindPath(*k, ns, names.empty() ? "" : names[0]);
  bool structured = output == "json" || output == "yaml" || output == "name";
  auto r = client->Do("GET", path + query, "", "", structured ? std::map<std::string, std::string>{}
                                                         : std::map<std::string, std::string>{{"Accept", kTableAccept}});
  if (!r.ok()) return Unreachable(r.status());
  if (r->status != 200) return ServerError(*r);
  auto body = ParseJson(r->body);
  if (!body.ok()) return Fail(Internal("the server sent invalid JSON"), 1);
  if (output == "json" || output == "yaml") {
    std::fputs(output == "json" ? (DumpJson(*body, 2) + "\n").c_str() : ToYaml(*body).c_str(), stdout);
    return 0;
  }
  if (output == "name") {
    const Json items = body->contains("items") ? (*body)["items"] : Json::array({*body});
    for (const auto& i : items) std::printf("%s/%s\n", Qualified(*k).c_str(), StringField(i["metadata"], "name").c_str());
    return 0;
  }
  bool wide = output == "wide";
  std::vector<size_t> cols;
  std::vector<std::string> header;
  if (all_ns && k->namespaced) header.push_back("NAMESPACE");
  const Json& defs = body->value("columnDefinitions", Json::array());
  for (size_t i = 0; i < defs.size(); ++i) {
    if (!wide && defs[i].value("priority", 0) > 0) continue;
    cols.push_back(i);
    header.push_back(Upper(StringField(defs[i], "name")));
  }
  auto rows = TableRows(*body, cols, all_ns && k->namespaced);
  if (rows.empty() && !args.Has("--watch")) {
    if (k->namespaced && !all_ns) {
      std::fprintf(stderr, "No resources found in %s namespace.\n", ns.c_str());
    } else {
      std::fprintf(stderr, "No resources found\n");
    }
    return 0;
  }
  rows.insert(rows.begin(), header);
  PrintTable(rows);
  if (!args.Has("--watch")) return 0;
  std::string rv = StringField(body->value("metadata", Json::object()), "resourceVersion");
  std::string watch_path = KindPath(*k, ns) + (query.empty() ? "?" : query + "&") + "watch=true&resourceVersion=" + rv;
  if (!names.empty()) watch_path += "&fieldSelector=" + api::UrlEncode("metadata.name=" + names[0]);
  api::LineSplitter lines;
  auto w = client->Stream("GET", watch_path, [&](const std::string& chunk) {
    return lines.Feed(chunk, [&](const std::string& line) {
      auto ev = ParseJson(line);
      if (!ev.ok()) return true;
      if (StringField(*ev, "type") == "ERROR") return false;
      auto row = TableRows((*ev)["object"], cols, all_ns && k->namespaced);
      std::vector<std::vector<std::string>> rs = {header};
      for (auto& r2 : row) rs.push_back(std::move(r2));
      // Align with the header widths printed above by reprinting header-width columns.
      for (size_t i = 1; i < rs.size(); ++i) {
        std::string line;
        for (size_t c = 0; c < rs[i].size(); ++c) {
          line += rs[i][c];
          if (c + 1 < rs[i].size()) line += "   ";
        }
        std::printf("%s\n", line.c_str());
      }
      std::fflush(stdout);
      return true;
    });
  }, {{"Accept", kTableAccept}});
  if (!w.ok()) return Unreachable(w.status());
  return 0;
}

int RemoteApply(const RemoteTarget& t, const Argv& argv, bool create_only) {
  Args args({"-f", "--namespace"}, {}, {{"--filename", "-f"}, {"-n", "--namespace"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  std::vector<std::string> files = args.GetAll("-f");
  if (files.empty()) return Fail(InvalidArgument("usage: skiff apply -f FILE"));
  std::vector<Json> docs;
  for (const auto& f : files) {
    auto d = LoadDocuments(f);
    if (!d.ok()) return Fail(d.status());
    for (auto& doc : *d) {
      const KindInfo* k = kinds::FindKind(StringField(doc, "kind"));
      if (k == nullptr) return Fail(InvalidArgument(f + ": kind: unknown kind \"" + StringField(doc, "kind") + "\""));
      docs.push_back(std::move(doc));
    }
  }
  auto client = api::HttpClient::Create(t.server, t.token);
  if (!client.ok()) return Fail(client.status());
  int rc = 0;
  for (auto& doc : docs) {
    const KindInfo* k = kinds::FindKind(StringField(doc, "kind"));
    std::string ns = StringField(doc.value("metadata", Json::object()), "namespace");
    if (ns.empty()) ns = args.Get("--namespace", "default");
    auto r = client->Do("POST", KindPath(*k, ns), doc.dump());
    if (!r.ok()) return Unreachable(r.status());
    std::string name = StringField(doc.value("metadata", Json::object()), "name");
    if (r->status == 201) {
      auto created = ParseJson(r->body);
      if (created.ok()) name = StringField((*created)["metadata"], "name");
      std::printf("%s/%s created\n", Qualified(*k).c_str(), name.c_str());
      continue;
    }
    bool exists = r->status == 409 && r->body.find("AlreadyExists") != std::string::npos;
    if (!exists || create_only || name.empty()) {
      rc = ServerError(*r);
      continue;
    }
    auto before = client->Do("GET", KindPath(*k, ns, name));
    auto p = client->Do("PATCH", KindPath(*k, ns, name), doc.dump(), "application/merge-patch+json");
    if (!p.ok()) return Unreachable(p.status());
    if (p->status != 200) {
      rc = ServerError(*p);
      continue;
    }
    auto b = before.ok() ? ParseJson(before->body) : Result<Json>(Json());
    auto a = ParseJson(p->body);
    bool same = b.ok() && a.ok() && StringField(b->value("metadata", Json::object()), "resourceVersion") ==
                                        StringField(a->value("metadata", Json::object()), "resourceVersion");
    std::printf("%s/%s %s\n", Qualified(*k).c_str(), name.c_str(), same ? "unchanged" : "configured");
  }
  return rc;
}

int RemoteDelete(const RemoteTarget& t, const Argv& argv) {
  Args args({"--namespace", "-l"}, {"--all"}, {{"-n", "--namespace"}, {"--selector", "-l"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  std::string res;
  std::vector<std::string> names;
  SplitKindName(args.positional(), &res, &names);
  if (res.empty() || (names.empty() && !args.Has("--all") && !args.Has("-l"))) {
    return Fail(InvalidArgument("usage: skiff delete KIND NAME... | --all | -l SELECTOR"));
  }
  const KindInfo* k = ResolveOrFail(res);
  if (k == nullptr) return 1;
  auto client = api::HttpClient::Create(t.server, t.token);
  if (!client.ok()) return Fail(client.status());
  std::string ns = args.Get("--namespace", "default");
  if (names.empty()) {
    std::string q = args.Has("-l") ? "?labelSelector=" + api::UrlEncode(args.Get("-l")) : "";
    auto r = client->Do("DELETE", KindPath(*k, ns) + q);
    if (!r.ok()) return Unreachable(r.status());
    if (r->status != 200) return ServerError(*r);
    auto list = ParseJson(r->body);
    if (list.ok()) {
      for (const auto& i : list->value("items", Json::array())) {
        std::printf("%s \"%s\" deleted\n", Qualified(*k).c_str(), StringField(i["metadata"], "name").c_str());
      }
    }
    return 0;
  }
  int rc = 0;
  for (const auto& n : names) {
    auto r = client->Do("DELETE", KindPath(*k, ns, n));
    if (!r.ok()) return Unreachable(r.status());
    if (r->status != 200) {
      rc = ServerError(*r);
      continue;
    }
    std::printf("%s \"%s\" deleted\n", Qualified(*k).c_str(), n.c_str());
  }
  return rc;
}

int RemoteDescribe(const RemoteTarget& t, const Argv& argv) {
  Args args({"--namespace"}, {}, {{"-n", "--namespace"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  std::string res;
  std::vector<std::string> names;
  SplitKindName(args.positional(), &res, &names);
  if (res.empty() || names.empty()) return Fail(InvalidArgument("usage: skiff describe KIND NAME"));
  const KindInfo* k = ResolveOrFail(res);
  if (k == nullptr) return 1;
  auto client = api::HttpClient::Create(t.server, t.token);
  if (!client.ok()) return Fail(client.status());
  std::string ns = k->namespaced ? args.Get("--namespace", "default") : "";
  auto r = client->Do("GET", KindPath(*k, ns, names[0]));
  if (!r.ok()) return Unreachable(r.status());
  if (r->status != 200) return ServerError(*r);
  auto obj = ParseJson(r->body);
  if (!obj.ok()) return Fail(Internal("the server sent invalid JSON"), 1);
  std::printf("%s", DescribeText(*obj).c_str());
  std::string sel = "involvedObject.name=" + names[0] + ",involvedObject.kind=" + k->kind;
  auto ev = client->Do("GET", "/api/v1/namespaces/" + api::UrlEncode(ns.empty() ? "default" : ns) +
                                  "/events?fieldSelector=" + api::UrlEncode(sel));
  Json events = Json::array();
  if (ev.ok() && ev->status == 200) {
    auto list = ParseJson(ev->body);
    if (list.ok()) events = list->value("items", Json::array());
  }
  std::printf("%s", EventsText(events).c_str());
  return 0;
}

int RemoteLogs(const RemoteTarget& t, const Argv& argv) {
  Args args({"--namespace", "-c"}, {"-f"}, {{"-n", "--namespace"}, {"--container", "-c"}, {"--follow", "-f"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  if (args.positional().empty()) return Fail(InvalidArgument("usage: skiff logs POD | WORKFLOW [STEP] [-f]"));
  std::string target = args.positional()[0];
  if (target.rfind("pod/", 0) == 0) target = target.substr(4);
  std::string step = args.positional().size() > 1 ? args.positional()[1] : "";
  auto client = api::HttpClient::Create(t.server, t.token);
  if (!client.ok()) return Fail(client.status());
  std::string ns = args.Get("--namespace", "default");
  const KindInfo* pod_kind = kinds::FindKind("Pod");
  std::vector<std::string> pods;
  auto pod = client->Do("GET", KindPath(*pod_kind, ns, target));
  if (!pod.ok()) return Unreachable(pod.status());
  if (pod->status == 200 && step.empty()) {
    pods.push_back(target);
  } else {
    // A workflow: its pods, optionally one step's (by display name, node name or pod name).
    auto list = client->Do("GET", KindPath(*pod_kind, ns) + "?labelSelector=" +
                                      api::UrlEncode("workflows.argoproj.io/workflow=" + target));
    if (!list.ok()) return Unreachable(list.status());
    auto l = ParseJson(list->body);
    if (list->status != 200 || !l.ok()) return ServerError(*list);
    for (const auto& p : l->value("items", Json::array())) {
      const Json& md = p["metadata"];
      std::string node = StringField(md.value("annotations", Json::object()), "workflows.argoproj.io/node-name");
      std::string display = node.substr(node.rfind('.') == std::string::npos ? 0 : node.rfind('.') + 1);
      if (step.empty() || step == display || step == node || step == StringField(md, "name")) {
        pods.push_back(StringField(md, "name"));
      }
    }
    if (pods.empty()) {
      if (pod->status != 200 && step.empty()) return ServerError(*pod);
      std::fprintf(stderr, "error: no pods for %s%s\n", target.c_str(), step.empty() ? "" : (" step " + step).c_str());
      return 1;
    }
  }
  bool prefix = pods.size() > 1;
  for (const auto& p : pods) {
    std::string q = "?";
    if (args.Has("-c")) q += "container=" + api::UrlEncode(args.Get("-c")) + "&";
    if (args.Has("-f")) q += "follow=true";
    std::string pre = prefix ? p + ": " : "";
    std::string partial;
    auto r = client->Stream("GET", KindPath(*pod_kind, ns, p) + "/log" + q, [&](const std::string& chunk) {
      if (pre.empty()) {
        std::fwrite(chunk.data(), 1, chunk.size(), stdout);
      } else {
        partial += chunk;
        size_t nl;
        while ((nl = partial.find('\n')) != std::string::npos) {
          std::printf("%s%s\n", pre.c_str(), partial.substr(0, nl).c_str());
          partial.erase(0, nl + 1);
        }
      }
      std::fflush(stdout);
      return true;
    });
    if (!r.ok()) return Unreachable(r.status());
    if (r->status != 200) return ServerError(*r);
    if (!r->body.empty()) {
      std::istringstream in(r->body);
      std::string line;
      while (std::getline(in, line)) std::printf("%s%s\n", pre.c_str(), line.c_str());
    }
    if (!partial.empty()) std::printf("%s%s\n", pre.c_str(), partial.c_str());
  }
  std::fflush(stdout);
  return 0;
}

int RemoteWait(const RemoteTarget& t, const Argv& argv) {
  Args args({"--namespace"}, {}, {{"-n", "--namespace"}});
  Status ps = args.Parse(argv);
  if (!ps.ok()) return Fail(ps);
  if (args.positional().empty()) return Fail(InvalidArgument("usage: skiff wait WORKFLOW..."));
  auto client = api::HttpClient::Create(t.server, t.token);
  if (!client.ok()) return Fail(client.status());
  std::string ns = args.Get("--namespace", "default");
  const KindInfo* wf = kinds::FindKind("Workflow");
  int rc = 0;
  for (const auto& name : args.positional()) {
    auto exists = client->Do("GET", KindPath(*wf, ns, name));
    if (!exists.ok()) return Unreachable(exists.status());
    if (exists->status != 200) {
      rc = ServerError(*exists);
      continue;
    }
    std::string phase;
    auto terminal = [](const std::string& p) { return p == "Succeeded" || p == "Failed" || p == "Error"; };
    // Watch from "now" with the current state first (resourceVersion unset), until it ends.
    auto r = client->Stream("GET", KindPath(*wf, ns) + "?watch=true&fieldSelector=" +
                                       api::UrlEncode("metadata.name=" + name),
                            [&, lines = api::LineSplitter()](const std::string& chunk) mutable {
                              return lines.Feed(chunk, [&](const std::string& line) {
                                auto ev = ParseJson(line);
                                if (!ev.ok()) return true;
                                if (StringField(*ev, "type") == "DELETED") {
                                  phase = "Deleted";
                                  return false;
                                }
                                phase = StringField((*ev)["object"].value("status", Json::object()), "phase");
                                return !terminal(phase);
                              });
                            });
    if (!r.ok()) return Unreachable(r.status());
    if (r->status != 200) return ServerError(*r);
    if (phase.empty()) {
      std::fprintf(stderr, "Error from server (NotFound): workflows.argoproj.io \"%s\" not found\n", name.c_str());
      rc = 1;
      continue;
    }
    std::printf("%s %s\n", name.c_str(), phase.c_str());
    if (phase != "Succeeded") rc = 1;
  }
  return rc;
}

}  // namespace skiff::cli
