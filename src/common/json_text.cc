// JSON text in and out of nlohmann::json values, without nlohmann's lexer and serializer.
//
// ParseJson: a hand-written reader that builds the value directly. It scans the buffer through
// a pointer (nlohmann's lexer reads one char at a time through an input adapter and hands tokens
// to a SAX builder), copies string runs up to the next quote, backslash or non-ASCII byte at
// once, and appends object keys with a hint at the end of the map (stored JSON is written
// sorted). Open containers live on an explicit stack, so deep nesting cannot overflow the call
// stack. It accepts exactly what `nlohmann::json::parse` accepts and builds the same value
// (json_test.cc checks it differentially): RFC 8259 grammar with an optional leading UTF-8 BOM;
// strings must be valid UTF-8 without raw control characters, `\u` escapes must pair
// surrogates; integers become `number_unsigned` (non-negative) or `number_integer` (negative,
// and "-0"), and anything with a fraction or an exponent, or out of 64-bit range, a
// `number_float` (infinite ones are errors); a repeated object key keeps its last value; a NUL
// byte after the document ends the input.
//
// DumpJson: writes into one std::string the exact text of `dump(indent, ' ', false, replace)`
// (content hashes depend on it): the same escapes, nlohmann's own float formatting
// (`detail::to_chars`), and nlohmann itself for the rare string that is not valid UTF-8.
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/json.h"

