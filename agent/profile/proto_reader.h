// ProtoReader walks the fields of one protocol-buffer message, bounds-checked
// at every step, so that garbage input yields a Status instead of a crash.
// Errors are one line and carry the byte offset in the outermost buffer
// (nested readers are given their message's offset), e.g.
// "truncated varint at offset 17".
//
// Example:
//
//   ProtoReader reader(bytes);
//   ProtoField field;
//   while (!reader.done()) {
//     if (Status s = reader.Next(&field); !s.ok()) return s;
//     switch (field.number) { ... }
//   }
//
#ifndef INPROF_AGENT_PROFILE_PROTO_READER_H_
#define INPROF_AGENT_PROFILE_PROTO_READER_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/profile/proto_writer.h"
#include "inprof/status.h"

namespace inprof::internal {

// One field as read from the wire. `bytes` views the reader's input.
struct ProtoField {
  int number = 0;
  WireType wire_type = WireType::kVarint;
  uint64_t varint = 0;     // value for kVarint, kFixed64 and kFixed32
  std::string_view bytes;  // payload for kLengthDelimited
  size_t offset = 0;       // of the payload, in the outermost buffer
};

// ProtoReader
//
// Ownership: views `data`, which must outlive the reader and its fields.
//
// Thread safety: thread-compatible.
class ProtoReader {
 public:
  // `base_offset` is the position of `data` in the outermost buffer, used
  // only in error messages.
  explicit ProtoReader(std::string_view data, size_t base_offset = 0)
      : data_(data), base_(base_offset) {}

  // True when every field has been read.
  bool done() const { return pos_ >= data_.size(); }

  // Reads the next field into `*field`. Fails with kInvalidArgument on a
  // truncated key or value, field number 0, or a group wire type (unused by
  // profile.proto); `*field` is then unspecified and the reader unusable.
  [[nodiscard]] Status Next(ProtoField* field);

 private:
  [[nodiscard]] Status ReadVarint(uint64_t* v);
  [[nodiscard]] Status ReadFixed(size_t size, uint64_t* v);

  std::string_view data_;
  size_t base_;
  size_t pos_ = 0;
};

// Decodes `bytes` (a packed repeated field at `offset`) as varints and
// appends them to `*out`. Fails with kInvalidArgument on a truncated varint.
[[nodiscard]] Status AppendPackedVarints(std::string_view bytes, size_t offset,
                                         std::vector<uint64_t>* out);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_PROFILE_PROTO_READER_H_
