// UTF-8 repair for strings that go into a profile's string table: protobuf
// `string` fields must be valid UTF-8, and Pyroscope rejects the whole
// profile otherwise (pprof-spec.md §4.3). Paths and symbol names are bytes.
//
// Thread safety: thread-safe.
#ifndef INPROF_AGENT_SYMBOLIZE_UTF8_H_
#define INPROF_AGENT_SYMBOLIZE_UTF8_H_

#include <string>
#include <string_view>

namespace inprof::internal {

// Returns `bytes` with every byte that is not part of a well-formed UTF-8
// sequence (overlongs, surrogates and code points above U+10FFFF included)
// replaced by U+FFFD. Valid input is returned unchanged.
std::string SanitizeUtf8(std::string_view bytes);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SYMBOLIZE_UTF8_H_
