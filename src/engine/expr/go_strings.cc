#include "engine/expr/go_strings.h"

#include <algorithm>

#include "engine/expr/go_format.h"

namespace skiff::expr::gostr {
namespace {

// Length of the UTF-8 character at s[i]; an invalid byte counts as one character.
size_t RuneLen(std::string_view s, size_t i) {
  uint32_t r = 0;
  size_t n = DecodeUtf8(s, i, &r);
  return n == 0 ? 1 : n;
}

uint32_t RuneAt(std::string_view s, size_t i, size_t* len) {
  uint32_t r = 0xFFFD;
  size_t n = DecodeUtf8(s, i, &r);
  *len = n == 0 ? 1 : n;
  return n == 0 ? 0xFFFD : r;
}

bool IsSpaceRune(uint32_t r) {
  switch (r) {
    case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
    case 0x3000:
      return true;
    default:
      return r >= 0x2000 && r <= 0x200A;
  }
}

// Index of the last character start at or before `end` (exclusive end), walking back over
// UTF-8 continuation bytes.
size_t LastRuneStart(std::string_view s, size_t end) {
  size_t i = end - 1;
  size_t limit = end >= 4 ? end - 4 : 0;
  while (i > limit && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  uint32_t r = 0;
  if (DecodeUtf8(s, i, &r) != end - i) return end - 1;
  return i;
}

size_t Count(std::string_view s, std::string_view sep) {
  if (sep.empty()) {
    size_t n = 0;
    for (size_t i = 0; i < s.size(); i += RuneLen(s, i)) ++n;
    return n + 1;
  }
  size_t n = 0;
  for (size_t pos = s.find(sep); pos != std::string_view::npos; pos = s.find(sep, pos + sep.size())) {
    ++n;
  }
  return n;
}

}  // namespace

std::vector<std::string> Split(std::string_view s, std::string_view sep, int64_t n, bool after) {
  std::vector<std::string> out;
  if (n == 0) return out;
  if (sep.empty()) {
    // Explode into UTF-8 characters; the last piece keeps the rest.
    size_t i = 0;
    while (i < s.size()) {
      if (n > 0 && static_cast<int64_t>(out.size()) == n - 1) {
        out.emplace_back(s.substr(i));
        return out;
      }
      size_t len = RuneLen(s, i);
      out.emplace_back(s.substr(i, len));
      i += len;
    }
    return out;
  }
  if (n < 0) n = static_cast<int64_t>(Count(s, sep)) + 1;
  if (n > static_cast<int64_t>(s.size()) + 1) n = static_cast<int64_t>(s.size()) + 1;
  int64_t i = 0;
  while (i < n - 1) {
    size_t m = s.find(sep);
    if (m == std::string_view::npos) break;
    out.emplace_back(s.substr(0, m + (after ? sep.size() : 0)));
    s.remove_prefix(m + sep.size());
    ++i;
  }
  out.emplace_back(s);
  return out;
}

std::string Replace(std::string_view s, std::string_view old_s, std::string_view new_s,
                    int64_t n) {
  if (old_s == new_s || n == 0) return std::string(s);
  int64_t m = static_cast<int64_t>(Count(s, old_s));
  if (m == 0) return std::string(s);
  if (n < 0 || m < n) n = m;
  std::string out;
  size_t start = 0;
  for (int64_t i = 0; i < n; ++i) {
    size_t j = start;
    if (old_s.empty()) {
      if (i > 0) j += RuneLen(s, start);
    } else {
      j = s.find(old_s, start);
    }
    out.append(s.substr(start, j - start));
    out.append(new_s);
    start = j + old_s.size();
  }
  out.append(s.substr(std::min(start, s.size())));
  return out;
}

std::string TrimSpace(std::string_view s) {
  size_t begin = 0;
  while (begin < s.size()) {
    size_t len = 0;
    if (!IsSpaceRune(RuneAt(s, begin, &len))) break;
    begin += len;
  }
  size_t end = s.size();
  while (end > begin) {
    size_t start = LastRuneStart(s, end);
    size_t len = 0;
    if (!IsSpaceRune(RuneAt(s, start, &len))) break;
    end = start;
  }
  return std::string(s.substr(begin, end - begin));
}

std::string Trim(std::string_view s, std::string_view cutset, bool left, bool right) {
  std::vector<uint32_t> cut;
  for (size_t i = 0; i < cutset.size();) {
    size_t len = 0;
    cut.push_back(RuneAt(cutset, i, &len));
    i += len;
  }
  auto in_cut = [&](uint32_t r) { return std::find(cut.begin(), cut.end(), r) != cut.end(); };
  size_t begin = 0;
  size_t end = s.size();
  if (left) {
    while (begin < end) {
      size_t len = 0;
      if (!in_cut(RuneAt(s, begin, &len))) break;
      begin += len;
    }
  }
  if (right) {
    while (end > begin) {
      size_t start = LastRuneStart(s, end);
      size_t len = 0;
      if (!in_cut(RuneAt(s, start, &len))) break;
      end = start;
    }
  }
  return std::string(s.substr(begin, end - begin));
}

bool HasPrefix(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool HasSuffix(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string TrimPrefix(std::string_view s, std::string_view prefix) {
  return std::string(HasPrefix(s, prefix) ? s.substr(prefix.size()) : s);
}

std::string TrimSuffix(std::string_view s, std::string_view suffix) {
  return std::string(HasSuffix(s, suffix) ? s.substr(0, s.size() - suffix.size()) : s);
}

std::string ToUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string Title(std::string_view s) {
  std::string out(s);
  bool prev_separator = true;
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || u >= 0x80;
    if (prev_separator && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    prev_separator = !word;
  }
  return out;
}

std::vector<std::string> Fields(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t len = 0;
    while (i < s.size() && IsSpaceRune(RuneAt(s, i, &len))) i += len;
    size_t start = i;
    while (i < s.size() && !IsSpaceRune(RuneAt(s, i, &len))) i += len;
    if (i > start) out.emplace_back(s.substr(start, i - start));
  }
  return out;
}

int64_t Index(std::string_view s, std::string_view sub) {
  size_t p = s.find(sub);
  return p == std::string_view::npos ? -1 : static_cast<int64_t>(p);
}

int64_t LastIndex(std::string_view s, std::string_view sub) {
  size_t p = s.rfind(sub);
  return p == std::string_view::npos ? -1 : static_cast<int64_t>(p);
}

}  // namespace skiff::expr::gostr
