#include "api/kube_api.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "api/kube_patch.h"
#include "api/kube_schema.h"
#include "common/event_loop.h"
#include "kinds/registry.h"
#include "store/selectors.h"

namespace skiff::api {

namespace {

using kinds::KindInfo;

// A parsed resource path.
struct Route {
  const KindInfo* kind = nullptr;
  std::string ns;           // from /namespaces/{ns}/ ("" for cluster-wide lists)
  std::string name;         // "" for collections
  std::string subresource;  // "status", "log" or ""
};

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : path) {
    if (c == '/') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// Parses ".../{plural}[/{name}[/{sub}]]" or ".../namespaces/{ns}/{plural}[...]" after the group
// version. Returns NotFound for paths that name no served resource.
Result<Route> ParseRoute(const std::string& group, const std::string& version,
                         const std::vector<std::string>& rest) {
  Route r;
  size_t i = 0;
  bool core = group.empty();
  // /api/v1/namespaces[/{name}[/status]] addresses Namespace objects themselves.
  if (rest.size() >= 2 && rest[0] == "namespaces" &&
      !(core && (rest.size() == 2 || (rest.size() == 3 && (rest[2] == "status" || rest[2] == "finalize"))))) {
    r.ns = rest[1];
    i = 2;
  }
  if (i >= rest.size()) return NotFound("the server could not find the requested resource");
  r.kind = kinds::FindResource(group, version, rest[i]);
  if (r.kind == nullptr) return NotFound("the server could not find the requested resource");
  if (!r.kind->namespaced && !r.ns.empty()) return NotFound("the server could not find the requested resource");
  if (i + 1 < rest.size()) r.name = rest[i + 1];
  if (i + 2 < rest.size()) r.subresource = rest[i + 2];
  if (i + 3 < rest.size()) return NotFound("the server could not find the requested resource");
  if (!r.subresource.empty()) {
    bool ok = (r.subresource == "status" && r.kind->has_status) ||
              (r.subresource == "log" && r.kind->kind == "Pod");
    if (!ok) return NotFound("the server could not find the requested resource");
  }
  return r;
}

std::string Resource(const KindInfo& k) { return k.group.empty() ? k.plural : k.plural + "." + k.group; }

const char* ReasonFor(StatusCode code, int* http) {
  switch (code) {
    case StatusCode::kInvalidArgument: *http = 422; return "Invalid";
    case StatusCode::kNotFound: *http = 404; return "NotFound";
    case StatusCode::kAlreadyExists: *http = 409; return "AlreadyExists";
    case StatusCode::kConflict: *http = 409; return "Conflict";
    case StatusCode::kFailedPrecondition: *http = 400; return "BadRequest";
    case StatusCode::kPermissionDenied: *http = 403; return "Forbidden";
    case StatusCode::kUnavailable: *http = 503; return "ServiceUnavailable";
    case StatusCode::kDeadlineExceeded: *http = 504; return "Timeout";
    case StatusCode::kUnimplemented: *http = 405; return "MethodNotAllowed";
    default: *http = 500; return "InternalError";
  }
}

Json MakeStatus(int code, const std::string& reason, const std::string& message, Json details = nullptr) {
  Json s = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", Json::object()},
            {"status", "Failure"}, {"message", message}, {"reason", reason}, {"code", code}};
  if (!details.is_null()) s["details"] = std::move(details);
  return s;
}

void Reply(HttpResponse& resp, int code, const Json& body) {
  resp.status = code;
  resp.content_type = "application/json";
  resp.body = body.dump();
}

void ReplyError(HttpResponse& resp, int code, const std::string& reason, const std::string& message,
                Json details = nullptr) {
  Reply(resp, code, MakeStatus(code, reason, message, std::move(details)));
}

// Field selectors on any dotted path (`involvedObject.name=x` for events, `spec.nodeName=`...).
struct FieldReq {
  std::string path;
  bool equals = true;
  std::string value;
};

Result<std::vector<FieldReq>> ParseFieldSelector(const std::string& text) {
  std::vector<FieldReq> out;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    if (part.empty()) continue;
    FieldReq r;
    size_t p;
    if ((p = part.find("!=")) != std::string::npos) {
      r.equals = false;
      r.path = part.substr(0, p);
      r.value = part.substr(p + 2);
    } else if ((p = part.find("==")) != std::string::npos) {
      r.path = part.substr(0, p);
      r.value = part.substr(p + 2);
    } else if ((p = part.find('=')) != std::string::npos) {
      r.path = part.substr(0, p);
      r.value = part.substr(p + 1);
    } else {
      return InvalidArgument("invalid field selector \"" + part + "\": expected field=value");
    }
    out.push_back(std::move(r));
  }
  return out;
}

bool MatchesFields(const std::vector<FieldReq>& reqs, const Json& obj) {
  for (const auto& r : reqs) {
    const Json* cur = &obj;
    std::stringstream ss(r.path);
    std::string seg;
    while (cur != nullptr && std::getline(ss, seg, '.')) cur = FindField(*cur, seg);
    std::string v = cur == nullptr ? "" : ScalarToString(*cur);
    if ((v == r.value) != r.equals) return false;
  }
  return true;
}

