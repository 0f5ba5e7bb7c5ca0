#include "backends/local/host_runtime.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <map>

#include "common/fs.h"

namespace skiff::local {
namespace {

// The start of BusyBox images' `nc` (see Prepare); the exec line names the host's BusyBox.
constexpr const char* kNcShimHead = R"SH(#!/bin/sh
# nc for BusyBox images (skiff): -k (keep listening) becomes a second -l, as BusyBox spells it.
n=$#
for a in "$@"; do
  case "$a" in
    -*k*) case "$a" in -*[!a-zA-Z]*) ;; *) a=$(printf '%s' "$a" | tr k l) ;; esac ;;
  esac
  set -- "$@" "$a"
done
shift "$n"
)SH";

// A stand-in for the entrypoint of Argo's test image argoproj/argosay:v2, written for Skiff.
constexpr const char* kArgosay = R"SH(#!/bin/sh
# argosay: the small command Argo's examples use (argoproj/argosay:v2), for hosts without images.
case "${1:-}" in
  "") echo "hello argo" ;;
  echo)
    shift
    if [ $# -eq 0 ]; then echo "hello argo"
    elif [ $# -eq 1 ]; then echo "$1"
    else mkdir -p "$(dirname "$2")" && echo "$1" > "$2"
    fi ;;
  cat) shift; cat "$@" ;;
  sleep) shift; sleep "$1" ;;
  exit) shift; exit "${1:-0}" ;;
  assert_contains) shift; grep -F -- "$2" "$1" > /dev/null ;;
  sh) shift; sh "$@" ;;
  *) echo "argosay: unknown command: $1" >&2; exit 1 ;;
esac
)SH";

Status EnsureSymlink(const std::string& target, const std::string& link) {
  char buf[4096];
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n > 0) {
    buf[n] = '\0';
    if (target == buf) return OkStatus();
    ::unlink(link.c_str());
  }
  if (::symlink(target.c_str(), link.c_str()) != 0 && errno != EEXIST) {
    return Internal("symlink " + link + " -> " + target + " failed");
  }
  return OkStatus();
}

}  // namespace

std::string ExpandKubeVars(const std::string& s, const std::vector<std::string>& env) {
  if (s.find('$') == std::string::npos) return s;
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '$') {
      out += '$';
      ++i;
    } else if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '(') {
      size_t close = s.find(')', i + 2);
      if (close == std::string::npos) {
        out += s.substr(i);
        break;
      }
      std::string name = s.substr(i + 2, close - i - 2);
      bool found = false;
      for (const auto& kv : env) {
        if (kv.size() > name.size() && kv.compare(0, name.size(), name) == 0 && kv[name.size()] == '=') {
          out += kv.substr(name.size() + 1);
          found = true;
          break;
        }
      }
      if (!found) out += s.substr(i, close - i + 1);
      i = close;
    } else {
      out += s[i];
    }
  }
  return out;
}

namespace {

// Shims must be reachable from inside a step, where /tmp is private: a data dir under /tmp
// would hide them. They do not depend on the data dir, so one shared copy under /var/lib
// serves every data dir when it is writable (root); otherwise they live in the data dir.
std::string ShimRoot(const std::string& home) {
  static const char* kShared = "/var/lib/skiff/shims";
  if (MakeDirs(kShared).ok() && ::access(kShared, W_OK) == 0) return kShared;
  return JoinPath(home, "shims");
}

}  // namespace

HostRuntime::HostRuntime(std::string home)
    : home_(std::move(home)),
      shims_(JoinPath(ShimRoot(home_), "bin")),
      busybox_(JoinPath(ShimRoot(home_), "busybox")) {}

