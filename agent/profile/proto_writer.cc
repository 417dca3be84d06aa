#include "agent/profile/proto_writer.h"

namespace inprof::internal {
namespace {

// Encodes `v` into `buf` (at least 10 bytes); returns the length used.
size_t EncodeVarint(uint64_t v, char* buf) {
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(static_cast<uint8_t>(v) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  return n;
}

}  // namespace

void ProtoWriter::Varint(uint64_t v) {
  char buf[10];
  data_.append(buf, EncodeVarint(v, buf));
}

void ProtoWriter::Key(int tag, WireType type) {
  Varint((static_cast<uint64_t>(tag) << 3) | static_cast<uint64_t>(type));
}

void ProtoWriter::Uint64(int tag, uint64_t v) {
  Key(tag, WireType::kVarint);
  Varint(v);
}

void ProtoWriter::Uint64Opt(int tag, uint64_t v) {
  if (v != 0) Uint64(tag, v);
}

void ProtoWriter::Uint64s(int tag, std::span<const uint64_t> values) {
  // Go's protobuf.go packs only beyond two values: for one or two small
  // values the unpacked form is as short, and readers accept both.
  if (values.size() <= 2) {
    for (uint64_t v : values) Uint64(tag, v);
    return;
  }
  size_t start = StartMessage();
  for (uint64_t v : values) Varint(v);
  EndMessage(tag, start);
}

void ProtoWriter::Int64s(int tag, std::span<const int64_t> values) {
  if (values.size() <= 2) {
    for (int64_t v : values) Int64(tag, v);
    return;
  }
  size_t start = StartMessage();
  for (int64_t v : values) Varint(static_cast<uint64_t>(v));
  EndMessage(tag, start);
}

void ProtoWriter::String(int tag, std::string_view s) {
  Key(tag, WireType::kLengthDelimited);
  Varint(s.size());
  data_.append(s);
}

void ProtoWriter::EndMessage(int tag, size_t start) {
  // The body is already in place; its length is known only now, so the key
  // and length go in front of it (Go rotates the same way in endMessage).
  char header[20];
  uint64_t key = (static_cast<uint64_t>(tag) << 3) |
                 static_cast<uint64_t>(WireType::kLengthDelimited);
  size_t n = EncodeVarint(key, header);
  n += EncodeVarint(data_.size() - start, header + n);
  data_.insert(start, header, n);
}

}  // namespace inprof::internal
