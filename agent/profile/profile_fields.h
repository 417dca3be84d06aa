// Field numbers of pprof's proto/profile.proto (package perftools.profiles),
// one nested struct per message, each constant commented with its proto
// type. Every "string" field is an int64 index into Profile.string_table.
// Shared by the encoder and the decoder so that they cannot disagree.
// pprof-spec.md §2.1.
#ifndef INPROF_AGENT_PROFILE_PROFILE_FIELDS_H_
#define INPROF_AGENT_PROFILE_PROFILE_FIELDS_H_

namespace inprof::internal {

struct ProfileField {
  static constexpr int kSampleType = 1;      // repeated ValueType
  static constexpr int kSample = 2;          // repeated Sample
  static constexpr int kMapping = 3;         // repeated Mapping
  static constexpr int kLocation = 4;        // repeated Location
  static constexpr int kFunction = 5;        // repeated Function
  static constexpr int kStringTable = 6;     // repeated string
  static constexpr int kDropFrames = 7;      // int64 (string index)
  static constexpr int kKeepFrames = 8;      // int64 (string index)
  static constexpr int kTimeNanos = 9;       // int64
  static constexpr int kDurationNanos = 10;  // int64
  static constexpr int kPeriodType = 11;     // ValueType
  static constexpr int kPeriod = 12;         // int64
  static constexpr int kComment = 13;        // repeated int64 (string index)
  static constexpr int kDefaultSampleType = 14;  // int64 (string index)
  static constexpr int kDocUrl = 15;             // int64 (string index)
};

struct ValueTypeField {
  static constexpr int kType = 1;  // int64 (string index)
  static constexpr int kUnit = 2;  // int64 (string index)
};

struct SampleField {
  static constexpr int kLocationId = 1;  // repeated uint64, leaf first
  static constexpr int kValue = 2;       // repeated int64
  static constexpr int kLabel = 3;       // repeated Label
};

struct LabelField {
  static constexpr int kKey = 1;      // int64 (string index)
  static constexpr int kStr = 2;      // int64 (string index)
  static constexpr int kNum = 3;      // int64
  static constexpr int kNumUnit = 4;  // int64 (string index)
};

struct MappingField {
  static constexpr int kId = 1;                // uint64
  static constexpr int kMemoryStart = 2;       // uint64
  static constexpr int kMemoryLimit = 3;       // uint64
  static constexpr int kFileOffset = 4;        // uint64
  static constexpr int kFilename = 5;          // int64 (string index)
  static constexpr int kBuildId = 6;           // int64 (string index)
  static constexpr int kHasFunctions = 7;      // bool
  static constexpr int kHasFilenames = 8;      // bool
  static constexpr int kHasLineNumbers = 9;    // bool
  static constexpr int kHasInlineFrames = 10;  // bool
};

struct LocationField {
  static constexpr int kId = 1;         // uint64
  static constexpr int kMappingId = 2;  // uint64
  static constexpr int kAddress = 3;    // uint64
  static constexpr int kLine = 4;       // repeated Line, innermost first
  static constexpr int kIsFolded = 5;   // bool
};

struct LineField {
  static constexpr int kFunctionId = 1;  // uint64
  static constexpr int kLine = 2;        // int64
  static constexpr int kColumn = 3;      // int64
};

struct FunctionField {
  static constexpr int kId = 1;          // uint64
  static constexpr int kName = 2;        // int64 (string index)
  static constexpr int kSystemName = 3;  // int64 (string index)
  static constexpr int kFilename = 4;    // int64 (string index)
  static constexpr int kStartLine = 5;   // int64
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_PROFILE_PROFILE_FIELDS_H_