struct Filters {
  store::LabelSelector labels;
  std::vector<FieldReq> fields;
  bool Matches(const Json& obj) const {
    return (labels.empty() || labels.Matches(obj.value("metadata", Json::object()).value("labels", Json()))) &&
           MatchesFields(fields, obj);
  }
};

Result<Filters> ParseFilters(const HttpRequest& req) {
  Filters f;
  auto ls = store::LabelSelector::Parse(req.Query("labelSelector"));
  if (!ls.ok()) return ls.status();
  f.labels = std::move(*ls);
  auto fs = ParseFieldSelector(req.Query("fieldSelector"));
  if (!fs.ok()) return fs.status();
  f.fields = std::move(*fs);
  return f;
}

TableObjects IncludeObject(const HttpRequest& req) {
  std::string v = req.Query("includeObject", "Metadata");
  if (v == "None") return TableObjects::kNone;
  if (v == "Object") return TableObjects::kObject;
  return TableObjects::kMetadata;
}

bool Truthy(const std::string& v) { return v == "true" || v == "1" || v == "True"; }

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

Json StatusBody(const Status& status, int* http_code) {
  const char* reason = ReasonFor(status.code(), http_code);
  return MakeStatus(*http_code, reason, status.message());
}

struct KubeApi::Impl {
  KubeApiOptions opts;
  store::Store& store;
  // Timers for watches (bookmarks, timeouts) and `logs -f` polling.
  EventLoop ticker;
  std::thread ticker_thread;

  explicit Impl(KubeApiOptions o) : opts(std::move(o)), store(*opts.store) {
    ticker_thread = std::thread([this] { ticker.Run(); });
  }
  ~Impl() {
    ticker.Stop();
    ticker_thread.join();
  }

  void Handle(const HttpRequest& req, HttpResponse& resp, HttpExchange& ex);
  void HandleResource(const HttpRequest& req, const Route& route, HttpResponse& resp, HttpExchange& ex);
  void Get(const HttpRequest& req, const Route& r, HttpResponse& resp);
  void List(const HttpRequest& req, const Route& r, HttpResponse& resp);
  void Watch(const HttpRequest& req, const Route& r, HttpResponse& resp, HttpExchange& ex);
  void Create(const HttpRequest& req, const Route& r, HttpResponse& resp);
  void Replace(const HttpRequest& req, const Route& r, HttpResponse& resp);
  void Patch(const HttpRequest& req, const Route& r, HttpResponse& resp);
  void Delete(const HttpRequest& req, const Route& r, HttpResponse& resp);
  void DeleteCollection(const HttpRequest& req, const Route& r, HttpResponse& resp);
  void Log(const HttpRequest& req, const Route& r, HttpResponse& resp, HttpExchange& ex);

  // Maps a store error on object `name` of `kind` to Kubernetes' message and reason.
  void StoreError(HttpResponse& resp, const Status& s, const KindInfo& k, const std::string& name);
  Result<Json> ParseBody(const HttpRequest& req);
  // Defaults and checks the identity of a body against its URL.
  Status CheckIdentity(Json& obj, const Route& r, bool require_name);
  Status Validate(const Json& obj, const KindInfo& k);
  Json ListDoc(const KindInfo& k, std::vector<Json> items, int64_t rv);
};

void KubeApi::Impl::StoreError(HttpResponse& resp, const Status& s, const KindInfo& k,
                               const std::string& name) {
  Json details = {{"name", name}, {"kind", k.plural}};
  if (!k.group.empty()) details["group"] = k.group;
  switch (s.code()) {
    case StatusCode::kNotFound:
      ReplyError(resp, 404, "NotFound", Resource(k) + " \"" + name + "\" not found", details);
      return;
    case StatusCode::kAlreadyExists:
      ReplyError(resp, 409, "AlreadyExists", Resource(k) + " \"" + name + "\" already exists", details);
      return;
    case StatusCode::kConflict:
      ReplyError(resp, 409, "Conflict",
                 "Operation cannot be fulfilled on " + Resource(k) + " \"" + name +
                     "\": the object has been modified; please apply your changes to the latest "
                     "version and try again",
                 details);
      return;
    case StatusCode::kInvalidArgument: {
      // "spec.x[1].y: message" -> a cause naming the field.
      std::string field, message = s.message();
      size_t colon = message.find(": ");
      if (colon != std::string::npos && message.find(' ') > colon) {
        field = message.substr(0, colon);
        message = message.substr(colon + 2);
      }
      details["causes"] = Json::array({{{"reason", "FieldValueInvalid"}, {"message", message}, {"field", field}}});
      ReplyError(resp, 422, "Invalid", k.kind + (k.group.empty() ? "" : "." + k.group) + " \"" + name +
                                          "\" is invalid: " + s.message(), details);
      return;
    }
    default: {
      int code = 500;
      const char* reason = ReasonFor(s.code(), &code);
      ReplyError(resp, code, reason, s.message());
    }
  }
}

