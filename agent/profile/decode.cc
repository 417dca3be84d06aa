#include "agent/profile/decode.h"

#include <cstdint>
#include <string>
#include <utility>

#include "agent/base/status_macros.h"
#include "agent/profile/gzip.h"
#include "agent/profile/profile_fields.h"
#include "agent/profile/proto_reader.h"

namespace inprof::internal {
namespace {

std::string At(const ProtoField& f) {
  return " at offset " + std::to_string(f.offset);
}

// google/pprof profile/proto.go checkType: a known field on a different wire
// type than its declaration is an error ("type mismatch"), not skipped.
Status WantType(const ProtoField& f, WireType want, std::string_view name) {
  if (f.wire_type == want) return OkStatus();
  return InvalidArgumentError(
      "wire-type mismatch for " + std::string(name) + " (field " +
      std::to_string(f.number) + "): got " +
      std::to_string(static_cast<int>(f.wire_type)) + ", want " +
      std::to_string(static_cast<int>(want)) + At(f));
}

template <typename T>
Status GetVarint(const ProtoField& f, std::string_view name, T* out) {
  INPROF_RETURN_IF_ERROR(WantType(f, WireType::kVarint, name));
  *out = static_cast<T>(f.varint);
  return OkStatus();
}

// Repeated scalar: one unpacked varint, or a packed run of them.
template <typename T>
Status AppendVarints(const ProtoField& f, std::string_view name,
                     std::vector<T>* out) {
  if (f.wire_type == WireType::kVarint) {
    out->push_back(static_cast<T>(f.varint));
    return OkStatus();
  }
  INPROF_RETURN_IF_ERROR(WantType(f, WireType::kLengthDelimited, name));
  std::vector<uint64_t> values;
  INPROF_RETURN_IF_ERROR(AppendPackedVarints(f.bytes, f.offset, &values));
  for (uint64_t v : values) out->push_back(static_cast<T>(v));
  return OkStatus();
}

// Calls fn(field) for each field of the nested message in `msg`.
template <typename Fn>
Status ForEachField(const ProtoField& msg, std::string_view name, Fn&& fn) {
  INPROF_RETURN_IF_ERROR(WantType(msg, WireType::kLengthDelimited, name));
  ProtoReader reader(msg.bytes, msg.offset);
  ProtoField f;
  while (!reader.done()) {
    INPROF_RETURN_IF_ERROR(reader.Next(&f));
    INPROF_RETURN_IF_ERROR(fn(f));
  }
  return OkStatus();
}

class Decoder {
 public:
  explicit Decoder(DecodedProfile* out) : out_(*out), p_(out->profile) {}

  Status Run(std::string_view raw);

 private:
  Status CollectStrings(std::string_view raw);
  Status TopLevelField(const ProtoField& f);
  Status Scalar(const ProtoField& f);
  Status Str(const ProtoField& f, std::string_view name, std::string* out);
  Status DecodeValueType(const ProtoField& f, ValueType* vt);
  Status DecodeSample(const ProtoField& f);
  Status DecodeLabel(const ProtoField& f, Label* label);
  Status DecodeMapping(const ProtoField& f);
  Status DecodeLocation(const ProtoField& f);
  Status DecodeLine(const ProtoField& f, Line* line);
  Status DecodeFunction(const ProtoField& f);

