// `supervisor_testbin`: the supervisor as the tests launch it, plus two tiny workloads.
//   supervisor_testbin --state-dir DIR [--cpus N] [--memory BYTES] [--idle-exit-ms MS]
//                      [--backfill-window-ms MS] [--foreground]
//   supervisor_testbin alloc MB     touches MB megabytes, then exits 0
//   supervisor_testbin busy MS      spins until it has used MS ms of CPU, then exits 0
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backends/local/supervisor.h"

namespace {

int Alloc(long mb) {
  size_t bytes = static_cast<size_t>(mb) << 20;
  std::vector<char> block(bytes);
  for (size_t i = 0; i < bytes; i += 4096) block[i] = static_cast<char>(i);
  volatile char sink = block[bytes / 2];
  (void)sink;
  return 0;
}

// Spins until it has used `ms` of CPU time (not wall time, so that a loaded machine cannot
// shorten it).
int Busy(long ms) {
  auto used_ms = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
  };
  volatile unsigned long x = 0;
  while (used_ms() < ms) {
    for (int i = 0; i < 100000; ++i) x = x + static_cast<unsigned long>(i);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "alloc") == 0) return Alloc(std::atol(argv[2]));
  if (argc == 3 && std::strcmp(argv[1], "busy") == 0) return Busy(std::atol(argv[2]));
  skiff::local::SupervisorConfig config;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    bool has_value = i + 1 < argc;
    if (flag == "--foreground") {
      config.daemonize = false;
    } else if (flag == "--state-dir" && has_value) {
      config.state_dir = argv[++i];
    } else if (flag == "--cpus" && has_value) {
      config.cpu_millis = static_cast<int64_t>(std::atof(argv[++i]) * 1000);
    } else if (flag == "--memory" && has_value) {
      config.memory_bytes = std::atoll(argv[++i]);
    } else if (flag == "--idle-exit-ms" && has_value) {
      config.idle_exit_ms = std::atoll(argv[++i]);
    } else if (flag == "--backfill-window-ms" && has_value) {
      config.backfill_window_ms = std::atoll(argv[++i]);
    } else {
      std::fprintf(stderr, "supervisor_testbin: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  return skiff::local::RunSupervisor(config);
}
