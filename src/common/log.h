// Structured logging: one line per event, "time level msg key=value ...", to stderr (or a file
// set with `SetLogFile`). Level from $SKIFF_LOG (debug|info|warn|error; default warn, so that a
// CLI's terminal output stays clean). Thread-safe.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace skiff {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

using LogField = std::pair<std::string_view, std::string>;

void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
// Appends log lines to `path` instead of stderr; empty restores stderr.
void SetLogFile(const std::string& path);
void LogLine(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});

inline void LogDebug(std::string_view m, std::initializer_list<LogField> f = {}) {
  if (LogEnabled(LogLevel::kDebug)) LogLine(LogLevel::kDebug, m, f);
}
inline void LogInfo(std::string_view m, std::initializer_list<LogField> f = {}) {
  if (LogEnabled(LogLevel::kInfo)) LogLine(LogLevel::kInfo, m, f);
}
inline void LogWarn(std::string_view m, std::initializer_list<LogField> f = {}) {
  if (LogEnabled(LogLevel::kWarn)) LogLine(LogLevel::kWarn, m, f);
}
inline void LogError(std::string_view m, std::initializer_list<LogField> f = {}) {
  LogLine(LogLevel::kError, m, f);
}

}  // namespace skiff
