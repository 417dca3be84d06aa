// A strict UTF-8 validator with Go's utf8.ValidString semantics: overlong
// forms, surrogates (U+D800..U+DFFF), code points above U+10FFFF and
// truncated sequences are invalid. Pyroscope rejects a whole profile over a
// single invalid string (pprof-spec.md §2.3), so the encoder's inputs and
// every emitted string table are checked with this.
//
// Thread safety: thread-safe. Async-signal-safe.
#ifndef INPROF_AGENT_PROFILE_UTF8_VALIDATE_H_
#define INPROF_AGENT_PROFILE_UTF8_VALIDATE_H_

#include <cstddef>
#include <string_view>

namespace inprof::internal {

// Returns the position of the first byte of the first invalid sequence in
// `s`, or std::string_view::npos if `s` is valid UTF-8.
size_t FindInvalidUtf8(std::string_view s);

inline bool IsValidUtf8(std::string_view s) {
  return FindInvalidUtf8(s) == std::string_view::npos;
}

}  // namespace inprof::internal

#endif  // INPROF_AGENT_PROFILE_UTF8_VALIDATE_H_