Result<Json> KubeApi::Impl::ParseBody(const HttpRequest& req) {
  std::string ct = req.Header("content-type");
  Result<Json> parsed = ct.find("yaml") != std::string::npos ? ParseYaml(req.body) : ParseJson(req.body);
  if (!parsed.ok()) return InvalidArgument("the request body is not valid: " + parsed.status().message());
  return parsed;
}

Status KubeApi::Impl::CheckIdentity(Json& obj, const Route& r, bool require_name) {
  const KindInfo& k = *r.kind;
  if (!obj.is_object()) return FailedPrecondition("the request body must be an object");
  std::string api_version = StringField(obj, "apiVersion");
  std::string kind = StringField(obj, "kind");
  if ((!api_version.empty() && api_version != k.api_version()) || (!kind.empty() && kind != k.kind)) {
    return FailedPrecondition("the API version in the data (" + api_version + ") and kind (" + kind +
                              ") do not match the expected " + k.api_version() + " " + k.kind);
  }
  obj["apiVersion"] = k.api_version();
  obj["kind"] = k.kind;
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = Json::object();
  Json& md = obj["metadata"];
  std::string ns = StringField(md, "namespace");
  if (k.namespaced) {
    if (r.ns.empty()) return FailedPrecondition("a namespaced resource needs a namespace in the path");
    if (!ns.empty() && ns != r.ns) {
      return FailedPrecondition("the namespace of the provided object (" + ns +
                                ") does not match the namespace sent on the request (" + r.ns + ")");
    }
    md["namespace"] = r.ns;
  } else {
    md.erase("namespace");
  }
  std::string name = StringField(md, "name");
  if (!r.name.empty() && !name.empty() && name != r.name) {
    return FailedPrecondition("the name of the object (" + name + ") does not match the name on the URL (" +
                              r.name + ")");
  }
  if (!r.name.empty()) md["name"] = r.name;
  if (require_name && StringField(md, "name").empty() && StringField(md, "generateName").empty()) {
    return InvalidArgument("metadata.name: name or generateName is required");
  }
  return OkStatus();
}

Status KubeApi::Impl::Validate(const Json& obj, const KindInfo&) {
  if (opts.validate) return opts.validate(obj);
  return OkStatus();
}

Json KubeApi::Impl::ListDoc(const KindInfo& k, std::vector<Json> items, int64_t rv) {
  return {{"kind", k.kind + "List"}, {"apiVersion", k.api_version()},
          {"metadata", {{"resourceVersion", std::to_string(rv)}}}, {"items", std::move(items)}};
}

namespace {

// The default namespace exists without being created, as on a fresh cluster.
Json DefaultNamespace() {
  return {{"apiVersion", "v1"}, {"kind", "Namespace"},
          {"metadata", {{"name", "default"}, {"creationTimestamp", "1970-01-01T00:00:00Z"}}},
          {"spec", {{"finalizers", {"kubernetes"}}}}, {"status", {{"phase", "Active"}}}};
}

}  // namespace

void KubeApi::Impl::Get(const HttpRequest& req, const Route& r, HttpResponse& resp) {
  auto obj = store.Get({r.kind->kind, r.ns, r.name});
  if (!obj.ok() && obj.status().code() == StatusCode::kNotFound && r.kind->kind == "Namespace" &&
      r.name == "default") {
    obj = DefaultNamespace();
  }
  if (!obj.ok()) return StoreError(resp, obj.status(), *r.kind, r.name);
  if (WantsTable(req.Header("accept"))) {
    return Reply(resp, 200, ToTable(*r.kind, {*obj}, IncludeObject(req), true, SystemClock::Get().Now()));
  }
  Reply(resp, 200, opts.expand && r.subresource.empty() ? opts.expand(std::move(*obj)) : *obj);
}

void KubeApi::Impl::List(const HttpRequest& req, const Route& r, HttpResponse& resp) {
  auto filters = ParseFilters(req);
  if (!filters.ok()) return ReplyError(resp, 400, "BadRequest", filters.status().message());
  store::ListOptions lo;
  lo.label_selector = req.Query("labelSelector");
  auto list = store.List(r.kind->kind, r.ns, lo);
  if (!list.ok()) return StoreError(resp, list.status(), *r.kind, "");
  std::vector<Json> items;
  if (r.kind->kind == "Namespace") {
    bool has_default = false;
    for (const auto& i : list->items) has_default = has_default || StringField(i["metadata"], "name") == "default";
    if (!has_default) list->items.insert(list->items.begin(), DefaultNamespace());
  }
  for (auto& i : list->items) {
    if (filters->fields.empty() || MatchesFields(filters->fields, i)) items.push_back(std::move(i));
  }
  if (WantsTable(req.Header("accept"))) {
    Json t = ToTable(*r.kind, items, IncludeObject(req), true, SystemClock::Get().Now());
    t["metadata"]["resourceVersion"] = std::to_string(list->resource_version);
    return Reply(resp, 200, t);
  }
  if (opts.expand) {
    for (auto& i : items) i = opts.expand(std::move(i));
  }
  Reply(resp, 200, ListDoc(*r.kind, std::move(items), list->resource_version));
}

