// The parts of Go's `strings` package that builtins and sprig expose, with Go's edge cases
// (empty separators split into UTF-8 characters, `n` limits, byte-based indexes). Case mapping
// covers ASCII only. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace skiff::expr::gostr {

// strings.SplitN (after = false) and strings.SplitAfterN (after = true); n < 0 means all.
std::vector<std::string> Split(std::string_view s, std::string_view sep, int64_t n, bool after);
// strings.Replace; n < 0 replaces all.
std::string Replace(std::string_view s, std::string_view old_s, std::string_view new_s,
                    int64_t n);
std::string TrimSpace(std::string_view s);
// strings.Trim / TrimLeft / TrimRight with a cutset of UTF-8 characters.
std::string Trim(std::string_view s, std::string_view cutset, bool left, bool right);
std::string TrimPrefix(std::string_view s, std::string_view prefix);
std::string TrimSuffix(std::string_view s, std::string_view suffix);
bool HasPrefix(std::string_view s, std::string_view prefix);
bool HasSuffix(std::string_view s, std::string_view suffix);
std::string ToUpper(std::string_view s);
std::string ToLower(std::string_view s);
// strings.Title: upper-cases the first letter of each word.
std::string Title(std::string_view s);
// strings.Fields: splits around runs of white space.
std::vector<std::string> Fields(std::string_view s);
// strings.Index / LastIndex as byte offsets, -1 when absent.
int64_t Index(std::string_view s, std::string_view sub);
int64_t LastIndex(std::string_view s, std::string_view sub);

}  // namespace skiff::expr::gostr
