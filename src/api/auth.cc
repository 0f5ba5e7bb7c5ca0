#include "api/auth.h"

#include <fcntl.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/ids.h"

namespace skiff::api {

namespace {
constexpr const char* kTokens = "api-tokens";
constexpr const char* kOwner = "";  // records owned by no object

std::string RandomToken() {
  unsigned char bytes[32];
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  size_t got = 0;
  while (fd >= 0 && got < sizeof bytes) {
    ssize_t n = ::read(fd, bytes + got, sizeof bytes - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (fd >= 0) ::close(fd);
  if (got < sizeof bytes) std::abort();  // no entropy: never hand out a guessable token
  static const char* kHex = "0123456789abcdef";
  std::string out = "skiff_";
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

Principal FromRecord(const Json& r) {
  Principal p;
  p.name = StringField(r, "name");
  auto role = ParseRole(StringField(r, "role"));
  p.role = role.ok() ? *role : Role::kView;
  for (const auto& ns : r.value("namespaces", Json::array())) {
    if (ns.is_string()) p.namespaces.insert(ns.get<std::string>());
  }
  return p;
}
}  // namespace

Result<Role> ParseRole(std::string_view text) {
  if (text == "view") return Role::kView;
  if (text == "edit") return Role::kEdit;
  if (text == "admin") return Role::kAdmin;
  return InvalidArgument("role: must be one of view, edit, admin (got \"" + std::string(text) + "\")");
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kView: return "view";
    case Role::kEdit: return "edit";
    case Role::kAdmin: return "admin";
  }
  return "view";
}

Result<std::string> TokenStore::Create(const std::string& name, Role role,
                                       const std::vector<std::string>& namespaces) {
  if (name.empty()) return InvalidArgument("name: required");
  if (namespaces.empty()) return InvalidArgument("namespace: at least one is required (\"*\" for all)");
  for (const auto& p : List()) {
    if (p.name == name) return AlreadyExists("token \"" + name + "\" already exists");
  }
  std::string token = RandomToken();
  Json rec = {{"name", name}, {"role", RoleName(role)}, {"namespaces", namespaces},
              {"created", FormatRfc3339(SystemClock::Get().Now())}};
  auto r = store_.Commit({store::Write::PutRecord(kTokens, kOwner, Sha256Hex(token), rec)});
  if (!r.ok()) return r.status();
  return token;
}

Status TokenStore::Delete(const std::string& name) {
  auto all = store_.GetRecords(kTokens, kOwner);
  if (!all.ok()) return all.status();
  // Records are replaced as a set: drop the collection and put back the others.
  std::vector<store::Write> writes = {store::Write::DeleteRecords(kTokens, kOwner)};
  bool found = false;
  for (const auto& [hash, rec] : *all) {
    if (StringField(rec, "name") == name) {
      found = true;
      continue;
    }
    writes.push_back(store::Write::PutRecord(kTokens, kOwner, hash, rec));
  }
  if (!found) return NotFound("token \"" + name + "\" not found");
  auto r = store_.Commit(std::move(writes));
  return r.ok() ? OkStatus() : r.status();
}

std::vector<Principal> TokenStore::List() {
  std::vector<Principal> out;
  auto all = store_.GetRecords(kTokens, kOwner);
  if (!all.ok()) return out;
  for (const auto& [hash, rec] : *all) out.push_back(FromRecord(rec));
  return out;
}

Result<Principal> TokenStore::Authenticate(std::string_view token) {
  if (token.empty()) return NotFound("no token");
  auto rec = store_.GetRecord(kTokens, kOwner, Sha256Hex(token));
  if (!rec.ok()) return rec.status();
  return FromRecord(*rec);
}

bool Allowed(const Principal& who, const std::string& verb, bool namespaced_kind, const std::string& ns) {
  bool read = verb == "get" || verb == "list" || verb == "watch";
  if (!read && who.role == Role::kView) return false;
  if (!namespaced_kind) return read || who.role == Role::kAdmin;
  if (who.AllNamespaces()) return true;
  return !ns.empty() && who.namespaces.count(ns) > 0;
}

}  // namespace skiff::api
