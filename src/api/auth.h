// Bearer tokens for `skiff server`. A token is bound to a role and to namespaces:
//   view   read (get, list, watch) in its namespaces
//   edit   view + create, update, patch, delete of namespaced resources in its namespaces
//   admin  edit + cluster-scoped resources (Namespaces, ClusterWorkflowTemplates); with "*" as
//          its namespace it may act in every namespace
// Tokens are random 32-byte strings shown once at creation; the store keeps only their SHA-256
// (side records, collection "api-tokens"), so neither the API nor a copy of the database reveals
// them. Thread-safe (the store is).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace skiff::api {

enum class Role { kView, kEdit, kAdmin };
Result<Role> ParseRole(std::string_view text);
std::string_view RoleName(Role role);

struct Principal {
  std::string name;
  Role role = Role::kView;
  std::set<std::string> namespaces;  // "*" = all
  bool AllNamespaces() const { return namespaces.count("*") > 0; }
};

class TokenStore {
 public:
  explicit TokenStore(store::Store& store) : store_(store) {}

  // Creates a token named `name` (unique) and returns its secret.
  Result<std::string> Create(const std::string& name, Role role, const std::vector<std::string>& namespaces);
  Status Delete(const std::string& name);
  std::vector<Principal> List();
  // The principal a presented token stands for; PermissionDenied-free: NotFound if unknown.
  Result<Principal> Authenticate(std::string_view token);

 private:
  store::Store& store_;
};

// Whether `who` may perform `verb` ("get", "list", "watch", "create", "update", "patch",
// "delete", "deletecollection") on a resource of a namespaced (`ns` non-empty or a namespaced
// kind listed across namespaces) or cluster-scoped kind.
bool Allowed(const Principal& who, const std::string& verb, bool namespaced_kind, const std::string& ns);

}  // namespace skiff::api