namespace skiff {
namespace {

// Bytes copied into a string as they are: printable ASCII other than '"' and '\\'.
struct PlainTable {
  bool plain[256] = {};
  constexpr PlainTable() {
    for (int c = 0x20; c < 0x80; ++c) plain[c] = c != '"' && c != '\\';
  }
};
constexpr PlainTable kPlain;

// The first byte from `p` on that is not plain (see kPlain), or `end`: eight bytes at a time
// while it can, testing them as one word for '"', '\\', a control character or a byte >= 0x80.
const unsigned char* SkipPlain(const unsigned char* p, const unsigned char* end) {
  constexpr uint64_t kOnes = 0x0101010101010101u;
  constexpr uint64_t kHigh = 0x8080808080808080u;
  static_assert(std::endian::native == std::endian::little);
  while (end - p >= 8) {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    const uint64_t quote = v ^ (kOnes * '"');
    const uint64_t backslash = v ^ (kOnes * '\\');
    // A high bit marks a special byte; the lowest marked byte is exact (a borrow can only mark
    // bytes above a true match).
    const uint64_t special = ((quote - kOnes) & ~quote) | ((backslash - kOnes) & ~backslash) |
                             ((v - kOnes * 0x20) & ~v) | v;
    const uint64_t marks = special & kHigh;
    if (marks != 0) return p + __builtin_ctzll(marks) / 8;  // little-endian: the first in memory
    p += 8;
  }
  while (p < end && kPlain.plain[*p]) ++p;
  return p;
}

bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool IsSpace(unsigned char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

int HexValue(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The length of the well-formed UTF-8 sequence (RFC 3629, as nlohmann checks it) at `p`, whose
// first byte is >= 0x80; 0 if it is not one.
size_t Utf8Length(const unsigned char* p, const unsigned char* end) {
  auto in = [&](size_t i, unsigned lo, unsigned hi) {
    return p + i < end && p[i] >= lo && p[i] <= hi;
  };
  const unsigned c = p[0];
  if (c >= 0xC2 && c <= 0xDF) return in(1, 0x80, 0xBF) ? 2 : 0;
  if (c == 0xE0) return in(1, 0xA0, 0xBF) && in(2, 0x80, 0xBF) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    return in(1, 0x80, 0xBF) && in(2, 0x80, 0xBF) ? 3 : 0;
  }
  if (c == 0xED) return in(1, 0x80, 0x9F) && in(2, 0x80, 0xBF) ? 3 : 0;
  if (c == 0xF0) return in(1, 0x90, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) {
    return in(1, 0x80, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
  }
  if (c == 0xF4) return in(1, 0x80, 0x8F) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
  return 0;
}

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class JsonReader {
 public:
  explicit JsonReader(std::string_view text)
      : begin_(reinterpret_cast<const unsigned char*>(text.data())),
        p_(begin_),
        end_(begin_ + text.size()) {}

  Result<Json> Read() {
    Json root;
    if (!ReadDocument(root)) {
      return InvalidArgument("invalid JSON: " + std::string(error_) + " at byte " +
                             std::to_string(error_at_ - begin_));
    }
    return root;
  }

 private:
  // An open array or object; exactly one of the two is set.
  struct Frame {
    Json::array_t* array;
    Json::object_t* object;
  };

  bool Fail(const char* what, const unsigned char* at) {
    error_ = what;
    error_at_ = at;
    return false;
  }

  void SkipSpace() {
    while (p_ < end_ && IsSpace(*p_)) ++p_;
  }

  bool ReadDocument(Json& root) {
    if (end_ - p_ >= 3 && p_[0] == 0xEF && p_[1] == 0xBB && p_[2] == 0xBF) p_ += 3;  // a BOM
    std::vector<Frame> stack;
    Json* slot = &root;  // where the next value goes
    SkipSpace();
    for (;;) {
      // A value into *slot.
      if (p_ == end_) return Fail("unexpected end of input; expected a value", p_);
      switch (*p_) {
        case '{': {
          ++p_;
          *slot = Json(Json::value_t::object);
          SkipSpace();
          if (p_ < end_ && *p_ == '}') {
            ++p_;
            break;
          }
          stack.push_back({nullptr, &slot->get_ref<Json::object_t&>()});
          if (!ReadKey(*stack.back().object, slot)) return false;
          continue;
        }
        case '[': {
          ++p_;
          *slot = Json(Json::value_t::array);
          SkipSpace();
          if (p_ < end_ && *p_ == ']') {
            ++p_;
            break;
          }
          stack.push_back({&slot->get_ref<Json::array_t&>(), nullptr});
          slot = &stack.back().array->emplace_back();
          continue;
        }
        case '"': {
          ++p_;
          std::string_view text;
          if (!ReadString(text)) return false;
          *slot = std::string(text);
          break;
        }
        case 't':
          if (!ReadLiteral("true", 4)) return false;
          *slot = true;
          break;
        case 'f':
          if (!ReadLiteral("false", 5)) return false;
          *slot = false;
          break;
        case 'n':
          if (!ReadLiteral("null", 4)) return false;
          *slot = nullptr;
          break;
        default:
          if (*p_ == '-' || IsDigit(*p_)) {
            if (!ReadNumber(*slot)) return false;
            break;
          }
          return Fail("unexpected character; expected a value", p_);
      }
      // After a value: the next item of the innermost open container, or its end.
      for (;;) {
        SkipSpace();
        if (stack.empty()) {
          // nlohmann's lexer takes a NUL byte for the end of the input.
          if (p_ != end_ && *p_ != '\0') return Fail("unexpected character after the document", p_);
          return true;
        }
        if (p_ == end_) return Fail("unexpected end of input", p_);
        Frame& top = stack.back();
        const unsigned char c = *p_++;
        if (c == ',') {
          SkipSpace();
          if (top.array != nullptr) {
            slot = &top.array->emplace_back();
          } else if (!ReadKey(*top.object, slot)) {
            return false;
          }
          break;
        }
        if (top.array != nullptr ? c == ']' : c == '}') {
          stack.pop_back();
          continue;
        }
        return Fail(top.array != nullptr ? "expected ',' or ']'" : "expected ',' or '}'", p_ - 1);
      }
    }
  }

  // A member's key and ':'; `slot` is set to its value (the existing one for a repeated key:
  // the last value wins, as with nlohmann).
  bool ReadKey(Json::object_t& object, Json*& slot) {
    if (p_ == end_ || *p_ != '"') return Fail("expected a string as an object key", p_);
    ++p_;
    std::string_view key;
    if (!ReadString(key)) return false;
    SkipSpace();
    if (p_ == end_ || *p_ != ':') return Fail("expected ':' after an object key", p_);
    ++p_;
    SkipSpace();
    slot = &object.try_emplace(object.end(), std::string(key))->second;
    return true;
  }

  bool ReadLiteral(const char* word, size_t n) {
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) {
      return Fail("invalid literal", p_);
    }
    p_ += n;
    return true;
  }

  // The rest of a string after its opening quote. `out` is its text: a view of the input when
  // there is nothing to decode (the common case), else of scratch_.
  bool ReadString(std::string_view& out) {
    const unsigned char* run = p_;
    p_ = SkipPlain(p_, end_);
    if (p_ < end_ && *p_ == '"') {
      out = std::string_view(reinterpret_cast<const char*>(run), p_ - run);
      ++p_;
      return true;
    }
    scratch_.clear();
    for (;;) {
      scratch_.append(reinterpret_cast<const char*>(run), p_ - run);
      if (p_ == end_) return Fail("unexpected end of input in a string", p_);
      const unsigned char c = *p_;
      if (c == '"') {
        ++p_;
        out = scratch_;
        return true;
      }
      if (c == '\\') {
        if (!ReadEscape(scratch_)) return false;
      } else if (c < 0x20) {
        return Fail("control character in a string (must be escaped)", p_);
      } else {
        const size_t n = Utf8Length(p_, end_);
        if (n == 0) return Fail("invalid UTF-8 in a string", p_);
        scratch_.append(reinterpret_cast<const char*>(p_), n);
        p_ += n;
      }
      run = p_;
      p_ = SkipPlain(p_, end_);
    }
  }

  // An escape sequence at p_ (the backslash).
  bool ReadEscape(std::string& out) {
    const unsigned char* at = p_++;
    if (p_ == end_) return Fail("unexpected end of input in a string", p_);
    switch (*p_++) {
      case '"': out += '"'; return true;
      case '\\': out += '\\'; return true;
      case '/': out += '/'; return true;
      case 'b': out += '\b'; return true;
      case 'f': out += '\f'; return true;
      case 'n': out += '\n'; return true;
      case 'r': out += '\r'; return true;
      case 't': out += '\t'; return true;
      case 'u': break;
      default: return Fail("invalid escape in a string", at);
    }
    uint32_t cp = 0;
    if (!ReadHex4(cp)) return Fail("'\\u' must be followed by 4 hex digits", at);
    if (cp >= 0xDC00 && cp <= 0xDFFF) return Fail("lone low surrogate in a string", at);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      uint32_t low = 0;
      if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') {
        return Fail("high surrogate not followed by a low one", at);
      }
      p_ += 2;
      if (!ReadHex4(low)) return Fail("'\\u' must be followed by 4 hex digits", p_ - 2);
      if (low < 0xDC00 || low > 0xDFFF) return Fail("high surrogate not followed by a low one", at);
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    AppendUtf8(cp, out);
    return true;
  }

  bool ReadHex4(uint32_t& out) {
    if (end_ - p_ < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = HexValue(p_[i]);
      if (h < 0) return false;
      v = (v << 4) | static_cast<uint32_t>(h);
    }
    p_ += 4;
    out = v;
    return true;
  }

  bool ReadNumber(Json& out) {
    const unsigned char* start = p_;
    const bool negative = *p_ == '-';
    if (negative) ++p_;
    if (p_ == end_ || !IsDigit(*p_)) return Fail("invalid number", p_);
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ < end_ && IsDigit(*p_)) ++p_;
    }
    const unsigned char* int_end = p_;
    bool is_float = false;
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (p_ == end_ || !IsDigit(*p_)) return Fail("invalid number: expected a digit after '.'", p_);
      while (p_ < end_ && IsDigit(*p_)) ++p_;
      is_float = true;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !IsDigit(*p_)) return Fail("invalid number: expected an exponent", p_);
      while (p_ < end_ && IsDigit(*p_)) ++p_;
      is_float = true;
    }
    if (!is_float) {
      uint64_t v = 0;
      bool overflow = false;
      for (const unsigned char* q = start + (negative ? 1 : 0); q < int_end && !overflow; ++q) {
        overflow = __builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, *q - '0', &v);
      }
      if (!overflow) {
        if (!negative) {
          out = static_cast<Json::number_unsigned_t>(v);
          return true;
        }
        if (v <= (uint64_t{1} << 63)) {
          out = static_cast<Json::number_integer_t>(0 - v);  // two's complement: -2^63 fits
          return true;
        }
      }
      // Out of 64-bit range: a double, as nlohmann reads it.
    }
    const char* first = reinterpret_cast<const char*>(start);
    const char* last = reinterpret_cast<const char*>(p_);
    double d = 0;
    const auto [ptr, ec] = std::from_chars(first, last, d);
    if (ec == std::errc::result_out_of_range) {
      // Overflow is an error; underflow is what strtod makes of it (0 or a subnormal).
      const std::string copy(first, last);
      d = std::strtod(copy.c_str(), nullptr);
    } else if (ec != std::errc() || ptr != last) {
      return Fail("invalid number", start);
    }
    if (!std::isfinite(d)) return Fail("number overflow", start);
    out = d;
    return true;
  }

  const unsigned char* const begin_;
  const unsigned char* p_;
  const unsigned char* const end_;
  std::string scratch_;  // a string with escapes or non-ASCII bytes, decoded
  const char* error_ = "";
  const unsigned char* error_at_ = nullptr;
};

