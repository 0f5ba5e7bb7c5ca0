// Phase marks for finding where a command's time goes: with SKIFF_TRACE set, TraceMark prints
// "TRACE <unix seconds.micros> <what>" to stderr; otherwise it costs one branch. Used at the
// boundaries of `skiff run`'s phases (docs/design/pipelines.md, "Start-up and re-runs").
#pragma once

#include <time.h>

#include <cstdio>
#include <cstdlib>

namespace skiff {

inline void TraceMark(const char* what) {
  static const bool on = std::getenv("SKIFF_TRACE") != nullptr;
  if (!on) return;
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  std::fprintf(stderr, "TRACE %ld.%06ld %s\n", static_cast<long>(ts.tv_sec), ts.tv_nsec / 1000, what);
}

}  // namespace skiff
