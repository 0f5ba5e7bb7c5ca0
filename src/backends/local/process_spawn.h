// Spawning a process cheaply and safely: `Spawn` runs a prepared `SpawnPlan` with
// `clone(CLONE_VM | CLONE_VFORK)`. The child shares the parent's memory until it execs, so it must
// not allocate, lock or touch C++ objects: everything (argv/envp arrays, mount list, the started
// record's text) is built before the clone, and the child only makes system calls (setpgid,
// open/writev/rename, unshare, mount, chroot, chdir, dup2, umask, close_range, execve). The parent
// is suspended until the child has exec'd or died, so `Spawn` returns with a definite answer.
//
// Thread-safety: `Spawn` may be called from any thread (signals are blocked around the clone and
// the child resets every disposition and the mask); the other functions are plain helpers.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace skiff::local {

// One mount(2) made by the child, in order, inside its new mount namespace.
struct SpawnMount {
  std::string source;
  std::string target;  // absolute, in the spawner's view (the new root's prefix included)
  std::string fstype;  // "" = bind mount (always recursive)
  std::string data;    // option string for `fstype` mounts
  bool read_only = false;
};

struct SpawnPlan {
  std::string exe;  // what execve gets: already looked up in PATH
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd;  // after `chroot_dir`, if any; "" = unchanged
  // Duplicated onto 0, 1, 2; -1 leaves the inherited descriptor. Must be >= 3 (or equal to its
  // target), which holds when the caller keeps 0-2 open.
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;
  enum class Group { kInherit, kNewGroup, kNewSession };
  Group group = Group::kNewGroup;
  // unshare(CLONE_NEWNS) and make / recursively private, then `mounts`, then `chroot_dir`.
  bool new_mount_namespace = false;
  std::vector<SpawnMount> mounts;
  std::string chroot_dir;
  // If `record_path` is set, the child first writes `record_prefix` + pid + start ticks:
  // `<prefix><pid>,"start_ticks":<field 22 of /proc/self/stat>}` + "\n", through
  // `record_path` + ".tmp" and rename(2), so the record names the process before it can run.
  std::string record_path;
  std::string record_prefix;
};

// Starts `plan`. Returns the pid once the child has exec'd. If the child failed before exec it has
// been reaped here, and the error (FailedPrecondition) names the step: `exec "/bin/x": Permission
// denied`, `mount /src on /mnt/vol: No such file or directory`, ...
Result<pid_t> Spawn(const SpawnPlan& plan);

// Looks `name` up like execvp with the PATH in `env` (a default PATH if it has none). Names with
// a slash are returned as they are. With `overlay_upper`, a candidate also counts if it exists
// under that directory (a workload's private root). NotFound names the executable as Kubernetes
// does: `exec: "name": executable file not found in $PATH`.
Result<std::string> FindExecutable(const std::string& name, const std::vector<std::string>& env,
                                   const std::string& overlay_upper = "");

// Mount points whose parent is the root mount ("/proc", "/dev", "/sys", "/home"...), from
// /proc/self/mountinfo, in mount order, without duplicates.
std::vector<std::string> ReadRootSubmounts();

// Whether this process may create mount namespaces (a throwaway clone(CLONE_NEWNS) child).
bool CanCreateMountNamespaces();

// Field 22 (starttime, clock ticks since boot) of /proc/PID/stat, or -1 if there is no such
// process or it is a zombie (`*zombie` tells which, if given).
int64_t ReadProcStartTicks(pid_t pid, bool* zombie = nullptr);

}  // namespace skiff::local
