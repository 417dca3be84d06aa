// JSON string literals for the agent's small hand-written JSON answers
// (/debug/allocator, /debug/pools).
#ifndef INPROF_AGENT_BASE_JSON_STRING_H_
#define INPROF_AGENT_BASE_JSON_STRING_H_

#include <cstdio>
#include <string>
#include <string_view>

namespace inprof::internal {

// `text` quoted, with '"', '\\' and control characters escaped.
inline std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace inprof::internal

#endif  // INPROF_AGENT_BASE_JSON_STRING_H_
