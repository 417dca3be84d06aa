// Gzip compression for profiles: pprof's wire format is a gzip-compressed
// profile.proto (pprof-spec.md §2.2), and Go writes it with
// gzip.BestSpeed.
//
// Thread safety: thread-safe (no shared state). Not async-signal-safe.
#ifndef INPROF_AGENT_PROFILE_GZIP_H_
#define INPROF_AGENT_PROFILE_GZIP_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "inprof/status.h"

namespace inprof::internal {

// zlib's Z_BEST_SPEED, the level Go's runtime/pprof uses.
inline constexpr int kGzipBestSpeed = 1;

// Default bound on Gunzip's output: a decompression bomb stops here.
inline constexpr size_t kMaxGunzipBytes = size_t{512} << 20;  // 512 MiB

// True if `data` starts with the gzip magic bytes 1f 8b.
bool IsGzip(std::string_view data);

// Returns `data` (under 4 GiB) compressed as one gzip member (RFC 1952) at
// zlib `level` (0..9; out-of-range levels are clamped). Never fails: zlib can
// only fail here on allocation, which aborts like any allocation failure.
std::string Gzip(std::string_view data, int level = kGzipBestSpeed);

// Returns the decompressed contents of gzip `data`; concatenated members
// are decompressed one after another (as Go's gzip.Reader does). Fails with
// kInvalidArgument if `data` is not gzip, is corrupt or truncated, or would
// decompress to more than `max_bytes`.
[[nodiscard]] StatusOr<std::string> Gunzip(std::string_view data,
                                           size_t max_bytes = kMaxGunzipBytes);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_PROFILE_GZIP_H_
