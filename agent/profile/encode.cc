#include "agent/profile/encode.h"

#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/profile/gzip.h"
#include "agent/profile/profile_fields.h"
#include "agent/profile/proto_writer.h"

namespace inprof::internal {
namespace {

// Writes one Profile. Strings are interned as views into the profile being
// encoded, which outlives the encoder, so interning copies nothing.
class Encoder {
 public:
  explicit Encoder(const Profile& profile) : p_(profile) {
    Intern("");  // string_table[0] must be "" (profile.proto).
  }

  std::string Encode() &&;

 private:
  int64_t Intern(std::string_view s);
  void StringOpt(int tag, std::string_view s) { w_.Int64Opt(tag, Intern(s)); }

  void WriteValueType(int tag, const ValueType& vt);
  void WriteSample(const Sample& sample);
  void WriteLabel(const Label& label);
  void WriteMapping(const Mapping& m);
  void WriteLocation(const Location& loc);
  void WriteFunction(const Function& f);
  void WriteScalars();

  const Profile& p_;
  ProtoWriter w_;
  std::unordered_map<std::string_view, int64_t> index_;
  std::vector<std::string_view> strings_;
};

int64_t Encoder::Intern(std::string_view s) {
  auto [it, inserted] =
      index_.try_emplace(s, static_cast<int64_t>(strings_.size()));
  if (inserted) strings_.push_back(s);
  return it->second;
}

void Encoder::WriteValueType(int tag, const ValueType& vt) {
  size_t start = w_.StartMessage();
  StringOpt(ValueTypeField::kType, vt.type);
  StringOpt(ValueTypeField::kUnit, vt.unit);
  w_.EndMessage(tag, start);
}

void Encoder::WriteLabel(const Label& label) {
  size_t start = w_.StartMessage();
  StringOpt(LabelField::kKey, label.key);
  StringOpt(LabelField::kStr, label.str);
  w_.Int64Opt(LabelField::kNum, label.num);
  StringOpt(LabelField::kNumUnit, label.num_unit);
  w_.EndMessage(SampleField::kLabel, start);
}

void Encoder::WriteSample(const Sample& sample) {
  size_t start = w_.StartMessage();
  // Go writes the values before the location ids; order is free.
  w_.Int64s(SampleField::kValue, sample.values);
  w_.Uint64s(SampleField::kLocationId, sample.location_ids);
  for (const Label& label : sample.labels) WriteLabel(label);
  w_.EndMessage(ProfileField::kSample, start);
}

void Encoder::WriteMapping(const Mapping& m) {
  size_t start = w_.StartMessage();
  w_.Uint64Opt(MappingField::kId, m.id);
  w_.Uint64Opt(MappingField::kMemoryStart, m.memory_start);
  w_.Uint64Opt(MappingField::kMemoryLimit, m.memory_limit);
  w_.Uint64Opt(MappingField::kFileOffset, m.file_offset);
  StringOpt(MappingField::kFilename, m.filename);
  StringOpt(MappingField::kBuildId, m.build_id);
  w_.BoolOpt(MappingField::kHasFunctions, m.has_functions);
  w_.BoolOpt(MappingField::kHasFilenames, m.has_filenames);
  w_.BoolOpt(MappingField::kHasLineNumbers, m.has_line_numbers);
  w_.BoolOpt(MappingField::kHasInlineFrames, m.has_inline_frames);
  w_.EndMessage(ProfileField::kMapping, start);
}

void Encoder::WriteLocation(const Location& loc) {
  size_t start = w_.StartMessage();
  w_.Uint64Opt(LocationField::kId, loc.id);
  w_.Uint64Opt(LocationField::kMappingId, loc.mapping_id);
  w_.Uint64Opt(LocationField::kAddress, loc.address);
  for (const Line& line : loc.lines) {
    size_t line_start = w_.StartMessage();
    w_.Uint64Opt(LineField::kFunctionId, line.function_id);
    w_.Int64Opt(LineField::kLine, line.line);
    w_.Int64Opt(LineField::kColumn, line.column);
    w_.EndMessage(LocationField::kLine, line_start);
  }
  w_.BoolOpt(LocationField::kIsFolded, loc.is_folded);
  w_.EndMessage(ProfileField::kLocation, start);
}

void Encoder::WriteFunction(const Function& f) {
  size_t start = w_.StartMessage();
  w_.Uint64Opt(FunctionField::kId, f.id);
  StringOpt(FunctionField::kName, f.name);
  StringOpt(FunctionField::kSystemName, f.system_name);
  StringOpt(FunctionField::kFilename, f.filename);
  w_.Int64Opt(FunctionField::kStartLine, f.start_line);
  w_.EndMessage(ProfileField::kFunction, start);
}

void Encoder::WriteScalars() {
  StringOpt(ProfileField::kDropFrames, p_.drop_frames);
  StringOpt(ProfileField::kKeepFrames, p_.keep_frames);
  w_.Int64Opt(ProfileField::kTimeNanos, p_.time_nanos);
  w_.Int64Opt(ProfileField::kDurationNanos, p_.duration_nanos);
  if (!p_.period_type.type.empty() || !p_.period_type.unit.empty()) {
    WriteValueType(ProfileField::kPeriodType, p_.period_type);
  }
  w_.Int64Opt(ProfileField::kPeriod, p_.period);
  // Comments are repeated string indexes, packed beyond two like any
  // repeated scalar (google/pprof encode.go); an empty one keeps its place.
  std::vector<int64_t> comments;
  comments.reserve(p_.comments.size());
  for (const std::string& c : p_.comments) comments.push_back(Intern(c));
  w_.Int64s(ProfileField::kComment, comments);
  StringOpt(ProfileField::kDefaultSampleType, p_.default_sample_type);
  StringOpt(ProfileField::kDocUrl, p_.doc_url);
}

std::string Encoder::Encode() && {
  for (const ValueType& vt : p_.sample_types) {
    WriteValueType(ProfileField::kSampleType, vt);
  }
  for (const Sample& s : p_.samples) WriteSample(s);
  for (const Mapping& m : p_.mappings) WriteMapping(m);
  for (const Location& l : p_.locations) WriteLocation(l);
  for (const Function& f : p_.functions) WriteFunction(f);
  WriteScalars();
  // Last, as Go does: only now is every string interned.
  for (std::string_view s : strings_) w_.String(ProfileField::kStringTable, s);
  return std::move(w_).Finish();
}

}  // namespace

std::string EncodeProfile(const Profile& profile) {
  return Encoder(profile).Encode();
}

std::string SerializeProfile(const Profile& profile) {
  return Gzip(EncodeProfile(profile), kGzipBestSpeed);
}

}  // namespace inprof::internal
