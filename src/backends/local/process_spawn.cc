#include "backends/local/process_spawn.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/fs.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace skiff::local {
namespace {

constexpr size_t kChildStackSize = 256 * 1024;

// The steps of the child, for error messages.
enum class Step : int {
  kNone = 0,
  kGroup,
  kRecord,
  kUnshare,
  kMakePrivate,
  kMount,
  kRemountReadOnly,
  kChroot,
  kChdir,
  kDup,
  kExec,
};

struct RawMount {
  const char* source;
  const char* target;
  const char* fstype;
  const char* data;
  unsigned long flags;
  bool read_only;
  // Filled in by the child: bind sources are opened (O_PATH) before any mount, so that a source
  // hidden by an earlier mount (a data dir under /tmp, hidden by the private /tmp) still binds.
  int source_fd;
  char source_path[40];
};

// Shared between parent and child (CLONE_VM): inputs are read by the child, `err`/`step`/`index`
// are written by it when it fails; the parent reads them after the clone returns.
struct ChildArgs {
  const char* exe;
  char* const* argv;
  char* const* envp;
  const char* cwd;
  int fds[3];
  SpawnPlan::Group group;
  bool new_mount_namespace;
  RawMount* mounts;
  size_t mount_count;
  const char* chroot_dir;
  const char* record_path;
  const char* record_tmp;
  const char* record_prefix;
  size_t record_prefix_len;
  int err;
  Step step;
  size_t index;
};

// Writes the decimal form of `v` at `out`; returns the number of characters. No allocation.
size_t FormatInt(int64_t v, char* out) {
  char tmp[24];
  size_t n = 0;
  bool negative = v < 0;
  uint64_t u = negative ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v);
  do {
    tmp[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  size_t len = 0;
  if (negative) out[len++] = '-';
  while (n > 0) out[len++] = tmp[--n];
  return len;
}

// Field 22 of a /proc/PID/stat line, or -1. No allocation (runs in the child, too).
int64_t ParseStartTicks(const char* buf, size_t len, char* state) {
  // The command name (field 2) may contain spaces and parentheses: skip to the last ')'.
  size_t close = len;
  for (size_t i = 0; i < len; ++i) {
    if (buf[i] == ')') close = i;
  }
  if (close + 2 >= len) return -1;
  size_t p = close + 2;  // field 3
  if (state != nullptr) *state = buf[p];
  for (int field = 3; field < 22; ++field) {
    while (p < len && buf[p] != ' ') ++p;
    if (p >= len) return -1;
    ++p;
  }
  int64_t v = 0;
  bool any = false;
  while (p < len && buf[p] >= '0' && buf[p] <= '9') {
    v = v * 10 + (buf[p] - '0');
    ++p;
    any = true;
  }
  return any ? v : -1;
}

// Only system calls from here to the end of ChildMain.
[[noreturn]] void ChildFail(ChildArgs* a, Step step, size_t index) {
  a->err = errno;
  a->step = step;
  a->index = index;
  _exit(127);
}

bool WriteRecord(ChildArgs* a) {
  char suffix[128];
  size_t n = FormatInt(getpid(), suffix);
  static constexpr char kTicks[] = ",\"start_ticks\":";
  std::memcpy(suffix + n, kTicks, sizeof kTicks - 1);
  n += sizeof kTicks - 1;
  int64_t ticks = -1;
  int statfd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (statfd >= 0) {
    char buf[1024];
    ssize_t len = read(statfd, buf, sizeof buf);
    close(statfd);
    if (len > 0) ticks = ParseStartTicks(buf, static_cast<size_t>(len), nullptr);
  }
  n += FormatInt(ticks, suffix + n);
  suffix[n++] = '}';
  suffix[n++] = '\n';

  int fd = open(a->record_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  iovec iov[2] = {{const_cast<char*>(a->record_prefix), a->record_prefix_len}, {suffix, n}};
  ssize_t want = static_cast<ssize_t>(a->record_prefix_len + n);
  ssize_t wrote = writev(fd, iov, 2);
  int saved = errno;
  close(fd);
  if (wrote != want) {
    errno = wrote < 0 ? saved : EIO;
    return false;
  }
  return rename(a->record_tmp, a->record_path) == 0;
}

int ChildMain(void* arg) {
  auto* a = static_cast<ChildArgs*>(arg);

  // Handlers of the parent must never run here; ignored signals must not stay ignored after exec.
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction old;
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (sigaction(sig, nullptr, &old) != 0 || old.sa_handler == SIG_DFL) continue;
    struct sigaction dfl;
    std::memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, nullptr);
  }

  if (a->group == SpawnPlan::Group::kNewGroup && setpgid(0, 0) != 0) ChildFail(a, Step::kGroup, 0);
  if (a->group == SpawnPlan::Group::kNewSession && setsid() < 0) ChildFail(a, Step::kGroup, 0);
  if (a->record_path != nullptr && !WriteRecord(a)) ChildFail(a, Step::kRecord, 0);

  if (a->new_mount_namespace) {
    if (unshare(CLONE_NEWNS) != 0) ChildFail(a, Step::kUnshare, 0);
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      ChildFail(a, Step::kMakePrivate, 0);
    }
  }
  for (size_t i = 0; i < a->mount_count; ++i) {
    RawMount& m = a->mounts[i];
    m.source_fd = -1;
    if ((m.flags & MS_BIND) == 0 || m.source == nullptr) continue;
    m.source_fd = open(m.source, O_PATH | O_CLOEXEC);
    if (m.source_fd < 0) ChildFail(a, Step::kMount, i);
    const char prefix[] = "/proc/self/fd/";
    size_t n = sizeof prefix - 1;
    std::memcpy(m.source_path, prefix, n);
    n += FormatInt(m.source_fd, m.source_path + n);
    m.source_path[n] = '\0';
  }
  for (size_t i = 0; i < a->mount_count; ++i) {
    const RawMount& m = a->mounts[i];
    const char* source = m.source_fd >= 0 ? m.source_path : m.source;
    if (mount(source, m.target, m.fstype, m.flags, m.data) != 0) ChildFail(a, Step::kMount, i);
    if (m.read_only &&
        mount(nullptr, m.target, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
      ChildFail(a, Step::kRemountReadOnly, i);
    }
  }
  if (a->chroot_dir != nullptr && chroot(a->chroot_dir) != 0) ChildFail(a, Step::kChroot, 0);
  if (a->cwd != nullptr && chdir(a->cwd) != 0) ChildFail(a, Step::kChdir, 0);

  for (int target = 0; target < 3; ++target) {
    int fd = a->fds[target];
    if (fd < 0) continue;
    int rc = fd == target ? fcntl(fd, F_SETFD, 0) : dup2(fd, target);
    if (rc < 0) ChildFail(a, Step::kDup, static_cast<size_t>(target));
  }
  umask(022);
  // Everything else the parent had open must not leak into the workload.
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = 3; fd < 65536; ++fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(a->exe, a->argv, a->envp);
  ChildFail(a, Step::kExec, 0);
}

std::string Describe(const ChildArgs& a, const SpawnPlan& plan) {
  std::string why = std::strerror(a.err);
  switch (a.step) {
    case Step::kNone:
      return "no error";
    case Step::kGroup:
      return "cannot create a process group: " + why;
    case Step::kRecord:
      return "cannot write " + plan.record_path + ": " + why;
    case Step::kUnshare:
      return "cannot create a mount namespace: " + why;
    case Step::kMakePrivate:
      return "cannot make / private in the mount namespace: " + why;
    case Step::kMount:
    case Step::kRemountReadOnly: {
      const SpawnMount& m = plan.mounts[a.index];
      std::string what = m.fstype.empty() ? m.source : m.fstype;
      return std::string(a.step == Step::kMount ? "mount " : "remount read-only ") + what + " on " +
             m.target + ": " + why;
    }
    case Step::kChroot:
      return "chroot " + plan.chroot_dir + ": " + why;
    case Step::kChdir:
      return "chdir \"" + plan.cwd + "\": " + why;
    case Step::kDup:
      return "cannot set up standard descriptors: " + why;
    case Step::kExec:
      return "exec \"" + plan.exe + "\": " + why;
  }
  return why;
}

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

int NothingChild(void*) { _exit(0); }

// The child's stack, one per thread and reused: the spawning thread is suspended while its child
// runs on it (CLONE_VFORK), and mapping a fresh one each time costs page faults and a TLB flush.
class ChildStack {
 public:
  ~ChildStack() {
    if (base_ != nullptr) ::munmap(base_, kChildStackSize);
  }
  char* Top() {
    if (base_ == nullptr) {
      void* p = ::mmap(nullptr, kChildStackSize, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
      if (p == MAP_FAILED) return nullptr;
      base_ = p;
    }
    return static_cast<char*>(base_) + kChildStackSize;
  }

 private:
  void* base_ = nullptr;
};

thread_local ChildStack t_child_stack;

std::string UnescapeMountPath(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (size_t k = 1; k <= 3; ++k) {
        char c = s[i + k];
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0;
}

}  // namespace

Result<pid_t> Spawn(const SpawnPlan& plan) {
  std::vector<char*> argv = CStrings(plan.argv);
  std::vector<char*> envp = CStrings(plan.env);
  std::vector<RawMount> mounts;
  mounts.reserve(plan.mounts.size());
  for (const auto& m : plan.mounts) {
    bool bind = m.fstype.empty();
    mounts.push_back(RawMount{m.source.c_str(), m.target.c_str(), bind ? nullptr : m.fstype.c_str(),
                              m.data.empty() ? nullptr : m.data.c_str(),
                              bind ? static_cast<unsigned long>(MS_BIND | MS_REC) : 0UL,
                              m.read_only, -1, {}});
  }
  std::string record_tmp = plan.record_path.empty() ? "" : plan.record_path + ".tmp";

  ChildArgs a{};
  a.exe = plan.exe.c_str();
  a.argv = argv.data();
  a.envp = envp.data();
  a.cwd = plan.cwd.empty() ? nullptr : plan.cwd.c_str();
  a.fds[0] = plan.stdin_fd;
  a.fds[1] = plan.stdout_fd;
  a.fds[2] = plan.stderr_fd;
  a.group = plan.group;
  a.new_mount_namespace = plan.new_mount_namespace;
  a.mounts = mounts.data();
  a.mount_count = mounts.size();
  a.chroot_dir = plan.chroot_dir.empty() ? nullptr : plan.chroot_dir.c_str();
  a.record_path = plan.record_path.empty() ? nullptr : plan.record_path.c_str();
  a.record_tmp = record_tmp.c_str();
  a.record_prefix = plan.record_prefix.c_str();
  a.record_prefix_len = plan.record_prefix.size();
  a.step = Step::kNone;

  char* stack_top = t_child_stack.Top();
  if (stack_top == nullptr) return Unavailable(std::string("mmap: ") + std::strerror(errno));
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::clone(ChildMain, stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
  int clone_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return Unavailable(std::string("clone: ") + std::strerror(clone_errno));
  if (a.step != Step::kNone) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return FailedPrecondition(Describe(a, plan));
  }
  return pid;
}

Result<std::string> FindExecutable(const std::string& name, const std::vector<std::string>& env,
                                   const std::string& overlay_upper) {
  if (name.find('/') != std::string::npos) return name;
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& e : env) {
    if (e.compare(0, 5, "PATH=") == 0) path = e.substr(5);
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t colon = path.find(':', start);
    std::string dir =
        path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    // Relative entries ("", ".") would resolve against the workload's cwd, not ours: skipped,
    // as Go's exec.LookPath refuses them.
    if (!dir.empty() && dir[0] == '/') {
      std::string candidate = dir + "/" + name;
      if (!overlay_upper.empty() && IsExecutableFile(overlay_upper + candidate)) return candidate;
      if (IsExecutableFile(candidate)) return candidate;
    }
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return NotFound("exec: \"" + name + "\": executable file not found in $PATH");
}

std::vector<std::string> ReadRootSubmounts() {
  struct Line {
    std::string id, parent, mount_point;
  };
  std::vector<Line> lines;
  std::ifstream in("/proc/self/mountinfo");
  std::string text;
  while (std::getline(in, text)) {
    std::istringstream fields(text);
    Line l;
    std::string devno, root;
    if (fields >> l.id >> l.parent >> devno >> root >> l.mount_point) {
      l.mount_point = UnescapeMountPath(l.mount_point);
      lines.push_back(std::move(l));
    }
  }
  // The root mount is the last one mounted on "/" (mounts may be stacked).
  std::string root_id;
  for (const auto& l : lines) {
    if (l.mount_point == "/") root_id = l.id;
  }
  std::vector<std::string> out;
  for (const auto& l : lines) {
    if (l.parent != root_id || l.mount_point == "/") continue;
    bool seen = false;
    for (const auto& o : out) seen = seen || o == l.mount_point;
    if (!seen) out.push_back(l.mount_point);
  }
  return out;
}

bool CanCreateMountNamespaces() {
  void* stack = ::mmap(nullptr, 64 * 1024, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return false;
  pid_t pid = ::clone(NothingChild, static_cast<char*>(stack) + 64 * 1024,
                      CLONE_NEWNS | CLONE_VM | CLONE_VFORK | SIGCHLD, nullptr);
  bool ok = pid > 0;
  if (ok) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  ::munmap(stack, 64 * 1024);
  return ok;
}

int64_t ReadProcStartTicks(pid_t pid, bool* zombie) {
  if (zombie != nullptr) *zombie = false;
  if (pid <= 0) return -1;
  auto text = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!text.ok()) return -1;
  char state = 0;
  int64_t ticks = ParseStartTicks(text->data(), text->size(), &state);
  if (state == 'Z' || state == 'X') {
    if (zombie != nullptr) *zombie = true;
    return -1;
  }
  return ticks;
}

}  // namespace skiff::local
