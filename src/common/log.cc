#include "common/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "common/clock.h"

namespace skiff {
namespace {

LogLevel InitialLevel() {
  const char* env = std::getenv("SKIFF_LOG");
  if (env == nullptr) return LogLevel::kWarn;
  if (std::strcmp(env, "debug") == 0) return LogLevel::kDebug;
  if (std::strcmp(env, "info") == 0) return LogLevel::kInfo;
  if (std::strcmp(env, "error") == 0) return LogLevel::kError;
  return LogLevel::kWarn;
}

std::atomic<int> g_level{static_cast<int>(InitialLevel())};
std::mutex g_mu;
int g_fd = 2;

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "?";
}

bool NeedsQuotes(const std::string& v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') return true;
  }
  return false;
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

void SetLogFile(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_fd != 2) ::close(g_fd);
  g_fd = 2;
  if (!path.empty()) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) g_fd = fd;
  }
}

void LogLine(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  std::string line = FormatRfc3339(SystemClock::Get().Now());
  line += ' ';
  line += LevelName(level);
  line += ' ';
  line += msg;
  for (const auto& [k, v] : fields) {
    line += ' ';
    line += k;
    line += '=';
    if (NeedsQuotes(v)) {
      line += '"';
      for (char c : v) {
        if (c == '"' || c == '\\') line += '\\';
        if (c == '\n') {
          line += "\\n";
          continue;
        }
        line += c;
      }
      line += '"';
    } else {
      line += v;
    }
  }
  line += '\n';
  std::lock_guard<std::mutex> lock(g_mu);
  ssize_t ignored = ::write(g_fd, line.data(), line.size());
  (void)ignored;
}

}  // namespace skiff