Status HostRuntime::Prepare() {
  SKIFF_RETURN_IF_ERROR(MakeDirs(shims_));
  std::string python = PathExists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  SKIFF_RETURN_IF_ERROR(EnsureSymlink(python, JoinPath(shims_, "python")));
  SKIFF_RETURN_IF_ERROR(EnsureSymlink(python, JoinPath(shims_, "python3")));
  if (PathExists("/usr/games/cowsay")) {
    SKIFF_RETURN_IF_ERROR(EnsureSymlink("/usr/games/cowsay", JoinPath(shims_, "cowsay")));
  }
  std::string argosay = JoinPath(shims_, "argosay");
  auto existing = ReadFile(argosay);
  if (!existing.ok() || *existing != kArgosay) {
    SKIFF_RETURN_IF_ERROR(WriteFileAtomic(argosay, kArgosay));
    ::chmod(argosay.c_str(), 0755);
  }
  // BusyBox applets, for images whose userland is BusyBox.
  std::string bb = PathExists("/usr/bin/busybox") ? "/usr/bin/busybox"
                   : PathExists("/bin/busybox")   ? "/bin/busybox"
                                                  : "";
  if (!bb.empty() && !PathExists(JoinPath(busybox_, "sh"))) {
    SKIFF_RETURN_IF_ERROR(MakeDirs(busybox_));
    FILE* p = ::popen((bb + " --list").c_str(), "r");
    if (p != nullptr) {
      char line[256];
      while (std::fgets(line, sizeof line, p) != nullptr) {
        std::string applet(line);
        while (!applet.empty() && (applet.back() == '\n' || applet.back() == '\r')) applet.pop_back();
        if (applet.empty() || applet == "busybox") continue;
        // Keep the host's tools where BusyBox's would surprise: nothing is excluded today,
        // but applets never shadow the Python/argosay shims, which come first on PATH.
        Status s = EnsureSymlink(bb, JoinPath(busybox_, applet));
        (void)s;
      }
      ::pclose(p);
    }
  }
  if (!bb.empty()) {
    // Alpine's BusyBox `nc` keeps listening with -k (Argo's examples use `nc -lk -p PORT -e
    // PROG` as a daemon); Debian's BusyBox build has no -k, and its persistent listener is a
    // second -l. The shim turns k into l in option clusters and runs BusyBox's nc.
    const std::string nc = JoinPath(busybox_, "nc");
    const std::string script = std::string(kNcShimHead) + "exec " + bb + " nc \"$@\"\n";
    auto current = ReadFile(nc);
    if (!current.ok() || *current != script) {
      SKIFF_RETURN_IF_ERROR(WriteFileAtomic(nc, script));
      ::chmod(nc.c_str(), 0755);
    }
  }
  return OkStatus();
}

std::string HostRuntime::ImageBaseName(const std::string& image) {
  std::string s = image;
  size_t at = s.find('@');
  if (at != std::string::npos) s = s.substr(0, at);
  size_t slash = s.rfind('/');
  size_t colon = s.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) s = s.substr(0, colon);
  // Keep the repository path after a registry host ("docker.io/library/x" -> "library/x").
  size_t first = s.find('/');
  if (first != std::string::npos) {
    std::string head = s.substr(0, first);
    if (head.find('.') != std::string::npos || head.find(':') != std::string::npos || head == "localhost") {
      s = s.substr(first + 1);
    }
  }
  if (s.rfind("library/", 0) == 0) s = s.substr(8);
  return s;
}

bool HostRuntime::IsBusyboxImage(const std::string& image) {
  std::string base = ImageBaseName(image);
  return base == "alpine" || base == "busybox" || base.find("argosay") != std::string::npos ||
         image.find("alpine") != std::string::npos;
}

std::string HostRuntime::PathFor(const std::string& image) const {
  std::string path = shims_ + ":";
  if (IsBusyboxImage(image)) path += busybox_ + ":";
  path += "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/games";
  return path;
}

Result<std::vector<std::string>> HostRuntime::ResolveArgv(
    const Json& container, const std::vector<std::string>& env) const {
  std::vector<std::string> argv;
  std::string image = StringField(container, "image");
  std::string base = ImageBaseName(image);
  const Json* command = FindField(container, "command");
  const Json* args = FindField(container, "args");
  if (command != nullptr && command->is_array() && !command->empty()) {
    for (const auto& c : *command) argv.push_back(ExpandKubeVars(ScalarToString(c), env));
  } else {
    // The image's default entrypoint.
    if (base.find("argosay") != std::string::npos) {
      argv.push_back(JoinPath(shims_, "argosay"));
    } else if (base == "docker/whalesay") {
      argv.push_back("cowsay");
    } else if (base == "alpine" || base == "busybox" || base == "debian" || base == "ubuntu" ||
               base == "bash") {
      argv.push_back(base == "bash" ? "bash" : "sh");
    } else if (base == "python" || base.rfind("python", 0) == 0) {
      argv.push_back("python3");
    } else if (base == "stedolan/jq" || base == "jq") {
      argv.push_back("jq");
    } else if (args == nullptr || !args->is_array() || args->empty()) {
      return InvalidArgument("container \"" + StringField(container, "name") +
                             "\": no command, and image \"" + image +
                             "\" has no known default entrypoint on this host");
    }
  }
  if (args != nullptr && args->is_array()) {
    for (const auto& a : *args) argv.push_back(ExpandKubeVars(ScalarToString(a), env));
  }
  if (argv.empty()) {
    return InvalidArgument("container \"" + StringField(container, "name") + "\": nothing to run");
  }
  // Absolute paths that only exist inside images.
  if (argv[0] == "/argosay") argv[0] = JoinPath(shims_, "argosay");
  if (IsBusyboxImage(image) && (argv[0] == "/bin/sh" || argv[0] == "/bin/ash")) {
    argv[0] = JoinPath(busybox_, "sh");
  }
  if (argv[0] == "/usr/local/bin/python" || argv[0] == "/usr/bin/python") argv[0] = "python3";
  return argv;
}

}  // namespace skiff::local
