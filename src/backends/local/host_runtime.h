// How a container becomes a host process: the local backend ignores images, so it needs to know
// what an image would have run (its default entrypoint), which shell flavour it has (Alpine and
// BusyBox images run busybox `ash`, not dash), and a PATH where `python` is Debian's python3
// and Argo's test helpers (`argosay`, `cowsay`) exist. All of that lives here.
// Thread-compatible; `HostRuntime` is immutable after `Prepare`.
#pragma once

#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace skiff::local {

class HostRuntime {
 public:
  // `home` is the data dir; shims live in /var/lib/skiff/shims (or `<home>/shims`).
  explicit HostRuntime(std::string home);

  // Creates the shim directories (idempotent, cheap when present).
  Status Prepare();

  // The argv for `container` (a v1 Container JSON), after Kubernetes' `$(VAR)` expansion against
  // `env`: `command` + `args`, or the image's default entrypoint when `command` is absent.
  // InvalidArgument naming the field if nothing can be run.
  Result<std::vector<std::string>> ResolveArgv(const Json& container,
                                               const std::vector<std::string>& env) const;

  // The PATH for a container of `image`.
  std::string PathFor(const std::string& image) const;

  // True for images whose /bin/sh is busybox ash (alpine, busybox, argoproj/argosay).
  static bool IsBusyboxImage(const std::string& image);
  // "docker.io/library/python:3.11" -> "python".
  static std::string ImageBaseName(const std::string& image);

 private:
  std::string home_;
  std::string shims_;    // python, argosay, cowsay
  std::string busybox_;  // busybox applets (sh, date, awk, ...)
};

// Kubernetes' `$(VAR)` expansion: references to variables in `env` ("K=V" entries) are replaced,
// `$$` escapes a dollar, unknown references stay as they are.
std::string ExpandKubeVars(const std::string& s, const std::vector<std::string>& env);

}  // namespace skiff::local