namespace {

// One open watch: store events are buffered until the initial state has been sent, then
// forwarded as they come, each at most once and in resource-version order.
struct WatchState {
  std::mutex mu;
  std::shared_ptr<HttpStream> stream;
  std::unique_ptr<store::WatchHandle> handle;  // GUARDED_BY(mu)
  bool live = false;                           // GUARDED_BY(mu)
  int64_t sent_upto = 0;                       // GUARDED_BY(mu)
  std::vector<store::WatchEvent> buffered;     // GUARDED_BY(mu)
  Filters filters;
  const KindInfo* kind = nullptr;
  bool table = false;
  bool first_table = true;  // GUARDED_BY(mu)
  TableObjects table_objects = TableObjects::kMetadata;

  // Requires mu.
  void Send(const std::string& type, const Json& obj) {
    Json o = obj;
    if (table) {
      o = ToTable(*kind, {obj}, table_objects, first_table, SystemClock::Get().Now());
      first_table = false;
    }
    stream->Write(Json{{"type", type}, {"object", std::move(o)}}.dump() + "\n");
  }
  // Requires mu.
  void Forward(const store::WatchEvent& ev) {
    if (ev.resource_version <= sent_upto) return;
    sent_upto = ev.resource_version;
    if (!filters.Matches(ev.object)) return;
    Send(std::string(store::EventTypeName(ev.type)), ev.object);
  }
};

}  // namespace

void KubeApi::Impl::Watch(const HttpRequest& req, const Route& r, HttpResponse& resp, HttpExchange& ex) {
  auto filters = ParseFilters(req);
  if (!filters.ok()) return ReplyError(resp, 400, "BadRequest", filters.status().message());
  std::string rv_text = req.Query("resourceVersion");
  int64_t since = 0;
  if (!rv_text.empty()) {
    char* end = nullptr;
    since = std::strtoll(rv_text.c_str(), &end, 10);
    if (end == rv_text.c_str() || *end != '\0' || since < 0) {
      return ReplyError(resp, 400, "BadRequest", "resourceVersion: invalid value \"" + rv_text + "\"");
    }
  }
  auto st = std::make_shared<WatchState>();
  st->filters = std::move(*filters);
  st->kind = r.kind;
  st->table = WantsTable(req.Header("accept"));
  st->table_objects = IncludeObject(req);
  st->stream = ex.Stream(200, "application/json");
  // Register first, so nothing committed from here on can be missed; events are held until the
  // initial state is out.
  std::weak_ptr<WatchState> weak = st;
  auto handle = store.Watch({r.kind->kind, r.ns}, [weak](const store::WatchEvent& ev) {
    auto s = weak.lock();
    if (!s) return;
    std::lock_guard<std::mutex> l(s->mu);
    if (s->live) {
      s->Forward(ev);
    } else {
      s->buffered.push_back(ev);
    }
  });
  {
    std::lock_guard<std::mutex> l(st->mu);
    st->handle = std::move(handle);
    if (since == 0) {
      // "Any" version: the current state as ADDED events, then changes.
      auto list = store.List(r.kind->kind, r.ns, {});
      if (!list.ok()) {
        int code = 500;
        st->Send("ERROR", StatusBody(list.status(), &code));
        st->stream->Close();
        return;
      }
      for (const auto& i : list->items) {
        if (st->filters.Matches(i)) st->Send("ADDED", i);
      }
      st->sent_upto = list->resource_version;
    } else {
      auto events = store.EventsSince(since, {r.kind->kind, r.ns});
      if (!events.ok()) {
        std::string message = events.status().code() == StatusCode::kFailedPrecondition
                                  ? "too old resource version: " + rv_text
                                  : events.status().message();
        st->Send("ERROR", MakeStatus(410, "Expired", message));
        st->handle.reset();
        st->stream->Close();
        return;
      }
      st->sent_upto = since;
      for (const auto& ev : *events) st->Forward(ev);
    }
    for (const auto& ev : st->buffered) st->Forward(ev);
    st->buffered.clear();
    st->live = true;
  }
  // The watch ends with its client; the stream's close drops the store registration.
  st->stream->OnClose([st] {
    std::unique_ptr<store::WatchHandle> h;
    {
      std::lock_guard<std::mutex> l(st->mu);
      h = std::move(st->handle);
    }
  });
  std::string timeout = req.Query("timeoutSeconds");
  if (!timeout.empty() && std::atoll(timeout.c_str()) > 0) {
    auto stream = st->stream;
    ticker.Post([this, stream, secs = std::atoll(timeout.c_str())] {
      ticker.After(std::chrono::seconds(secs), [stream] { stream->Close(); });
    });
  }
  if (Truthy(req.Query("allowWatchBookmarks"))) {
    auto bookmark = std::make_shared<std::function<void()>>();
    std::weak_ptr<WatchState> w = st;
    *bookmark = [this, w, bookmark] {
      auto s = w.lock();
      if (!s || s->stream->closed()) return;
      {
        std::lock_guard<std::mutex> l(s->mu);
        Json obj = {{"kind", s->kind->kind}, {"apiVersion", s->kind->api_version()},
                    {"metadata", {{"resourceVersion", std::to_string(s->sent_upto)}}}};
        s->stream->Write(Json{{"type", "BOOKMARK"}, {"object", obj}}.dump() + "\n");
      }
      ticker.After(opts.bookmark_interval, *bookmark);
    };
    ticker.Post([this, bookmark] { ticker.After(opts.bookmark_interval, *bookmark); });
  }
}

