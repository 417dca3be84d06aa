#include "viewer/legacy_cpu.h"

#include <optional>
#include <string>
#include <unordered_map>

#include "viewer/legacy_maps.h"
#include "viewer/legacy_symbolize.h"

namespace inprof::viewer {
namespace {

using internal::Profile;

// A machine word of the writing process: 4 or 8 bytes, either byte order.
struct WordFormat {
  size_t size;
  bool big_endian;

  uint64_t Read(std::string_view bytes, size_t pos) const {
    uint64_t v = 0;
    for (size_t i = 0; i < size; ++i) {
      size_t at = big_endian ? i : size - 1 - i;
      v = (v << 8) | static_cast<unsigned char>(bytes[pos + at]);
    }
    return v;
  }
};

// pprof tries 32-bit little, 32-bit big, 64-bit little, 64-bit big endian
// and keeps the first whose five header words read 0, 3, 0, period > 0, 0.
std::optional<WordFormat> DetectFormat(std::string_view bytes) {
  for (WordFormat f : {WordFormat{4, false}, WordFormat{4, true},
                       WordFormat{8, false}, WordFormat{8, true}}) {
    if (bytes.size() < 5 * f.size) continue;
    uint64_t w[5];
    for (size_t i = 0; i < 5; ++i) w[i] = f.Read(bytes, i * f.size);
    if (w[0] == 0 && w[1] == 3 && w[2] == 0 && w[3] > 0 && w[4] == 0) {
      return f;
    }
  }
  return std::nullopt;
}

// pprof legacy_profile.go cpuProfile: when nearly all samples (all but one
// in 32) share their second frame, it is the signal handler's, not the
// program's: drop it, at most twice.
void RemoveSharedSecondFrames(Profile* p) {
  size_t margin = p->samples.size() / 32;
  for (int iter = 0; iter < 2; ++iter) {
    std::unordered_map<uint64_t, size_t> counts;
    for (const internal::Sample& s : p->samples) {
      if (s.location_ids.size() > 1) ++counts[s.location_ids[1]];
    }
    for (const auto& [id, count] : counts) {
      if (count < p->samples.size() - margin) continue;
      for (internal::Sample& s : p->samples) {
        if (s.location_ids.size() > 1 && s.location_ids[1] == id) {
          s.location_ids.erase(s.location_ids.begin() + 1);
        }
      }
      break;
    }
  }
}

// The profile handler may record the leaf twice (from the signal context and
// from unwinding); the copy was moved back one byte.
void RemoveDuplicatedLeaves(Profile* p) {
  for (internal::Sample& s : p->samples) {
    if (s.location_ids.size() < 2) continue;
    uint64_t leaf = p->locations[s.location_ids[0] - 1].address;
    uint64_t next = p->locations[s.location_ids[1] - 1].address;
    if (leaf == next + 1) s.location_ids.erase(s.location_ids.begin() + 1);
  }
}

}  // namespace

bool IsLegacyCpuProfile(std::string_view bytes) {
  return DetectFormat(bytes).has_value();
}

StatusOr<Profile> ParseLegacyCpuProfile(std::string_view bytes,
                                        bool symbolize) {
  std::optional<WordFormat> format = DetectFormat(bytes);
  if (!format) return InvalidArgumentError("not a gperftools CPU profile");
  const size_t word = format->size;
  Profile p;
  uint64_t period_us = format->Read(bytes, 3 * word);
  if (period_us > (uint64_t{1} << 40)) {
    return InvalidArgumentError("sampling period of " +
                                std::to_string(period_us) +
                                " microseconds is out of range");
  }
  p.period = static_cast<int64_t>(period_us) * 1000;
  p.period_type = {"cpu", "nanoseconds"};
  p.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  p.drop_frames =
      "ProfileData::Add|ProfileData::prof_handler|CpuProfiler::prof_handler|"
      "__pthread_sighandler|__restore";

  LegacyLocations locations(&p);
  size_t pos = 5 * word;
  bool ended = false;
  while (pos < bytes.size()) {
    if (bytes.size() - pos < 2 * word) {
      return InvalidArgumentError("truncated sample record at byte " +
                                  std::to_string(pos));
    }
    uint64_t count = format->Read(bytes, pos);
    uint64_t depth = format->Read(bytes, pos + word);
    size_t record = pos;
    pos += 2 * word;
    if (depth > (bytes.size() - pos) / word) {
      return InvalidArgumentError(
          "sample record at byte " + std::to_string(record) + " declares " +
          std::to_string(depth) + " frames, more than the file holds");
    }
    if (count == 0 && depth == 1 && format->Read(bytes, pos) == 0) {
      pos += word;
      ended = true;
      break;
    }
    int64_t nanos = 0;
    if (count > (uint64_t{1} << 40) ||
        __builtin_mul_overflow(static_cast<int64_t>(count), p.period, &nanos)) {
      return InvalidArgumentError(
          "sample record at byte " + std::to_string(record) + " counts " +
          std::to_string(count) + " samples: out of range");
    }
    internal::Sample sample;
    sample.values = {static_cast<int64_t>(count), nanos};
    for (uint64_t i = 0; i < depth; ++i, pos += word) {
      uint64_t address = format->Read(bytes, pos);
      // Return addresses point after the call; the leaf is the signal PC.
      if (i > 0) address -= 1;
      sample.location_ids.push_back(locations.IdOf(address));
    }
    p.samples.push_back(std::move(sample));
  }
  RemoveSharedSecondFrames(&p);
  // No end marker, no map: every address then gets the catch-all mapping.
  AttachLegacyMappings(ended ? bytes.substr(pos) : std::string_view(), &p);
  RemoveDuplicatedLeaves(&p);
  if (symbolize) SymbolizeLegacyProfile(&p);
  return p;
}

}  // namespace inprof::viewer