  DecodedProfile& out_;
  Profile& p_;
  bool seen_time_ = false;
};

Status Decoder::Str(const ProtoField& f, std::string_view name,
                    std::string* out) {
  int64_t index = 0;
  INPROF_RETURN_IF_ERROR(GetVarint(f, name, &index));
  const std::vector<std::string>& table = out_.string_table;
  if (index == 0 && table.empty()) {  // Lenient; ValidateEncoded is not.
    out->clear();
    return OkStatus();
  }
  if (index < 0 || static_cast<uint64_t>(index) >= table.size()) {
    return InvalidArgumentError(std::string(name) + ": string index " +
                                std::to_string(index) +
                                " out of range (table has " +
                                std::to_string(table.size()) + ")" + At(f));
  }
  *out = table[index];
  return OkStatus();
}

Status Decoder::DecodeValueType(const ProtoField& f, ValueType* vt) {
  return ForEachField(f, "ValueType", [&](const ProtoField& g) {
    switch (g.number) {
      case ValueTypeField::kType:
        return Str(g, "ValueType.type", &vt->type);
      case ValueTypeField::kUnit:
        return Str(g, "ValueType.unit", &vt->unit);
    }
    return OkStatus();
  });
}

Status Decoder::DecodeLabel(const ProtoField& f, Label* label) {
  return ForEachField(f, "Label", [&](const ProtoField& g) {
    switch (g.number) {
      case LabelField::kKey:
        return Str(g, "Label.key", &label->key);
      case LabelField::kStr:
        return Str(g, "Label.str", &label->str);
      case LabelField::kNum:
        return GetVarint(g, "Label.num", &label->num);
      case LabelField::kNumUnit:
        return Str(g, "Label.num_unit", &label->num_unit);
    }
    return OkStatus();
  });
}

Status Decoder::DecodeSample(const ProtoField& f) {
  Sample& s = p_.samples.emplace_back();
  return ForEachField(f, "Sample", [&](const ProtoField& g) {
    switch (g.number) {
      case SampleField::kLocationId:
        return AppendVarints(g, "Sample.location_id", &s.location_ids);
      case SampleField::kValue:
        return AppendVarints(g, "Sample.value", &s.values);
      case SampleField::kLabel:
        return DecodeLabel(g, &s.labels.emplace_back());
    }
    return OkStatus();
  });
}

Status Decoder::DecodeMapping(const ProtoField& f) {
  Mapping& m = p_.mappings.emplace_back();
  return ForEachField(f, "Mapping", [&](const ProtoField& g) {
    switch (g.number) {
      case MappingField::kId:
        return GetVarint(g, "Mapping.id", &m.id);
      case MappingField::kMemoryStart:
        return GetVarint(g, "Mapping.memory_start", &m.memory_start);
      case MappingField::kMemoryLimit:
        return GetVarint(g, "Mapping.memory_limit", &m.memory_limit);
      case MappingField::kFileOffset:
        return GetVarint(g, "Mapping.file_offset", &m.file_offset);
      case MappingField::kFilename:
        return Str(g, "Mapping.filename", &m.filename);
      case MappingField::kBuildId:
        return Str(g, "Mapping.build_id", &m.build_id);
      case MappingField::kHasFunctions:
        return GetVarint(g, "Mapping.has_functions", &m.has_functions);
      case MappingField::kHasFilenames:
        return GetVarint(g, "Mapping.has_filenames", &m.has_filenames);
      case MappingField::kHasLineNumbers:
        return GetVarint(g, "Mapping.has_line_numbers", &m.has_line_numbers);
      case MappingField::kHasInlineFrames:
        return GetVarint(g, "Mapping.has_inline_frames", &m.has_inline_frames);
    }
    return OkStatus();
  });
}

Status Decoder::DecodeLine(const ProtoField& f, Line* line) {
  return ForEachField(f, "Line", [&](const ProtoField& g) {
    switch (g.number) {
      case LineField::kFunctionId:
        return GetVarint(g, "Line.function_id", &line->function_id);
      case LineField::kLine:
        return GetVarint(g, "Line.line", &line->line);
      case LineField::kColumn:
        return GetVarint(g, "Line.column", &line->column);
    }
    return OkStatus();
  });
}

Status Decoder::DecodeLocation(const ProtoField& f) {
  Location& loc = p_.locations.emplace_back();
  return ForEachField(f, "Location", [&](const ProtoField& g) {
    switch (g.number) {
      case LocationField::kId:
        return GetVarint(g, "Location.id", &loc.id);
      case LocationField::kMappingId:
        return GetVarint(g, "Location.mapping_id", &loc.mapping_id);
      case LocationField::kAddress:
        return GetVarint(g, "Location.address", &loc.address);
      case LocationField::kLine:
        return DecodeLine(g, &loc.lines.emplace_back());
      case LocationField::kIsFolded:
        return GetVarint(g, "Location.is_folded", &loc.is_folded);
    }
    return OkStatus();
  });
}

Status Decoder::DecodeFunction(const ProtoField& f) {
  Function& fn = p_.functions.emplace_back();
  return ForEachField(f, "Function", [&](const ProtoField& g) {
    switch (g.number) {
      case FunctionField::kId:
        return GetVarint(g, "Function.id", &fn.id);
      case FunctionField::kName:
        return Str(g, "Function.name", &fn.name);
      case FunctionField::kSystemName:
        return Str(g, "Function.system_name", &fn.system_name);
      case FunctionField::kFilename:
        return Str(g, "Function.filename", &fn.filename);
      case FunctionField::kStartLine:
        return GetVarint(g, "Function.start_line", &fn.start_line);
    }
    return OkStatus();
  });
}

// Profile's scalar (non-message) fields.
Status Decoder::Scalar(const ProtoField& f) {
  switch (f.number) {
    case ProfileField::kDropFrames:
      return Str(f, "Profile.drop_frames", &p_.drop_frames);
    case ProfileField::kKeepFrames:
      return Str(f, "Profile.keep_frames", &p_.keep_frames);
    case ProfileField::kTimeNanos:
      // google/pprof encode.go: a second time_nanos means two profiles were
      // concatenated, which no reader can make sense of.
      if (seen_time_) {
        return InvalidArgumentError(
            "concatenated profiles detected (second time_nanos" + At(f) + ")");
      }
      seen_time_ = true;
      return GetVarint(f, "Profile.time_nanos", &p_.time_nanos);
    case ProfileField::kDurationNanos:
      return GetVarint(f, "Profile.duration_nanos", &p_.duration_nanos);
    case ProfileField::kPeriod:
      return GetVarint(f, "Profile.period", &p_.period);
    case ProfileField::kDefaultSampleType:
      return Str(f, "Profile.default_sample_type", &p_.default_sample_type);
    case ProfileField::kDocUrl:
      return Str(f, "Profile.doc_url", &p_.doc_url);
  }
  return OkStatus();  // Unknown field: skipped.
}

Status Decoder::TopLevelField(const ProtoField& f) {
  switch (f.number) {
    case ProfileField::kSampleType:
      return DecodeValueType(f, &p_.sample_types.emplace_back());
    case ProfileField::kSample:
      return DecodeSample(f);
    case ProfileField::kMapping:
      return DecodeMapping(f);
    case ProfileField::kLocation:
      return DecodeLocation(f);
    case ProfileField::kFunction:
      return DecodeFunction(f);
    case ProfileField::kStringTable:
      return OkStatus();  // Read by CollectStrings.
    case ProfileField::kPeriodType:
      return DecodeValueType(f, &p_.period_type);
    case ProfileField::kComment: {
      std::vector<int64_t> indexes;
      INPROF_RETURN_IF_ERROR(AppendVarints(f, "Profile.comment", &indexes));
      for (int64_t index : indexes) {
        ProtoField one = f;
        one.wire_type = WireType::kVarint;
        one.varint = static_cast<uint64_t>(index);
        INPROF_RETURN_IF_ERROR(
            Str(one, "Profile.comment", &p_.comments.emplace_back()));
      }
      return OkStatus();
    }
  }
  return Scalar(f);
}

// The string table usually comes last (Go writes it last), so it is read in
// a first pass and every index is resolved in the second.
Status Decoder::CollectStrings(std::string_view raw) {
  ProtoReader reader(raw);
  ProtoField f;
  while (!reader.done()) {
    INPROF_RETURN_IF_ERROR(reader.Next(&f));
    if (f.number != ProfileField::kStringTable) continue;
    INPROF_RETURN_IF_ERROR(
        WantType(f, WireType::kLengthDelimited, "Profile.string_table"));
    out_.string_table.emplace_back(f.bytes);
  }
  if (!out_.string_table.empty() && !out_.string_table[0].empty()) {
    return InvalidArgumentError("string_table[0] must be '' (got \"" +
                                out_.string_table[0].substr(0, 40) + "\")");
  }
  return OkStatus();
}

Status Decoder::Run(std::string_view raw) {
  INPROF_RETURN_IF_ERROR(CollectStrings(raw));
  ProtoReader reader(raw);
  ProtoField f;
  while (!reader.done()) {
    INPROF_RETURN_IF_ERROR(reader.Next(&f));
    INPROF_RETURN_IF_ERROR(TopLevelField(f));
  }
  return OkStatus();
}

}  // namespace

StatusOr<DecodedProfile> DecodeProfileWithStringTable(std::string_view data) {
  if (data.empty()) return InvalidArgumentError("empty profile (0 bytes)");
  std::string inflated;
  if (IsGzip(data)) {
    StatusOr<std::string> raw = Gunzip(data);
    if (!raw.ok()) return raw.status();
    inflated = std::move(raw).value();
    data = inflated;
  }
  DecodedProfile out;
  INPROF_RETURN_IF_ERROR(Decoder(&out).Run(data));
  return out;
}

StatusOr<Profile> DecodeProfile(std::string_view data) {
  StatusOr<DecodedProfile> decoded = DecodeProfileWithStringTable(data);
  if (!decoded.ok()) return decoded.status();
  return std::move(decoded->profile);
}

}  // namespace inprof::internal

#undef INPROF_RETURN_IF_ERROR