void KubeApi::Impl::Create(const HttpRequest& req, const Route& r, HttpResponse& resp) {
  auto body = ParseBody(req);
  if (!body.ok()) return ReplyError(resp, 400, "BadRequest", body.status().message());
  Json obj = std::move(*body);
  Status s = CheckIdentity(obj, r, /*require_name=*/true);
  std::string name = StringField(obj.value("metadata", Json::object()), "name");
  if (s.code() == StatusCode::kFailedPrecondition) return ReplyError(resp, 400, "BadRequest", s.message());
  if (!s.ok()) return StoreError(resp, s, *r.kind, name);
  if (r.kind->has_status) obj.erase("status");  // only controllers write status
  obj["metadata"].erase("resourceVersion");
  obj["metadata"].erase("uid");
  s = Validate(obj, *r.kind);
  if (!s.ok()) return StoreError(resp, InvalidArgument(s.message()), *r.kind, name);
  if (req.Query("dryRun") == "All") return Reply(resp, 201, obj);
  auto created = store.Create(std::move(obj));
  if (!created.ok()) return StoreError(resp, created.status(), *r.kind, name);
  Reply(resp, 201, *created);
}

void KubeApi::Impl::Replace(const HttpRequest& req, const Route& r, HttpResponse& resp) {
  auto body = ParseBody(req);
  if (!body.ok()) return ReplyError(resp, 400, "BadRequest", body.status().message());
  Json obj = std::move(*body);
  Status s = CheckIdentity(obj, r, true);
  if (s.code() == StatusCode::kFailedPrecondition) return ReplyError(resp, 400, "BadRequest", s.message());
  if (!s.ok()) return StoreError(resp, s, *r.kind, r.name);
  bool status_only = r.subresource == "status";
  if (!status_only) {
    s = Validate(obj, *r.kind);
    if (!s.ok()) return StoreError(resp, InvalidArgument(s.message()), *r.kind, r.name);
  }
  if (req.Query("dryRun") == "All") return Reply(resp, 200, obj);
  auto updated = status_only ? store.UpdateStatus(std::move(obj)) : store.Update(std::move(obj));
  if (!updated.ok()) return StoreError(resp, updated.status(), *r.kind, r.name);
  Reply(resp, 200, *updated);
}

void KubeApi::Impl::Patch(const HttpRequest& req, const Route& r, HttpResponse& resp) {
  auto type = PatchTypeFromContentType(req.Header("content-type"));
  if (!type.ok()) return ReplyError(resp, 415, "UnsupportedMediaType", type.status().message());
  auto patch = *type == PatchType::kApply ? ParseYaml(req.body) : ParseJson(req.body);
  if (!patch.ok()) return ReplyError(resp, 400, "BadRequest", "the patch is not valid: " + patch.status().message());
  bool status_only = r.subresource == "status";
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto current = store.Get({r.kind->kind, r.ns, r.name});
    if (!current.ok()) {
      // Server-side apply creates what does not exist yet.
      if (current.status().code() == StatusCode::kNotFound && *type == PatchType::kApply && !status_only) {
        HttpRequest create = req;
        create.headers["content-type"] = "application/yaml";
        Route cr = r;
        Json obj = *patch;
        Status s = CheckIdentity(obj, cr, true);
        if (!s.ok()) return ReplyError(resp, 400, "BadRequest", s.message());
        s = Validate(obj, *r.kind);
        if (!s.ok()) return StoreError(resp, InvalidArgument(s.message()), *r.kind, r.name);
        if (r.kind->has_status) obj.erase("status");
        auto created = store.Create(std::move(obj));
        if (!created.ok()) return StoreError(resp, created.status(), *r.kind, r.name);
        return Reply(resp, 201, *created);
      }
      return StoreError(resp, current.status(), *r.kind, r.name);
    }
    auto patched = ApplyPatch(*current, *patch, *type);
    if (!patched.ok()) return ReplyError(resp, 422, "Invalid", patched.status().message());
    Json obj = std::move(*patched);
    std::string rv = StringField((*current)["metadata"], "resourceVersion");
    // A patch that names a resourceVersion is a precondition; otherwise apply on what was read.
    bool explicit_rv = patch->is_object() && patch->contains("metadata") &&
                       (*patch)["metadata"].is_object() && (*patch)["metadata"].contains("resourceVersion");
    if (!explicit_rv) obj["metadata"]["resourceVersion"] = rv;
    Route pr = r;
    Status s = CheckIdentity(obj, pr, true);
    if (!s.ok()) return ReplyError(resp, 400, "BadRequest", s.message());
    if (!status_only) {
      s = Validate(obj, *r.kind);
      if (!s.ok()) return StoreError(resp, InvalidArgument(s.message()), *r.kind, r.name);
    }
    if (req.Query("dryRun") == "All") return Reply(resp, 200, obj);
    auto updated = status_only ? store.UpdateStatus(std::move(obj)) : store.Update(std::move(obj));
    if (updated.ok()) return Reply(resp, 200, *updated);
    if (updated.status().code() != StatusCode::kConflict || explicit_rv) {
      return StoreError(resp, updated.status(), *r.kind, r.name);
    }
  }
  ReplyError(resp, 409, "Conflict", "the object kept changing while the patch was applied; try again");
}

