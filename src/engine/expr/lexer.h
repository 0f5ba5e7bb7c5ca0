// Tokenizer for expr-lang source, following upstream's lexer state machine: identifiers may
// hold letters, digits, `_` and `$`; `not`, `in`, `and`, `or`, `matches`, `contains`,
// `startsWith`, `endsWith` and `let` are operators; strings take Go escapes; `//` and `/* */`
// are comments. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skiff::expr {

enum class TokenKind { kEof, kIdentifier, kNumber, kString, kOperator, kBracket };

struct Token {
  TokenKind kind = TokenKind::kEof;
  std::string value;  // for strings, the unescaped text
  size_t pos = 0;     // byte offset in the source

  bool Is(TokenKind k) const { return kind == k; }
  bool Is(TokenKind k, std::string_view v) const { return kind == k && value == v; }
};

// "(line:column)" plus the source line and a caret under `pos`, as upstream prints locations.
std::string DescribeLocation(std::string_view source, size_t pos);

// An error whose message is `message` followed by the location of `pos` in `source`.
Status LocatedError(std::string_view source, size_t pos, std::string_view message);

// The last token is always kEof.
Result<std::vector<Token>> Lex(std::string_view source);

// Decodes Go string-literal escapes (\n \t \" \' \\ \xHH \uHHHH \UHHHHHHHH \ooo).
Result<std::string> UnescapeGoString(std::string_view body);

// Appends the UTF-8 encoding of `rune`.
void AppendUtf8(std::string& out, uint32_t rune);

}  // namespace skiff::expr
