#include "viewer/legacy_heap.h"

#include <charconv>
#include <cmath>
#include <optional>
#include <regex>
#include <string>

#include "viewer/legacy_maps.h"
#include "viewer/legacy_symbolize.h"

namespace inprof::viewer {
namespace {

using internal::Profile;

constexpr size_t kMaxLineBytes = 64 << 10;  // pprof's line scanner limit

// Allocator entry points: pprof drops them (and everything they called) from
// heap stacks, so that a sample's leaf is the code that allocated.
constexpr char kAllocatorFrames[] =
    "calloc|cfree|malloc|free|memalign|do_memalign|(__)?posix_memalign|"
    "pvalloc|valloc|realloc|aligned_alloc|reallocarray|"
    "tcmalloc::.*|tc_calloc|tc_cfree|tc_malloc|tc_free|tc_memalign|"
    "tc_posix_memalign|tc_pvalloc|tc_valloc|tc_realloc|tc_new|tc_delete|"
    "tc_newarray|tc_deletearray|tc_new_nothrow|tc_newarray_nothrow|"
    "tc_malloc_skip_new_handler|__libc_(malloc|calloc|realloc|free|memalign)|"
    "operator new(\\[\\])?|operator delete(\\[\\])?|"
    "(::)?do_malloc.*|(::)?do_free.*|MallocHook::.*|"
    "TCMallocImplementation::.*|MallocExtension::.*|"
    "__gnu_cxx::new_allocator::allocate|std::__new_allocator::allocate";

enum class Sampling { kNone, kV2 };

struct Header {
  bool has_alloc = false;
  Sampling sampling = Sampling::kNone;
  int64_t period = 1;
};

const std::regex& HeapHeaderRe() {
  static const std::regex re(
      "heap profile: *([0-9]+): *([0-9]+) *\\[ *([0-9]+): *([0-9]+) *\\] *@ "
      "*(heap[_a-z0-9]*)/?([0-9]*)");
  return re;
}
const std::regex& OtherHeaderRe() {
  static const std::regex re(
      "heap profile: *([0-9]+): *([0-9]+) *\\[ *([0-9]+): *([0-9]+) *\\] @ "
      "(growthz?|fragmentationz?)");
  return re;
}
const std::regex& SampleRe() {
  static const std::regex re(
      "(-?[0-9]+): *(-?[0-9]+) *\\[ *([0-9]+): *([0-9]+) *\\] @([ x0-9a-f]*)");
  return re;
}

std::string_view FirstLine(std::string_view bytes) {
  return bytes.substr(0, std::min(bytes.find('\n'), size_t{1024}));
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

StatusOr<Header> ParseHeader(std::string_view line_view) {
  std::string line(line_view);
  std::smatch m;
  Header h;
  if (std::regex_search(line, m, HeapHeaderRe())) {
    std::string kind = m[5];
    int64_t rate = 0;
    std::string digits = m[6];
    if (!digits.empty()) {
      auto [end, ec] =
          std::from_chars(digits.data(), digits.data() + digits.size(), rate);
      if (ec != std::errc()) {
        return InvalidArgumentError("sampling rate " + digits +
                                    " out of range in the header");
      }
    }
    if (kind == "heapz_v2" || kind == "heap_v2") {
      h.sampling = Sampling::kV2;
      h.period = rate;
    } else if (kind == "heapprofile") {
      h.period = 1;
    } else if (kind == "heap") {
      h.sampling = Sampling::kV2;
      h.period = rate / 2;
    } else {
      return InvalidArgumentError("unknown heap profile kind \"" + kind +
                                  "\" in the header");
    }
  } else if (!std::regex_search(line, m, OtherHeaderRe())) {
    return InvalidArgumentError("not a heap profile header: " + line);
  }
  h.has_alloc = (m[3] != m[1] && m[3] != "0") || (m[4] != m[2] && m[4] != "0");
  return h;
}

// pprof scaleHeapSample: a sampled object of size s was kept with probability
// 1 - exp(-s/rate). nullopt when the estimate leaves int64's range.
std::optional<std::pair<int64_t, int64_t>> Unbias(int64_t count, int64_t size,
                                                  int64_t rate) {
  if (count == 0 || size == 0) return std::pair<int64_t, int64_t>{0, 0};
  if (rate <= 1) return std::pair{count, size};
  double avg = static_cast<double>(size) / static_cast<double>(count);
  double scale = 1 / (1 - std::exp(-avg / static_cast<double>(rate)));
  double c = static_cast<double>(count) * scale;
  double s = static_cast<double>(size) * scale;
  if (!(std::fabs(c) < 0x1p62 && std::fabs(s) < 0x1p62)) return std::nullopt;
  return std::pair{static_cast<int64_t>(c), static_cast<int64_t>(s)};
}

std::optional<int64_t> ParseInt(const std::string& text) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return v;
}

class HeapParser {
 public:
  HeapParser(const Header& header, Profile* p)
      : header_(header), profile_(*p), locations_(p) {}

