#include "agent/labels/trace_parent.h"

namespace inprof::internal {
namespace {

// Field offsets in "vv-tttttttttttttttttttttttttttttttt-pppppppppppppppp-ff".
constexpr size_t kTraceIdAt = 3;
constexpr size_t kSpanIdAt = 36;
constexpr size_t kFlagsAt = 53;
constexpr size_t kVersion00Size = 55;

// The spec's HEXDIGLC: uppercase is not a valid id (it says so to keep ids
// comparable as strings), so it is rejected rather than folded.
int LowerHexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Decodes 2*size hex digits at text[at]; false on a non-HEXDIGLC.
bool DecodeHex(std::string_view text, size_t at, uint8_t* out, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    const int high = LowerHexDigit(text[at + 2 * i]);
    const int low = LowerHexDigit(text[at + 2 * i + 1]);
    if (high < 0 || low < 0) return false;
    out[i] = static_cast<uint8_t>(high << 4 | low);
  }
  return true;
}

bool AllZero(const uint8_t* bytes, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    if (bytes[i] != 0) return false;
  }
  return true;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

std::optional<TraceParent> ParseTraceParent(std::string_view header) noexcept {
  header = TrimOws(header);
  if (header.size() < kVersion00Size) return std::nullopt;
  uint8_t version = 0;
  if (!DecodeHex(header, 0, &version, 1) || version == 0xff) {
    return std::nullopt;
  }
  // Version 00 has exactly four fields; a later version may append fields
  // after a dash, and the spec asks to parse the four we know.
  if (version == 0
          ? header.size() != kVersion00Size
          : header.size() > kVersion00Size && header[kVersion00Size] != '-') {
    return std::nullopt;
  }
  if (header[kTraceIdAt - 1] != '-' || header[kSpanIdAt - 1] != '-' ||
      header[kFlagsAt - 1] != '-') {
    return std::nullopt;
  }
  TraceParent parsed;
  if (!DecodeHex(header, kTraceIdAt, parsed.trace_id, 16) ||
      !DecodeHex(header, kSpanIdAt, parsed.span_id, 8) ||
      !DecodeHex(header, kFlagsAt, &parsed.flags, 1)) {
    return std::nullopt;
  }
  if (AllZero(parsed.trace_id, 16) || AllZero(parsed.span_id, 8)) {
    return std::nullopt;
  }
  return parsed;
}

std::string LowerHex(const uint8_t* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * size, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

}  // namespace inprof::internal
