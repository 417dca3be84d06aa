#include "agent/profile/proto_reader.h"

#include <string>

namespace inprof::internal {
namespace {

// Parses a varint at `*pos` in `data`; advances `*pos` on success. A varint
// has at most 10 bytes; a longer one or one running off the end is an error.
bool ParseVarint(std::string_view data, size_t* pos, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64 && *pos < data.size(); shift += 7) {
    uint8_t byte = static_cast<uint8_t>(data[(*pos)++]);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

Status Truncated(std::string_view what, size_t offset) {
  return InvalidArgumentError("truncated " + std::string(what) + " at offset " +
                              std::to_string(offset));
}

// ParseVarint with an error naming the varint's offset in the outermost
// buffer (`base` is the offset of `data` there).
Status ParseVarintAt(std::string_view data, size_t base, size_t* pos,
                     uint64_t* v) {
  size_t start = *pos;
  if (ParseVarint(data, pos, v)) return OkStatus();
  if (*pos >= data.size()) return Truncated("varint", base + start);
  return InvalidArgumentError("varint longer than 10 bytes at offset " +
                              std::to_string(base + start));
}

}  // namespace

Status ProtoReader::ReadVarint(uint64_t* v) {
  return ParseVarintAt(data_, base_, &pos_, v);
}

Status ProtoReader::ReadFixed(size_t size, uint64_t* v) {
  if (data_.size() - pos_ < size) return Truncated("fixed field", base_ + pos_);
  *v = 0;
  for (size_t i = 0; i < size; ++i) {
    *v |= static_cast<uint64_t>(static_cast<uint8_t>(data_[pos_ + i]))
          << (8 * i);
  }
  pos_ += size;
  return OkStatus();
}

Status ProtoReader::Next(ProtoField* field) {
  size_t key_offset = base_ + pos_;
  uint64_t key = 0;
  if (Status s = ReadVarint(&key); !s.ok()) return s;
  uint64_t number = key >> 3;
  if (number == 0 || number > (uint64_t{1} << 29) - 1) {
    return InvalidArgumentError("invalid field number " +
                                std::to_string(number) + " at offset " +
                                std::to_string(key_offset));
  }
  field->number = static_cast<int>(number);
  field->wire_type = static_cast<WireType>(key & 7);
  field->bytes = {};
  switch (field->wire_type) {
    case WireType::kVarint:
      field->offset = base_ + pos_;
      return ReadVarint(&field->varint);
    case WireType::kFixed64:
      field->offset = base_ + pos_;
      return ReadFixed(8, &field->varint);
    case WireType::kFixed32:
      field->offset = base_ + pos_;
      return ReadFixed(4, &field->varint);
    case WireType::kLengthDelimited: {
      uint64_t length = 0;
      if (Status s = ReadVarint(&length); !s.ok()) return s;
      if (length > data_.size() - pos_) {
        return Truncated("field " + std::to_string(number) + " (length " +
                             std::to_string(length) + ")",
                         key_offset);
      }
      field->offset = base_ + pos_;
      field->bytes = data_.substr(pos_, length);
      pos_ += length;
      return OkStatus();
    }
    default:
      return InvalidArgumentError(
          "unsupported wire type " + std::to_string(key & 7) + " for field " +
          std::to_string(number) + " at offset " + std::to_string(key_offset));
  }
}

Status AppendPackedVarints(std::string_view bytes, size_t offset,
                           std::vector<uint64_t>* out) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    uint64_t v = 0;
    if (Status s = ParseVarintAt(bytes, offset, &pos, &v); !s.ok()) return s;
    out->push_back(v);
  }
  return OkStatus();
}

}  // namespace inprof::internal