// Writes what nlohmann's serializer writes for dump(indent, ' ', ensure_ascii = false, replace).
class JsonWriter {
 public:
  JsonWriter(int indent, std::string& out) : pretty_(indent >= 0), step_(pretty_ ? indent : 0), out_(out) {}

  void Write(const Json& v, size_t level) {
    switch (v.type()) {
      case Json::value_t::object: {
        const auto& object = v.get_ref<const Json::object_t&>();
        if (object.empty()) {
          out_ += "{}";
          return;
        }
        out_ += pretty_ ? "{\n" : "{";
        bool first = true;
        for (const auto& [key, value] : object) {
          if (!first) out_ += pretty_ ? ",\n" : ",";
          first = false;
          Indent(level + 1);
          WriteString(key);
          out_ += pretty_ ? ": " : ":";
          Write(value, level + 1);
        }
        Close('}', level);
        return;
      }
      case Json::value_t::array: {
        const auto& array = v.get_ref<const Json::array_t&>();
        if (array.empty()) {
          out_ += "[]";
          return;
        }
        out_ += pretty_ ? "[\n" : "[";
        bool first = true;
        for (const Json& item : array) {
          if (!first) out_ += pretty_ ? ",\n" : ",";
          first = false;
          Indent(level + 1);
          Write(item, level + 1);
        }
        Close(']', level);
        return;
      }
      case Json::value_t::string:
        WriteString(v.get_ref<const std::string&>());
        return;
      case Json::value_t::boolean:
        out_ += v.get<bool>() ? "true" : "false";
        return;
      case Json::value_t::number_integer:
        WriteInteger(v.get<Json::number_integer_t>());
        return;
      case Json::value_t::number_unsigned:
        WriteInteger(v.get<Json::number_unsigned_t>());
        return;
      case Json::value_t::number_float: {
        const double d = v.get<double>();
        if (!std::isfinite(d)) {
          out_ += "null";
          return;
        }
        char buf[64];
        const char* end = nlohmann::detail::to_chars(buf, buf + sizeof buf, d);
        out_.append(buf, static_cast<size_t>(end - buf));
        return;
      }
      case Json::value_t::null:
        out_ += "null";
        return;
      default:  // binary and discarded values (Skiff makes none): nlohmann's own text
        out_ += v.dump(pretty_ ? step_ : -1, ' ', false, Json::error_handler_t::replace);
        return;
    }
  }

