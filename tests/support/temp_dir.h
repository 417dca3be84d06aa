// TempDir: a fresh directory under $TMPDIR (or /tmp), removed with all its
// contents when the object is destroyed, plus small file helpers for tests.
// Set INPROF_KEEP_TEMP=1 to keep the directories for post-mortems.
//
// Example:
//
//   TempDir dir;
//   std::string path = dir.WriteFile("cpu.pb.gz", body);
//   std::optional<std::string> back = ReadFile(path);
//
#ifndef INPROF_TESTS_SUPPORT_TEMP_DIR_H_
#define INPROF_TESTS_SUPPORT_TEMP_DIR_H_

#include <optional>
#include <string>
#include <string_view>

namespace inprof::test {

// TempDir
//
// Ownership: owns the directory on disk; move-only.
//
// Thread safety: thread-compatible.
class TempDir {
 public:
  // Creates the directory; aborts the test binary if that is impossible
  // (nothing useful can run without it).
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&&) = delete;

  // Absolute path of the directory, without a trailing '/'.
  const std::string& path() const { return path_; }

  // Returns path() + "/" + name (no file is created).
  std::string Path(std::string_view name) const;

  // Writes `contents` to path()/name, creating parent directories; returns
  // the full path, or "" on failure.
  std::string WriteFile(std::string_view name, std::string_view contents) const;

 private:
  std::string path_;
};

// Returns the whole contents of `path`, or nullopt if it cannot be read.
std::optional<std::string> ReadFile(const std::string& path);

}  // namespace inprof::test

#endif  // INPROF_TESTS_SUPPORT_TEMP_DIR_H_
