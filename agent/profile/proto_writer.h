// ProtoWriter appends protocol-buffer wire format to a string: just the
// subset profile.proto needs (varints, length-delimited strings and nested
// messages, packed repeated varints). It follows Go's
// src/runtime/pprof/protobuf.go: int64 values are two's-complement varints
// (10 bytes when negative, never zigzag), the *Opt variants skip zero values,
// and repeated fields are packed only when they hold more than two values.
//
// Example:
//
//   ProtoWriter w;
//   size_t start = w.StartMessage();
//   w.Uint64(LineField::kFunctionId, 1);
//   w.EndMessage(LocationField::kLine, start);
//   std::string bytes = std::move(w).Finish();
//
#ifndef INPROF_AGENT_PROFILE_PROTO_WRITER_H_
#define INPROF_AGENT_PROFILE_PROTO_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace inprof::internal {

// Protocol-buffer wire types (only those profile.proto uses are written).
enum class WireType : int {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

// ProtoWriter
//
// Ownership: owns the buffer it appends to; Finish() hands it over.
//
// Thread safety: thread-compatible.
class ProtoWriter {
 public:
  ProtoWriter() = default;
  ProtoWriter(const ProtoWriter&) = delete;
  ProtoWriter& operator=(const ProtoWriter&) = delete;

  // Appends `v` as a base-128 varint, without a key.
  void Varint(uint64_t v);

  // Appends field `tag` with a varint value, always (even zero).
  void Uint64(int tag, uint64_t v);
  void Int64(int tag, int64_t v) { Uint64(tag, static_cast<uint64_t>(v)); }
  void Bool(int tag, bool v) { Uint64(tag, v ? 1 : 0); }

  // As above, but write nothing when the value is zero (proto3 default).
  void Uint64Opt(int tag, uint64_t v);
  void Int64Opt(int tag, int64_t v) {
    Uint64Opt(tag, static_cast<uint64_t>(v));
  }
  void BoolOpt(int tag, bool v) { Uint64Opt(tag, v ? 1 : 0); }

  // Repeated varints: packed (one length-delimited field) when there are
  // more than two values, else one field per value, as Go does.
  void Uint64s(int tag, std::span<const uint64_t> values);
  void Int64s(int tag, std::span<const int64_t> values);

  // Appends field `tag` as a length-delimited string (also when empty).
  void String(int tag, std::string_view s);

  // Nested messages: StartMessage() returns a position; write the message's
  // fields; EndMessage(tag, position) then prefixes them with the key and
  // length of field `tag`. Messages may nest; close them innermost first.
  [[nodiscard]] size_t StartMessage() const { return data_.size(); }
  void EndMessage(int tag, size_t start);

  // The bytes written so far.
  const std::string& data() const { return data_; }

  // Hands over the buffer; the writer must not be used afterwards.
  std::string Finish() && { return std::move(data_); }

 private:
  void Key(int tag, WireType type);

  std::string data_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_PROFILE_PROTO_WRITER_H_
