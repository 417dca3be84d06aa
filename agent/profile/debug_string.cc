#include "agent/profile/debug_string.h"

#include <cinttypes>
#include <cstdio>
#include <string_view>

namespace inprof::internal {
namespace {

// Quotes `s`, escaping quotes, backslashes and non-printable bytes, so that
// invalid UTF-8 and control characters show up in diffs.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
  return buf;
}

std::string ValueTypeString(const ValueType& vt) {
  return Quote(vt.type) + " " + Quote(vt.unit);
}

template <typename T>
std::string Join(const std::vector<T>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ' ';
    out += std::to_string(values[i]);
  }
  return out + "]";
}

std::string SampleString(const Sample& s) {
  std::string out = "sample: locations=" + Join(s.location_ids) +
                    " values=" + Join(s.values) + " labels={";
  for (size_t i = 0; i < s.labels.size(); ++i) {
    const Label& l = s.labels[i];
    if (i > 0) out += ", ";
    out += Quote(l.key) + ":" + Quote(l.str) + "/" + std::to_string(l.num) +
           Quote(l.num_unit);
  }
  return out + "}\n";
}

std::string MappingString(const Mapping& m) {
  return "mapping " + std::to_string(m.id) + ": " + Hex(m.memory_start) + "-" +
         Hex(m.memory_limit) + " offset=" + Hex(m.file_offset) + " " +
         Quote(m.filename) + " build_id=" + Quote(m.build_id) +
         " flags=" + (m.has_functions ? "F" : "-") +
         (m.has_filenames ? "f" : "-") + (m.has_line_numbers ? "l" : "-") +
         (m.has_inline_frames ? "i" : "-") + "\n";
}

std::string LocationString(const Location& loc) {
  std::string out = "location " + std::to_string(loc.id) +
                    ": mapping=" + std::to_string(loc.mapping_id) +
                    " address=" + Hex(loc.address) + " lines=[";
  for (size_t i = 0; i < loc.lines.size(); ++i) {
    const Line& l = loc.lines[i];
    if (i > 0) out += ' ';
    out += std::to_string(l.function_id) + ":" + std::to_string(l.line) + ":" +
           std::to_string(l.column);
  }
  return out + "]" + (loc.is_folded ? " folded" : "") + "\n";
}

std::string FunctionString(const Function& f) {
  return "function " + std::to_string(f.id) + ": " + Quote(f.name) + " " +
         Quote(f.system_name) + " " + Quote(f.filename) + ":" +
         std::to_string(f.start_line) + "\n";
}

}  // namespace

std::string ProfileDebugString(const Profile& p) {
  std::string out;
  for (const ValueType& vt : p.sample_types) {
    out += "sample_type: " + ValueTypeString(vt) + "\n";
  }
  out += "default_sample_type: " + Quote(p.default_sample_type) + "\n";
  out += "time_nanos: " + std::to_string(p.time_nanos) +
         " duration_nanos: " + std::to_string(p.duration_nanos) + "\n";
  out += "period: " + std::to_string(p.period) + " " +
         ValueTypeString(p.period_type) + "\n";
  out += "drop_frames: " + Quote(p.drop_frames) +
         " keep_frames: " + Quote(p.keep_frames) + "\n";
  out += "doc_url: " + Quote(p.doc_url) + "\n";
  for (const std::string& c : p.comments) out += "comment: " + Quote(c) + "\n";
  for (const Sample& s : p.samples) out += SampleString(s);
  for (const Mapping& m : p.mappings) out += MappingString(m);
  for (const Location& l : p.locations) out += LocationString(l);
  for (const Function& f : p.functions) out += FunctionString(f);
  return out;
}

}  // namespace inprof::internal
