#include "agent/profile/utf8_validate.h"

#include <cstdint>

namespace inprof::internal {
namespace {

// Length of the sequence a lead byte starts (0: not a lead byte), and the
// allowed range of the second byte (Unicode 15, Table 3-7), which is what
// excludes overlongs, surrogates and values above U+10FFFF.
struct LeadInfo {
  int length;
  uint8_t lo;
  uint8_t hi;
};

LeadInfo Lead(uint8_t b) {
  if (b < 0x80) return {1, 0, 0};
  if (b < 0xc2) return {0, 0, 0};  // Continuation byte or overlong C0/C1.
  if (b < 0xe0) return {2, 0x80, 0xbf};
  if (b == 0xe0) return {3, 0xa0, 0xbf};
  if (b == 0xed) return {3, 0x80, 0x9f};
  if (b < 0xf0) return {3, 0x80, 0xbf};
  if (b == 0xf0) return {4, 0x90, 0xbf};
  if (b < 0xf4) return {4, 0x80, 0xbf};
  if (b == 0xf4) return {4, 0x80, 0x8f};
  return {0, 0, 0};
}

}  // namespace

size_t FindInvalidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    LeadInfo lead = Lead(static_cast<uint8_t>(s[i]));
    if (lead.length == 1) {
      ++i;
      continue;
    }
    if (lead.length == 0 || s.size() - i < static_cast<size_t>(lead.length)) {
      return i;
    }
    uint8_t second = static_cast<uint8_t>(s[i + 1]);
    if (second < lead.lo || second > lead.hi) return i;
    for (int k = 2; k < lead.length; ++k) {
      uint8_t b = static_cast<uint8_t>(s[i + k]);
      if (b < 0x80 || b > 0xbf) return i;
    }
    i += lead.length;
  }
  return std::string_view::npos;
}

}  // namespace inprof::internal