void KubeApi::Impl::Delete(const HttpRequest& req, const Route& r, HttpResponse& resp) {
  auto current = store.Get({r.kind->kind, r.ns, r.name});
  if (!current.ok()) return StoreError(resp, current.status(), *r.kind, r.name);
  // DeleteOptions.preconditions.
  if (!req.body.empty()) {
    auto opts_body = ParseJson(req.body);
    if (opts_body.ok() && opts_body->is_object()) {
      const Json& pre = opts_body->value("preconditions", Json::object());
      std::string uid = StringField(pre, "uid"), rv = StringField(pre, "resourceVersion");
      const Json& md = (*current)["metadata"];
      if ((!uid.empty() && uid != StringField(md, "uid")) ||
          (!rv.empty() && rv != StringField(md, "resourceVersion"))) {
        return ReplyError(resp, 409, "Conflict", "Precondition failed for " + Resource(*r.kind) + " \"" + r.name + "\"");
      }
    }
  }
  if (req.Query("dryRun") == "All") return Reply(resp, 200, *current);
  Status s = store.Delete({r.kind->kind, r.ns, r.name});
  if (!s.ok()) return StoreError(resp, s, *r.kind, r.name);
  Reply(resp, 200, *current);
}

void KubeApi::Impl::DeleteCollection(const HttpRequest& req, const Route& r, HttpResponse& resp) {
  auto filters = ParseFilters(req);
  if (!filters.ok()) return ReplyError(resp, 400, "BadRequest", filters.status().message());
  auto list = store.List(r.kind->kind, r.ns, {});
  if (!list.ok()) return StoreError(resp, list.status(), *r.kind, "");
  std::vector<Json> deleted;
  for (auto& i : list->items) {
    if (!filters->Matches(i)) continue;
    std::string name = StringField(i["metadata"], "name");
    Status s = store.Delete({r.kind->kind, StringField(i["metadata"], "namespace"), name});
    if (!s.ok() && s.code() != StatusCode::kNotFound) return StoreError(resp, s, *r.kind, name);
    deleted.push_back(std::move(i));
  }
  Reply(resp, 200, ListDoc(*r.kind, std::move(deleted), store.CurrentResourceVersion()));
}

namespace {

std::string ReadFrom(const std::string& path, off_t offset, off_t* size_out) {
  std::string out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    *size_out = offset;
    return out;
  }
  if (fseeko(f, offset, SEEK_SET) == 0) {
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  }
  std::fclose(f);
  *size_out = offset + static_cast<off_t>(out.size());
  return out;
}

std::string TailLines(const std::string& text, int64_t n) {
  if (n < 0) return text;
  size_t end = text.size();
  if (end > 0 && text[end - 1] == '\n') --end;
  size_t pos = end;
  for (int64_t i = 0; i < n; ++i) {
    size_t p = pos == 0 ? std::string::npos : text.rfind('\n', pos - 1);
    if (p == std::string::npos) return text;
    pos = p;
  }
  return n == 0 ? "" : text.substr(pos + 1);
}

bool Terminal(const Json& pod) {
  std::string phase = StringField(pod.value("status", Json::object()), "phase");
  return phase == "Succeeded" || phase == "Failed";
}

// Follows a container's two log files until the Pod ends (or goes away) and nothing more comes.
struct LogFollower : std::enable_shared_from_this<LogFollower> {
  KubeApi::Impl* api;
  std::shared_ptr<HttpStream> stream;
  store::ObjectKey key;
  std::string container;
  std::string out_path, err_path;
  off_t out_off = 0, err_off = 0;

  void Tick() {
    if (stream->closed()) return;
    auto pod = api->store.Get(key);
    bool done = !pod.ok() || Terminal(*pod);
    if (pod.ok() && out_path.empty() && api->opts.log_paths) {
      std::tie(out_path, err_path) = api->opts.log_paths(*pod, container);
    }
    std::string chunk = ReadFrom(out_path, out_off, &out_off) + ReadFrom(err_path, err_off, &err_off);
    if (!chunk.empty()) stream->Write(std::move(chunk));
    if (done) {
      // One more read after the final status: the last lines may land just before it.
      std::string rest = ReadFrom(out_path, out_off, &out_off) + ReadFrom(err_path, err_off, &err_off);
      if (!rest.empty()) stream->Write(std::move(rest));
      stream->Close();
      return;
    }
    auto self = shared_from_this();
    api->ticker.After(api->opts.log_poll_interval, [self] { self->Tick(); });
  }
};

}  // namespace

