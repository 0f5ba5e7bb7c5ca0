// File-system helpers with `Status` errors: whole-file reads, atomic writes (temp file + rename,
// so a crash never leaves a half-written file), directory creation and removal, and path-safety
// checks for names that come from users. Thread-compatible.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace skiff {

Result<std::string> ReadFile(const std::string& path);
// Writes `data` to `path` through a temporary file in the same directory and rename(2).
// With `sync`, fsyncs the file before the rename.
Status WriteFileAtomic(const std::string& path, std::string_view data, bool sync = false);
Status WriteFile(const std::string& path, std::string_view data, int mode = 0644);
Status MakeDirs(const std::string& path, int mode = 0755);
Status RemoveAll(const std::string& path);
bool PathExists(const std::string& path);
bool IsDirectory(const std::string& path);
std::string JoinPath(std::string_view a, std::string_view b);
// Directory part of a path ("a/b/c" -> "a/b"; "c" -> ".").
std::string DirName(std::string_view path);
// True if `path` names something strictly inside the directory `dir`, lexically, by whole
// segments ("/tmp/a" is below "/tmp" and "/", not below "/tm" or "/tmp/a").
bool PathIsBelow(std::string_view path, std::string_view dir);
// Lexically normalizes `rel` and rejects anything that would escape its base directory
// ("..", absolute paths). Returns the clean relative path.
Result<std::string> SafeRelativePath(std::string_view rel);
// Absolute path of the running executable (/proc/self/exe).
std::string SelfExePath();

}  // namespace skiff
