// The kinds Skiff serves, with the names the Kubernetes API gives them: group, version, plural
// resource name, short names and scope. The API server builds discovery documents and routes
// from this table; the CLI resolves `skiff get wf` through it. Adding a kind here makes it
// storable and servable; its controller and validation live elsewhere.
// Thread-safety: immutable after static initialization.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace skiff::kinds {

struct KindInfo {
  std::string group;     // "" for the core group
  std::string version;   // "v1"
  std::string kind;      // "Pod"
  std::string plural;    // "pods"
  std::string singular;  // "pod"
  std::vector<std::string> short_names;
  bool namespaced = true;
  bool has_status = true;  // serves the `/status` subresource
  std::vector<std::string> categories;

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
};

const std::vector<KindInfo>& AllKinds();

// By kind name ("Workflow"); nullptr if unknown. Kind names are unique across groups here.
const KindInfo* FindKind(std::string_view kind);
// By group, version and plural, as in an API path; nullptr if unknown.
const KindInfo* FindResource(std::string_view group, std::string_view version,
                             std::string_view plural);
// By any name a user may type: plural, singular, short name or kind, case-insensitive;
// "workflows.argoproj.io" style qualified names too.
const KindInfo* ResolveName(std::string_view name);

}  // namespace skiff::kinds
