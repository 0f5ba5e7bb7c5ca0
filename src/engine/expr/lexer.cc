#include "engine/expr/lexer.h"

#include <cstdint>

namespace skiff::expr {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Upstream's IsAlphaNumeric: letters (any non-ASCII byte counts as one), digits, '_' and '$'.
bool IsAlphaNumeric(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '_' || c == '$' ||
         static_cast<unsigned char>(c) >= 0x80;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  Result<std::vector<Token>> Run() {
    while (true) {
      while (pos_ < src_.size() && IsSpace(src_[pos_])) ++pos_;
      if (pos_ >= src_.size()) break;
      size_t start = pos_;
      char c = src_[pos_];
      if (c == '\'' || c == '"') {
        SKIFF_RETURN_IF_ERROR(ScanString(c));
      } else if (c == '`') {
        size_t end = src_.find('`', pos_ + 1);
        if (end == std::string_view::npos) return Error(start, "literal not terminated");
        Emit(TokenKind::kString, std::string(src_.substr(pos_ + 1, end - pos_ - 1)), start);
        pos_ = end + 1;
      } else if (IsDigit(c) || (c == '.' && pos_ + 1 < src_.size() && IsDigit(src_[pos_ + 1]))) {
        SKIFF_RETURN_IF_ERROR(ScanNumber());
      } else if (c == '?') {
        ++pos_;
        if (pos_ < src_.size() && (src_[pos_] == '.' || src_[pos_] == '?')) ++pos_;
        EmitOp(start);
      } else if (c == '/') {
        ++pos_;
        if (pos_ < src_.size() && src_[pos_] == '/') {
          while (pos_ < src_.size() && src_[pos_] != '\n') ++pos_;
        } else if (pos_ < src_.size() && src_[pos_] == '*') {
          size_t end = src_.find("*/", pos_ + 1);
          if (end == std::string_view::npos) return Error(start, "unclosed comment");
          pos_ = end + 2;
        } else {
          EmitOp(start);
        }
      } else if (c == '#') {
        ++pos_;
        EmitOp(start);
        size_t id = pos_;
        while (pos_ < src_.size() && IsAlphaNumeric(src_[pos_])) ++pos_;
        if (pos_ > id) Emit(TokenKind::kIdentifier, std::string(src_.substr(id, pos_ - id)), id);
      } else if (c == '|' || c == ':') {
        ++pos_;
        if (pos_ < src_.size() && src_[pos_] == c) ++pos_;
        EmitOp(start);
      } else if (c == '(' || c == '[' || c == '{' || c == ')' || c == ']' || c == '}') {
        ++pos_;
        Emit(TokenKind::kBracket, std::string(1, c), start);
      } else if (c == ',' || c == ';' || c == '%' || c == '+' || c == '-' || c == '^') {
        ++pos_;
        EmitOp(start);
      } else if (c == '&' || c == '!' || c == '=' || c == '*' || c == '<' || c == '>') {
        ++pos_;
        if (pos_ < src_.size() &&
            (src_[pos_] == '&' || src_[pos_] == '=' || src_[pos_] == '*')) {
          ++pos_;
        }
        EmitOp(start);
      } else if (c == '.') {
        ++pos_;
        if (pos_ < src_.size() && src_[pos_] == '.') ++pos_;
        EmitOp(start);
      } else if (IsAlphaNumeric(c)) {
        ScanIdentifier();
      } else {
        return Error(start, std::string("unrecognized character: '") + c + "'");
      }
    }
    Emit(TokenKind::kEof, "", src_.size());
    return std::move(tokens_);
  }

 private:
  Status Error(size_t pos, std::string_view msg) { return LocatedError(src_, pos, msg); }

  void Emit(TokenKind kind, std::string value, size_t pos) {
    tokens_.push_back(Token{kind, std::move(value), pos});
  }
  void EmitOp(size_t start) {
    Emit(TokenKind::kOperator, std::string(src_.substr(start, pos_ - start)), start);
  }

  void AcceptRun(std::string_view chars) {
    while (pos_ < src_.size() && chars.find(src_[pos_]) != std::string_view::npos) ++pos_;
  }
  bool Accept(std::string_view chars) {
    if (pos_ < src_.size() && chars.find(src_[pos_]) != std::string_view::npos) {
      ++pos_;
      return true;
    }
    return false;
  }

  Status ScanNumber() {
    size_t start = pos_;
    std::string_view digits = "0123456789_";
    if (Accept("0")) {
      if (Accept("xX")) {
        digits = "0123456789abcdefABCDEF_";
      } else if (Accept("oO")) {
        digits = "01234567_";
      } else if (Accept("bB")) {
        digits = "01_";
      }
    }
    AcceptRun(digits);
    size_t before_dot = pos_;
    if (Accept(".")) {
      if (pos_ < src_.size() && src_[pos_] == '.') {
        pos_ = before_dot;  // "1..2" is a range, not a float.
      } else {
        AcceptRun(digits);
      }
    }
    if (Accept("eE")) {
      Accept("+-");
      AcceptRun(digits);
    }
    if (pos_ < src_.size() && IsAlphaNumeric(src_[pos_])) {
      return Error(start, "bad number syntax: \"" + std::string(src_.substr(start, pos_ + 1 - start)) +
                              "\"");
    }
    Emit(TokenKind::kNumber, std::string(src_.substr(start, pos_ - start)), start);
    return OkStatus();
  }

  Status ScanString(char quote) {
    size_t start = pos_;
    ++pos_;
    while (true) {
      if (pos_ >= src_.size() || src_[pos_] == '\n') return Error(start, "literal not terminated");
      char c = src_[pos_];
      if (c == '\\') {
        pos_ += 2;
        continue;
      }
      if (c == quote) break;
      ++pos_;
    }
    auto body = UnescapeGoString(src_.substr(start + 1, pos_ - start - 1));
    ++pos_;
    if (!body.ok()) return Error(start, body.status().message());
    Emit(TokenKind::kString, std::move(body).value(), start);
    return OkStatus();
  }

  void ScanIdentifier() {
    size_t start = pos_;
    while (pos_ < src_.size() && IsAlphaNumeric(src_[pos_])) ++pos_;
    std::string word(src_.substr(start, pos_ - start));
    if (word == "not" || word == "in" || word == "or" || word == "and" || word == "matches" ||
        word == "contains" || word == "startsWith" || word == "endsWith" || word == "let") {
      Emit(TokenKind::kOperator, std::move(word), start);
    } else {
      Emit(TokenKind::kIdentifier, std::move(word), start);
    }
  }

  std::string_view src_;
  size_t pos_ = 0;
  std::vector<Token> tokens_;
};

}  // namespace