void KubeApi::Impl::Log(const HttpRequest& req, const Route& r, HttpResponse& resp, HttpExchange& ex) {
  auto pod = store.Get({"Pod", r.ns, r.name});
  if (!pod.ok()) return StoreError(resp, pod.status(), *r.kind, r.name);
  std::vector<std::string> names;
  for (const auto& c : pod->value("spec", Json::object()).value("containers", Json::array())) {
    names.push_back(StringField(c, "name"));
  }
  std::string container = req.Query("container");
  if (container.empty()) {
    if (names.size() != 1) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : " ") + n;
      return ReplyError(resp, 400, "BadRequest",
                        "a container name must be specified for pod " + r.name + ", choose one of: [" + list + "]");
    }
    container = names[0];
  } else if (std::find(names.begin(), names.end(), container) == names.end()) {
    return ReplyError(resp, 400, "BadRequest", "container " + container + " is not valid for pod " + r.name);
  }
  std::string out_path, err_path;
  if (opts.log_paths) std::tie(out_path, err_path) = opts.log_paths(*pod, container);
  bool follow = Truthy(req.Query("follow"));
  std::string tail = req.Query("tailLines");
  off_t out_off = 0, err_off = 0;
  std::string text = ReadFrom(out_path, 0, &out_off) + ReadFrom(err_path, 0, &err_off);
  if (!tail.empty()) text = TailLines(text, std::atoll(tail.c_str()));
  std::string limit = req.Query("limitBytes");
  if (!limit.empty() && std::atoll(limit.c_str()) >= 0 && text.size() > static_cast<size_t>(std::atoll(limit.c_str()))) {
    text.resize(static_cast<size_t>(std::atoll(limit.c_str())));
  }
  if (!follow) {
    resp.status = 200;
    resp.content_type = "text/plain";
    resp.body = std::move(text);
    return;
  }
  auto f = std::make_shared<LogFollower>();
  f->api = this;
  f->stream = ex.Stream(200, "text/plain");
  f->key = {"Pod", r.ns, r.name};
  f->container = container;
  f->out_path = out_path;
  f->err_path = err_path;
  f->out_off = out_off;
  f->err_off = err_off;
  if (!text.empty()) f->stream->Write(std::move(text));
  ticker.Post([f] { f->Tick(); });
}

