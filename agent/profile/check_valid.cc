#include "agent/profile/check_valid.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "agent/base/status_macros.h"
#include "agent/profile/decode.h"
#include "agent/profile/gzip.h"
#include "agent/profile/utf8_validate.h"

namespace inprof::internal {
namespace {

using std::to_string;

Status Invalid(std::string message) {
  return InvalidArgumentError(std::move(message));
}

Status CheckSampleTypes(const Profile& p) {
  if (!p.samples.empty() && p.sample_types.empty()) {
    return Invalid("profile has " + to_string(p.samples.size()) +
                   " samples but no sample_type");
  }
  for (size_t i = 0; i < p.sample_types.size(); ++i) {
    const std::string& type = p.sample_types[i].type;
    if (type.find('-') != std::string::npos) {
      return Invalid("sample_type[" + to_string(i) + "] type \"" + type +
                     "\" contains '-' (Pyroscope rejects it)");
    }
  }
  return OkStatus();
}

// Parca indexes table[id - 1], so ids must be exactly 1..N in order.
template <typename T>
Status CheckSequentialIds(const std::vector<T>& table, const char* what) {
  for (size_t i = 0; i < table.size(); ++i) {
    if (table[i].id != i + 1) {
      return Invalid(std::string(what) + "[" + to_string(i) + "] has id " +
                     to_string(table[i].id) + ", want " + to_string(i + 1) +
                     " (ids must be 1..N in order)");
    }
  }
  return OkStatus();
}

Status CheckLocations(const Profile& p) {
  for (const Location& loc : p.locations) {
    std::string where = "location " + to_string(loc.id);
    if (loc.mapping_id > p.mappings.size()) {
      return Invalid(where + ": mapping_id " + to_string(loc.mapping_id) +
                     " does not exist (profile has " +
                     to_string(p.mappings.size()) + " mappings)");
    }
    for (size_t i = 0; i < loc.lines.size(); ++i) {
      uint64_t fn = loc.lines[i].function_id;
      std::string line = where + ": line[" + to_string(i) + "]";
      if (fn == 0) return Invalid(line + " has function_id 0");
      if (fn > p.functions.size()) {
        return Invalid(line + ": function_id " + to_string(fn) +
                       " does not exist (profile has " +
                       to_string(p.functions.size()) + " functions)");
      }
    }
  }
  return OkStatus();
}

Status CheckSample(const Profile& p, size_t index) {
  const Sample& s = p.samples[index];
  std::string where = "sample[" + to_string(index) + "]";
  if (s.values.size() != p.sample_types.size()) {
    return Invalid(where + " has " + to_string(s.values.size()) +
                   " values, want " + to_string(p.sample_types.size()) +
                   " (one per sample_type)");
  }
  for (size_t i = 0; i < s.location_ids.size(); ++i) {
    uint64_t id = s.location_ids[i];
    if (id == 0 || id > p.locations.size()) {
      return Invalid(where + ": location_id[" + to_string(i) +
                     "] = " + to_string(id) + " does not exist (profile has " +
                     to_string(p.locations.size()) + " locations)");
    }
  }
  for (size_t i = 0; i < s.labels.size(); ++i) {
    if (s.labels[i].key.empty()) {
      return Invalid(where + ": label[" + to_string(i) + "] has an empty key");
    }
  }
  return OkStatus();
}

Status CheckStringTable(const std::vector<std::string>& table) {
  if (table.empty()) {
    return Invalid("string_table is empty (string_table[0] must be '')");
  }
  for (size_t i = 0; i < table.size(); ++i) {
    size_t bad = FindInvalidUtf8(table[i]);
    if (bad == std::string::npos) continue;
    char byte[8];
    std::snprintf(byte, sizeof(byte), "0x%02x",
                  static_cast<unsigned>(static_cast<uint8_t>(table[i][bad])));
    return Invalid("string_table[" + to_string(i) +
                   "] is not valid UTF-8 (byte " + byte + " at position " +
                   to_string(bad) + ")");
  }
  return OkStatus();
}

}  // namespace

Status CheckValid(const Profile& p) {
  INPROF_RETURN_IF_ERROR(CheckSampleTypes(p));
  INPROF_RETURN_IF_ERROR(CheckSequentialIds(p.mappings, "mapping"));
  INPROF_RETURN_IF_ERROR(CheckSequentialIds(p.locations, "location"));
  INPROF_RETURN_IF_ERROR(CheckSequentialIds(p.functions, "function"));
  INPROF_RETURN_IF_ERROR(CheckLocations(p));
  for (size_t i = 0; i < p.samples.size(); ++i) {
    INPROF_RETURN_IF_ERROR(CheckSample(p, i));
  }
  return OkStatus();
}

Status ValidateEncoded(std::string_view bytes) {
  if (!IsGzip(bytes)) {
    return Invalid("profile is not gzip-compressed (" +
                   to_string(bytes.size()) + " bytes without the magic 1f 8b)");
  }
  StatusOr<DecodedProfile> decoded = DecodeProfileWithStringTable(bytes);
  if (!decoded.ok()) return decoded.status();
  INPROF_RETURN_IF_ERROR(CheckStringTable(decoded->string_table));
  if (decoded->profile.time_nanos == 0) {
    return Invalid("time_nanos is not set");
  }
  return CheckValid(decoded->profile);
}

}  // namespace inprof::internal

#undef INPROF_RETURN_IF_ERROR
