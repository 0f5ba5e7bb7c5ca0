// The metadata API of `skiff server`: user code logging metrics and artifacts on its own
// execution, and reading lineage back. Under `/apis/metadata.skiff.dev/v1/namespaces/{ns}/`:
//
//   POST executions/{name}/metrics     {"metrics": {"accuracy": 0.97, ...}, "step": 3}
//                                      records metric observations on execution `name`
//   GET  executions/{name}/metrics     {"metrics": [{"name","value","step","ms"}]}
//   POST executions/{name}/artifacts   ?type=Model&name=model.ubj[&key=models/m.ubj], body = the
//                                      file's bytes (`Content-Type: application/octet-stream`,
//                                      `Content-Length` or chunked; streamed to disk, see
//                                      `SpillFor`): stored in the artifact store (and bound to `key`, which
//                                      must be a safe relative path: 400 otherwise) and recorded
//                                      as an OUTPUT of `name`;
//                                      ?direction=input&digest=sha256:..&size=N&uri=..: an INPUT
//                                      known by its digest, with no body
//   GET  artifacts                     ?type=&context=TYPE/NAME&digest=
//   GET  artifacts/{digest}            the artifact's bytes, sent from disk; `Range: bytes=a-b`
//                                      (one range) gets 206 with that part
//   GET  contexts                      ?type=&parent=TYPE/NAME&name=: {"items": [contexts]}
//   GET  contexts/{type}/{name}        one context, 404 if none
//   GET  executions                    ?context=TYPE/NAME&state=
//   GET  metrics                       ?context=TYPE/NAME: {"columns": [metric names], "rows":
//                                      [{"execution", "metrics": {name: latest}}]}; &all=true:
//                                      every observation
//   GET  lineage                       ?artifact=DIGEST | ?execution=NAME, &direction=
//                                      upstream|downstream|both, &hops=N, &type=, &context=
//
// An execution that does not exist yet is created RUNNING (type `skiff.Pod`: the kubelet names a
// Pod's execution after the Pod), so logging works before the recorder has seen the step.
// Uploads larger than `max_upload_bytes` get 413; a malformed request 400 naming the field.
//
// Thread-safe: `Handle` is called from the HTTP server's workers; the lineage store and the
// artifact store are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "api/auth.h"
#include "api/http_server.h"
#include "metadata/artifact_store.h"
#include "metadata/lineage.h"

namespace skiff::api {

inline constexpr const char* kMetadataApiPrefix = "/apis/metadata.skiff.dev/v1/";

struct MetadataApiOptions {
  metadata::LineageStore* lineage = nullptr;
  metadata::ArtifactStore* artifacts = nullptr;
  TokenStore* tokens = nullptr;  // null: everyone (loopback only), as for the Kubernetes API
  int64_t max_upload_bytes = 64LL << 20;
};

class MetadataApi {
 public:
  explicit MetadataApi(MetadataApiOptions options);

  // Whether `path` belongs to this API.
  static bool Serves(const std::string& path);
  // For `HttpServerOptions::body_to_file`: artifact uploads are written to the artifact store's
  // staging directory as they arrive (up to `max_upload_bytes`) and then renamed into the store,
  // so an upload never sits in the server's memory. Cheap and non-blocking (the I/O thread).
  std::optional<BodySpill> SpillFor(const HttpRequest& head) const;
  void Handle(const HttpRequest& req, HttpResponse& resp);

 private:
  MetadataApiOptions opts_;
  std::string staging_dir_;  // "" if the artifact store has none: uploads stay in memory
};

}  // namespace skiff::api