void KubeApi::Impl::HandleResource(const HttpRequest& req, const Route& r, HttpResponse& resp,
                                   HttpExchange& ex) {
  const std::string& m = req.method;
  if (r.subresource == "log") {
    if (m != "GET") return ReplyError(resp, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
    return Log(req, r, resp, ex);
  }
  if (r.name.empty()) {
    if (m == "GET") return Truthy(req.Query("watch")) ? Watch(req, r, resp, ex) : List(req, r, resp);
    if (m == "POST") return Create(req, r, resp);
    if (m == "DELETE") return DeleteCollection(req, r, resp);
  } else {
    if (m == "GET") {
      if (Truthy(req.Query("watch"))) {
        HttpRequest w = req;
        std::string fs = req.Query("fieldSelector");
        w.query.erase("fieldSelector");
        w.query.emplace("fieldSelector", "metadata.name=" + r.name + (fs.empty() ? "" : "," + fs));
        Route cr = r;
        cr.name.clear();
        return Watch(w, cr, resp, ex);
      }
      return Get(req, r, resp);
    }
    if (m == "PUT") return Replace(req, r, resp);
    if (m == "PATCH") return Patch(req, r, resp);
    if (m == "DELETE" && r.subresource.empty()) return Delete(req, r, resp);
  }
  ReplyError(resp, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
}

namespace {

std::string VerbOf(const HttpRequest& req, const Route& r) {
  const std::string& m = req.method;
  if (m == "GET") {
    if (!r.name.empty() && r.subresource != "log" && !Truthy(req.Query("watch"))) return "get";
    if (r.subresource == "log") return "get";
    return Truthy(req.Query("watch")) ? "watch" : "list";
  }
  if (m == "POST") return "create";
  if (m == "PUT") return "update";
  if (m == "PATCH") return "patch";
  if (m == "DELETE") return r.name.empty() ? "deletecollection" : "delete";
  return Lower(m);
}

}  // namespace

void KubeApi::Impl::Handle(const HttpRequest& req, HttpResponse& resp, HttpExchange& ex) {
  const std::string& p = req.path;
  if (p == "/healthz" || p == "/readyz" || p == "/livez") {
    resp.status = 200;
    resp.content_type = "text/plain";
    resp.body = "ok";
    return;
  }
  std::optional<Principal> who;
  if (opts.tokens != nullptr) {
    std::string auth = req.Header("authorization");
    std::string token;
    if (auth.size() > 7 && Lower(auth.substr(0, 7)) == "bearer ") token = auth.substr(7);
    auto principal = opts.tokens->Authenticate(token);
    if (!principal.ok()) return ReplyError(resp, 401, "Unauthorized", "Unauthorized");
    who = std::move(*principal);
  }
  if (p == "/version") {
    std::string v = opts.version;
    std::string minor = v.size() > 3 ? v.substr(3, v.find('.', 3) - 3) : "30";
    return Reply(resp, 200, {{"major", "1"}, {"minor", minor}, {"gitVersion", v}, {"platform", "linux/amd64"}});
  }
  std::vector<std::string> seg = Split(p);
  if (seg.empty()) {
    return Reply(resp, 200, {{"paths", {"/api", "/api/v1", "/apis", "/healthz", "/openapi/v3", "/version"}}});
  }
  if (seg[0] == "openapi") {
    if (seg.size() == 2 && seg[1] == "v3") return Reply(resp, 200, OpenApiRootDoc());
    if (seg.size() > 2 && seg[1] == "v3") {
      std::string rest;
      for (size_t i = 2; i < seg.size(); ++i) rest += (i > 2 ? "/" : "") + seg[i];
      Json doc = OpenApiGroupVersionDoc(rest);
      if (!doc.is_null()) return Reply(resp, 200, doc);
    }
    return ReplyError(resp, 404, "NotFound", "the server could not find the requested resource");
  }
  std::string group, version;
  size_t rest_at = 0;
  if (seg[0] == "api") {
    if (seg.size() == 1) return Reply(resp, 200, ApiVersionsDoc(req.Header("host")));
    version = seg[1];
    rest_at = 2;
  } else if (seg[0] == "apis") {
    if (seg.size() == 1) return Reply(resp, 200, ApiGroupListDoc());
    group = seg[1];
    if (seg.size() == 2) {
      Json g = ApiGroupDoc(group);
      if (g.is_null()) return ReplyError(resp, 404, "NotFound", "the server could not find the requested resource");
      return Reply(resp, 200, g);
    }
    version = seg[2];
    rest_at = 3;
  } else {
    return ReplyError(resp, 404, "NotFound", "the server could not find the requested resource");
  }
  if (seg.size() == rest_at) {
    Json list = ApiResourceListDoc(group, version);
    if (list.is_null()) return ReplyError(resp, 404, "NotFound", "the server could not find the requested resource");
    return Reply(resp, 200, list);
  }
  auto route = ParseRoute(group, version, std::vector<std::string>(seg.begin() + static_cast<std::ptrdiff_t>(rest_at), seg.end()));
  if (!route.ok()) return ReplyError(resp, 404, "NotFound", route.status().message());
  if (who) {
    std::string verb = VerbOf(req, *route);
    if (!Allowed(*who, verb, route->kind->namespaced, route->ns)) {
      std::string what = route->subresource.empty() ? route->kind->plural : route->kind->plural + "/" + route->subresource;
      std::string where = route->kind->namespaced
                              ? (route->ns.empty() ? " at the cluster scope" : " in the namespace \"" + route->ns + "\"")
                              : " at the cluster scope";
      return ReplyError(resp, 403, "Forbidden",
                        Resource(*route->kind) + " is forbidden: User \"" + who->name + "\" cannot " + verb +
                            " resource \"" + what + "\" in API group \"" + route->kind->group + "\"" + where,
                        {{"kind", route->kind->plural}, {"group", route->kind->group}});
    }
  }
  HandleResource(req, *route, resp, ex);
}

KubeApi::KubeApi(KubeApiOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  if (Metrics* m = impl_->opts.metrics) {
    m->Declare("skiff_api_requests_total", Metrics::Type::kCounter,
               "API requests by HTTP method and response code.");
    m->Declare("skiff_api_request_duration_seconds", Metrics::Type::kHistogram,
               "Time to answer an API request (to the start of the stream for watches).",
               Metrics::LatencyBuckets());
  }
}
KubeApi::~KubeApi() = default;

void KubeApi::Handle(const HttpRequest& req, HttpResponse& resp, HttpExchange& ex) {
  Metrics* m = impl_->opts.metrics;
  TimePoint start = m != nullptr ? SystemClock::Get().Now() : TimePoint();
  try {
    if (m != nullptr && req.path == "/metrics") {
      resp.status = 200;
      resp.content_type = "text/plain; version=0.0.4";
      resp.body = m->Expose();
    } else {
      impl_->Handle(req, resp, ex);
    }
  } catch (const std::exception& e) {
    ReplyError(resp, 500, "InternalError", std::string("internal error: ") + e.what());
  }
  if (m != nullptr) {
    double seconds = std::chrono::duration<double>(SystemClock::Get().Now() - start).count();
    m->Inc("skiff_api_requests_total", {{"code", std::to_string(resp.status)}, {"method", req.method}});
    m->Observe("skiff_api_request_duration_seconds", {{"method", req.method}}, seconds);
  }
}

}  // namespace skiff::api
