#include "viewer/source.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "agent/profile/check_valid.h"
#include "agent/profile/decode.h"
#include "agent/profile/gzip.h"
#include "viewer/legacy_cpu.h"
#include "viewer/legacy_heap.h"
#include "viewer/prune.h"
#include "viewer/renumber.h"

namespace inprof::viewer {
namespace {

// Files larger than this are refused before reading: no real profile is.
constexpr off_t kMaxFileBytes = off_t{1} << 30;

StatusOr<std::string> ReadFile(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    std::string reason = std::strerror(errno);
    return errno == ENOENT ? NotFoundError(reason)
                           : InvalidArgumentError(reason);
  }
  if (S_ISDIR(st.st_mode)) return InvalidArgumentError("is a directory");
  if (S_ISREG(st.st_mode) && st.st_size > kMaxFileBytes) {
    return InvalidArgumentError("file of " + std::to_string(st.st_size) +
                                " bytes is too large for a profile");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgumentError(std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return InvalidArgumentError("read error");
  return std::move(buffer).str();
}

bool MostlyText(std::string_view bytes) {
  size_t n = std::min<size_t>(bytes.size(), 512);
  size_t text = 0;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c == '\n' || c == '\t' || c == '\r' || (c >= 0x20 && c < 0x7f)) ++text;
  }
  return n > 0 && text * 10 >= n * 9;
}

std::string Excerpt(std::string_view bytes) {
  std::string out;
  for (char c : bytes.substr(0, 40)) {
    if (c == '\n') break;
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

StatusOr<internal::Profile> ParseProto(std::string_view bytes) {
  StatusOr<internal::Profile> profile = internal::DecodeProfile(bytes);
  if (profile.ok()) return profile;
  if (MostlyText(bytes)) {
    return InvalidArgumentError("not a profile: it is text starting \"" +
                                Excerpt(bytes) +
                                "\", in no format inprof-view reads");
  }
  return InvalidArgumentError("not a valid profile.proto: " +
                              profile.status().message());
}

}  // namespace

StatusOr<LoadedProfile> ParseProfileBytes(std::string_view bytes,
                                          const LoadOptions& options) {
  if (bytes.empty()) return InvalidArgumentError("empty (0 bytes): no profile");
  std::string unzipped;
  if (internal::IsGzip(bytes)) {
    StatusOr<std::string> raw = internal::Gunzip(bytes);
    if (!raw.ok()) return InvalidArgumentError(raw.status().message());
    unzipped = std::move(raw).value();
    bytes = unzipped;
    if (bytes.empty()) {
      return InvalidArgumentError("gzip data decompresses to nothing");
    }
  }
  LoadedProfile loaded;
  StatusOr<internal::Profile> profile = InvalidArgumentError("");
  if (IsLegacyCpuProfile(bytes)) {
    loaded.format = "gperftools CPU profile";
    profile = ParseLegacyCpuProfile(bytes, options.symbolize);
  } else if (IsLegacyHeapProfile(bytes)) {
    loaded.format = "gperftools heap profile";
    profile = ParseLegacyHeapProfile(bytes, options.symbolize);
  } else {
    loaded.format = "profile.proto";
    profile = ParseProto(bytes);
  }
  if (!profile.ok()) return profile.status();
  // Others' ids need only be unique and nonzero (go tool pprof reads them);
  // from here on they are 1..N, as CheckValid and the viewer want them.
  if (Status ids = RenumberIds(&*profile); !ids.ok()) {
    return InvalidArgumentError("invalid profile: " + ids.message());
  }
  if (Status valid = internal::CheckValid(*profile); !valid.ok()) {
    return InvalidArgumentError("invalid profile: " + valid.message());
  }
  ApplyDropFrames(&*profile);
  if (profile->sample_types.empty()) {
    return InvalidArgumentError(
        "decodes as profile.proto but has no sample types: not a profile");
  }
  loaded.profile = std::move(profile).value();
  return loaded;
}

StatusOr<LoadedProfile> LoadProfile(std::string_view source,
                                    const LoadOptions& options) {
  std::string path(source);
  struct stat st;
  bool exists = stat(path.c_str(), &st) == 0;
  StatusOr<std::string> bytes = !exists && LooksLikeUrl(source)
                                    ? FetchUrl(source, options.fetch)
                                    : ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  return ParseProfileBytes(*bytes, options);
}

}  // namespace inprof::viewer