std::string DescribeLocation(std::string_view source, size_t pos) {
  if (pos > source.size()) pos = source.size();
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < pos; ++i) {
    if (source[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  size_t line_end = source.find('\n', line_start);
  if (line_end == std::string_view::npos) line_end = source.size();
  size_t column = pos - line_start;
  std::string out = " (" + std::to_string(line) + ":" + std::to_string(column + 1) + ")\n | ";
  out += source.substr(line_start, line_end - line_start);
  out += "\n | ";
  out.append(column, '.');
  out += '^';
  return out;
}

Status LocatedError(std::string_view source, size_t pos, std::string_view message) {
  return InvalidArgument(std::string(message) + DescribeLocation(source, pos));
}

Result<std::vector<Token>> Lex(std::string_view source) { return Lexer(source).Run(); }

void AppendUtf8(std::string& out, uint32_t r) {
  if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) r = 0xFFFD;
  if (r < 0x80) {
    out += static_cast<char>(r);
  } else if (r < 0x800) {
    out += static_cast<char>(0xC0 | (r >> 6));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else if (r < 0x10000) {
    out += static_cast<char>(0xE0 | (r >> 12));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (r >> 18));
    out += static_cast<char>(0x80 | ((r >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  }
}

Result<std::string> UnescapeGoString(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i >= body.size()) return InvalidArgument("invalid escape sequence");
    char e = body[i];
    switch (e) {
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case '`': out += '`'; break;
      case 'x':
      case 'u':
      case 'U': {
        size_t n = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
        uint32_t v = 0;
        for (size_t k = 1; k <= n; ++k) {
          if (i + k >= body.size()) return InvalidArgument("invalid escape sequence");
          int h = HexValue(body[i + k]);
          if (h < 0) return InvalidArgument("invalid escape sequence");
          v = v * 16 + static_cast<uint32_t>(h);
        }
        i += n;
        if (e == 'x') {
          out += static_cast<char>(v);
        } else {
          AppendUtf8(out, v);
        }
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          if (i + 2 >= body.size()) return InvalidArgument("invalid escape sequence");
          uint32_t v = 0;
          for (size_t k = 0; k < 3; ++k) {
            char d = body[i + k];
            if (d < '0' || d > '7') return InvalidArgument("invalid escape sequence");
            v = v * 8 + static_cast<uint32_t>(d - '0');
          }
          if (v > 255) return InvalidArgument("invalid escape sequence");
          out += static_cast<char>(v);
          i += 2;
          break;
        }
        return InvalidArgument(std::string("invalid escape sequence \\") + e);
    }
  }
  return out;
}

}  // namespace skiff::expr
