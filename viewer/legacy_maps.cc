#include "viewer/legacy_maps.h"

#include <charconv>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace inprof::viewer {
namespace {

using internal::Mapping;

// pprof legacy_profile.go: procMapsRE (the kernel's format) and briefMapsRE
// ("start-end [perm] [file] [(@offset)] [buildid]").
const char kHex[] = "(?:0x)?([0-9a-fA-F]+)";
const std::regex& ProcMapsRe() {
  static const std::regex re(std::string("^\\s*") + kHex + "[\\s-]?\\s*" +
                             kHex +
                             ":?(?:\\s+([-rwxp]+))?(?:\\s+([0-9a-fA-F]+))?"
                             "\\s+[0-9a-fA-F]+:[0-9a-fA-F]+\\s+[0-9]+"
                             "(?:\\s+(\\S+))?");
  return re;
}
const std::regex& BriefMapsRe() {
  static const std::regex re(
      std::string("^\\s*") + kHex + "[\\s-]?\\s*" + kHex +
      ":?(?:\\s+([-rwxp]+))?(?:\\s+(\\S+))?(?:\\s+\\(@([0-9a-fA-F]+)\\))?"
      "(?:\\s+([0-9a-fA-F]+))?");
  return re;
}

std::optional<uint64_t> Hex(const std::string& text) {
  uint64_t v = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), v, 16);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return v;
}

// One line as a mapping; nullopt for lines pprof skips (not executable,
// unparsable).
std::optional<Mapping> ParseLine(const std::string& line) {
  std::smatch m;
  std::string perm, offset, file, build_id;
  if (std::regex_search(line, m, ProcMapsRe())) {
    perm = m[3];
    offset = m[4];
    file = m[5];
  } else if (std::regex_search(line, m, BriefMapsRe())) {
    perm = m[3];
    file = m[4];
    offset = m[5];
    build_id = m[6];
  } else {
    return std::nullopt;
  }
  if (!perm.empty() && perm.find('x') == std::string::npos) return std::nullopt;
  std::optional<uint64_t> start = Hex(m[1]);
  std::optional<uint64_t> limit = Hex(m[2]);
  std::optional<uint64_t> off =
      offset.empty() ? std::optional<uint64_t>(0) : Hex(offset);
  if (!start || !limit || !off) return std::nullopt;
  Mapping mapping;
  mapping.memory_start = *start;
  mapping.memory_limit = *limit;
  mapping.file_offset = *off;
  mapping.filename = file;
  mapping.build_id = build_id;
  return mapping;
}

bool Adjacent(const Mapping& a, const Mapping& b) {
  if (!a.filename.empty() && !b.filename.empty() && a.filename != b.filename) {
    return false;
  }
  if (!a.build_id.empty() && !b.build_id.empty() && a.build_id != b.build_id) {
    return false;
  }
  if (a.memory_limit != b.memory_start) return false;
  if (a.file_offset != 0 && b.file_offset != 0 &&
      a.file_offset + (a.memory_limit - a.memory_start) != b.file_offset) {
    return false;
  }
  return true;
}

bool IsLibrary(const std::string& file) {
  static const std::regex lib("([.]so$|[.]so[._][0-9]+)");
  return std::regex_search(file, lib);
}

std::vector<Mapping> Massage(std::vector<Mapping> parsed) {
  std::vector<Mapping> merged;
  for (Mapping& m : parsed) {
    if (!merged.empty() && Adjacent(merged.back(), m)) {
      Mapping& last = merged.back();
      last.memory_limit = m.memory_limit;
      if (!m.filename.empty()) last.filename = m.filename;
      if (!m.build_id.empty()) last.build_id = m.build_id;
      continue;
    }
    merged.push_back(std::move(m));
  }
  // The main binary: the first file that is not a library or a [special]
  // region, swapped (not moved) to the front.
  for (size_t i = 0; i < merged.size(); ++i) {
    std::string file = merged[i].filename;
    if (size_t d = file.find("(deleted)"); d != std::string::npos) {
      file.erase(d, 9);
    }
    while (!file.empty() && file.back() == ' ') file.pop_back();
    if (file.empty() || IsLibrary(file) || file[0] == '[') continue;
    std::swap(merged[0], merged[i]);
    break;
  }
  // Non-PIE executables linked at 0x400000.
  if (!merged.empty() &&
      merged[0].memory_start - merged[0].file_offset == 0x400000) {
    merged[0].memory_start = 0x400000;
    merged[0].file_offset = 0;
  }
  return merged;
}

}  // namespace

void AttachLegacyMappings(std::string_view maps, internal::Profile* profile) {
  std::vector<Mapping> parsed;
  while (!maps.empty()) {
    size_t eol = maps.find('\n');
    std::string line(maps.substr(0, eol));
    maps.remove_prefix(eol == std::string_view::npos ? maps.size() : eol + 1);
    if (line.size() > 1024) continue;  // no map line is this long
    if (std::optional<Mapping> m = ParseLine(line)) {
      parsed.push_back(std::move(*m));
    }
  }
  std::vector<Mapping> mappings = Massage(std::move(parsed));
  size_t fake = 0;  // 1 + index of the catch-all mapping, once added
  for (internal::Location& loc : profile->locations) {
    loc.mapping_id = 0;
    if (loc.address == 0) continue;
    for (size_t i = 0; i < mappings.size(); ++i) {
      if (mappings[i].memory_start <= loc.address &&
          loc.address < mappings[i].memory_limit) {
        loc.mapping_id = i + 1;
        break;
      }
    }
    if (loc.mapping_id != 0) continue;
    if (fake == 0) {
      Mapping all;
      all.memory_limit = ~uint64_t{0};
      mappings.push_back(all);
      fake = mappings.size();
    }
    loc.mapping_id = fake;
  }
  for (size_t i = 0; i < mappings.size(); ++i) mappings[i].id = i + 1;
  profile->mappings = std::move(mappings);
}

}  // namespace inprof::viewer
