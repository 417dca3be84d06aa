#include "agent/profile/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace inprof::internal {
namespace {

// windowBits 15 (32 KiB window) + 16 selects the gzip wrapper in zlib.
constexpr int kGzipWindowBits = 15 + 16;
constexpr size_t kChunk = 64 * 1024;

std::string ZlibMessage(const z_stream& zs, int rc) {
  if (zs.msg != nullptr) return zs.msg;
  return "zlib error " + std::to_string(rc);
}

// Inflates one or more gzip members from `zs` into `out`.
Status InflateAll(z_stream& zs, size_t input_size, size_t max_bytes,
                  std::string& out) {
  char chunk[kChunk];
  while (true) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = kChunk;
    int rc = inflate(&zs, Z_NO_FLUSH);
    size_t produced = kChunk - zs.avail_out;
    if (out.size() + produced > max_bytes) {
      return InvalidArgumentError("gzip: decompressed size exceeds " +
                                  std::to_string(max_bytes) + " bytes");
    }
    out.append(chunk, produced);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) return OkStatus();
      // Another member follows (Go's gzip.Reader is multistream too).
      if (inflateReset(&zs) != Z_OK) return InternalError("gzip: reset");
      continue;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && produced == 0) {
      return InvalidArgumentError("gzip: truncated input (" +
                                  std::to_string(input_size) + " bytes)");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return InvalidArgumentError("gzip: corrupt input at compressed offset " +
                                  std::to_string(input_size - zs.avail_in) +
                                  ": " + ZlibMessage(zs, rc));
    }
  }
}

}  // namespace

bool IsGzip(std::string_view data) {
  return data.size() >= 2 && static_cast<uint8_t>(data[0]) == 0x1f &&
         static_cast<uint8_t>(data[1]) == 0x8b;
}

std::string Gzip(std::string_view data, int level) {
  z_stream zs{};
  level = std::clamp(level, 0, 9);
  if (deflateInit2(&zs, level, Z_DEFLATED, kGzipWindowBits, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    std::abort();  // Only on out-of-memory or a zlib/header mismatch.
  }
  std::string out;
  out.resize(deflateBound(&zs, data.size()));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  // deflateBound guarantees one Z_FINISH call suffices for this output size.
  int rc = deflate(&zs, Z_FINISH);
  if (rc != Z_STREAM_END) std::abort();
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

StatusOr<std::string> Gunzip(std::string_view data, size_t max_bytes) {
  if (!IsGzip(data)) {
    return InvalidArgumentError("gzip: missing magic bytes 1f 8b");
  }
  if (data.size() > UINT32_MAX) {
    return InvalidArgumentError("gzip: input larger than 4 GiB");
  }
  z_stream zs{};
  if (inflateInit2(&zs, kGzipWindowBits) != Z_OK) {
    return InternalError("gzip: inflateInit2 failed");
  }
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  Status status = InflateAll(zs, data.size(), max_bytes, out);
  inflateEnd(&zs);
  if (!status.ok()) return status;
  return out;
}

}  // namespace inprof::internal