  Status ParseSample(const std::string& line, size_t line_number) {
    std::smatch m;
    std::string where = "line " + std::to_string(line_number);
    if (!std::regex_search(line, m, SampleRe())) {
      return InvalidArgumentError(where +
                                  ": not a heap sample: " + line.substr(0, 60));
    }
    internal::Sample sample;
    int64_t block_size = 0;
    std::pair<int, const char*> pairs[2] = {{3, "allocation"}, {1, "inuse"}};
    for (const auto& [group, label] : pairs) {
      if (group == 3 && !header_.has_alloc) continue;
      std::optional<int64_t> count = ParseInt(m[group]);
      std::optional<int64_t> size = ParseInt(m[group + 1]);
      if (!count || !size) {
        return InvalidArgumentError(where + ": number out of range");
      }
      if (*count == 0 && *size != 0) {
        return InvalidArgumentError(where + ": " + label + " count was 0 but " +
                                    label + " bytes was " +
                                    std::to_string(*size));
      }
      if (*count != 0) {
        block_size = *size / *count;
        if (header_.sampling == Sampling::kV2) {
          auto unbiased = Unbias(*count, *size, header_.period);
          if (!unbiased) {
            return InvalidArgumentError(where + ": " + label +
                                        " values out of range once unbiased");
          }
          std::tie(*count, *size) = *unbiased;
        }
      }
      sample.values.push_back(*count);
      sample.values.push_back(*size);
    }
    sample.labels.push_back({"bytes", "", block_size, ""});
    Status s = AddFrames(m[5], where, &sample);
    if (!s.ok()) return s;
    profile_.samples.push_back(std::move(sample));
    return OkStatus();
  }

 private:
  Status AddFrames(const std::string& text, const std::string& where,
                   internal::Sample* sample) {
    size_t at = 0;
    while ((at = text.find("0x", at)) != std::string::npos) {
      size_t end = text.find_first_not_of("0123456789abcdef", at + 2);
      if (end == std::string::npos) end = text.size();
      std::string digits = text.substr(at + 2, end - at - 2);
      at = end;
      if (digits.empty()) continue;
      uint64_t address = 0;
      auto [stop, ec] = std::from_chars(
          digits.data(), digits.data() + digits.size(), address, 16);
      if (ec != std::errc()) {
        return InvalidArgumentError(where + ": address 0x" + digits +
                                    " is not a 64-bit number");
      }
      // Every frame, the leaf too, is a return address into its caller.
      address -= 1;
      sample->location_ids.push_back(locations_.IdOf(address));
    }
    return OkStatus();
  }

  const Header& header_;
  Profile& profile_;
  LegacyLocations locations_;
};

}  // namespace

bool IsLegacyHeapProfile(std::string_view bytes) {
  return FirstLine(bytes).find("heap profile:") != std::string_view::npos;
}

StatusOr<Profile> ParseLegacyHeapProfile(std::string_view bytes,
                                         bool symbolize) {
  StatusOr<Header> header = ParseHeader(FirstLine(bytes));
  if (!header.ok()) return header.status();
  Profile p;
  p.period = header->period;
  p.period_type = {"space", "bytes"};
  if (header->has_alloc) {
    p.sample_types = {{"alloc_objects", "count"},
                      {"alloc_space", "bytes"},
                      {"inuse_objects", "count"},
                      {"inuse_space", "bytes"}};
  } else {
    p.sample_types = {{"objects", "count"}, {"space", "bytes"}};
  }
  p.drop_frames = kAllocatorFrames;
  HeapParser parser(*header, &p);
  size_t pos = bytes.find('\n');
  pos = pos == std::string_view::npos ? bytes.size() : pos + 1;
  std::string_view maps;
  for (size_t line_number = 2; pos < bytes.size(); ++line_number) {
    size_t eol = bytes.find('\n', pos);
    if (eol == std::string_view::npos) eol = bytes.size();
    if (eol - pos > kMaxLineBytes) {
      return InvalidArgumentError("line " + std::to_string(line_number) +
                                  " is longer than 64 KiB");
    }
    std::string line = Trim(bytes.substr(pos, eol - pos));
    if (line.find("MAPPED_LIBRARIES:") != std::string::npos ||
        line.find("--- Memory map: ---") != std::string::npos) {
      maps = bytes.substr(std::min(eol + 1, bytes.size()));
      break;
    }
    pos = eol + 1;
    if (line.empty() || line[0] == '#') continue;
    Status s = parser.ParseSample(line, line_number);
    if (!s.ok()) return s;
  }
  AttachLegacyMappings(maps, &p);
  if (symbolize) SymbolizeLegacyProfile(&p);
  return p;
}

}  // namespace inprof::viewer