 private:
  void Indent(size_t level) {
    if (pretty_) out_.append(level * static_cast<size_t>(step_), ' ');
  }
  void Close(char bracket, size_t level) {
    if (pretty_) {
      out_ += '\n';
      Indent(level);
    }
    out_ += bracket;
  }

  template <typename Int>
  void WriteInteger(Int i) {
    char buf[24];
    const auto result = std::to_chars(buf, buf + sizeof buf, i);
    out_.append(buf, static_cast<size_t>(result.ptr - buf));
  }

  // A quoted, escaped string: runs of plain bytes and valid UTF-8 copied as they are, the
  // short escapes nlohmann uses, and \u00xx for other control characters.
  void WriteString(const std::string& s) {
    const size_t mark = out_.size();
    out_ += '"';
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    for (;;) {
      const unsigned char* run = p;
      p = SkipPlain(p, end);
      out_.append(reinterpret_cast<const char*>(run), p - run);
      if (p == end) break;
      const unsigned char c = *p;
      if (c >= 0x80) {
        const size_t n = Utf8Length(p, end);
        if (n == 0) {  // invalid UTF-8: nlohmann's replacement, exactly
          out_.resize(mark);
          out_ += Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
          return;
        }
        out_.append(reinterpret_cast<const char*>(p), n);
        p += n;
        continue;
      }
      ++p;
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\b': out_ += "\\b"; break;
        case '\f': out_ += "\\f"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default: {
          static constexpr char kHex[] = "0123456789abcdef";
          const char escape[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
          out_.append(escape, sizeof escape);
        }
      }
    }
    out_ += '"';
  }

  const bool pretty_;
  const int step_;
  std::string& out_;
};

}  // namespace

Result<Json> ParseJson(std::string_view text) { return JsonReader(text).Read(); }

std::string DumpJson(const Json& value, int indent) {
  std::string out;
  JsonWriter(indent, out).Write(value, 0);
  return out;
}

}  // namespace skiff
