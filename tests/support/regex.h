// Regex: std::regex behind a small interface compiled once, in the support
// library. Instantiating <regex>'s templates costs each test file that uses
// them ~4 s of compile time (GCC 12, -O2): more than the rest of a typical
// e2e test, in each of CI's builds. ECMAScript grammar, as std::regex's.
//
// Example:
//
//   const test::Regex row(R"(^\s*([0-9.]+)ms .* (\S+)$)");
//   test::RegexGroups m;
//   if (row.Matches(line, &m) && m[2] == "main") total += std::stod(m[1]);
//
#ifndef INPROF_TESTS_SUPPORT_REGEX_H_
#define INPROF_TESTS_SUPPORT_REGEX_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace inprof::test {

// The groups of one match: [0] the whole match, [i] group i ("" when group i
// took no part in it).
using RegexGroups = std::vector<std::string>;

// Regex
//
// Ownership: owns its compiled expression; copyable and movable.
//
// Thread safety: const methods may run concurrently.
class Regex {
 public:
  // Throws std::regex_error (a std::runtime_error) for a bad pattern.
  explicit Regex(std::string_view pattern);
  ~Regex();
  Regex(const Regex& other);
  Regex& operator=(const Regex& other);
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  // True when the whole text matches; its groups go to *groups if given.
  bool Matches(std::string_view text, RegexGroups* groups = nullptr) const;

  // True when some part of the text matches; the first such part's groups go
  // to *groups if given.
  bool Search(std::string_view text, RegexGroups* groups = nullptr) const;

  // Every match in the text, left to right, without overlaps.
  std::vector<RegexGroups> FindAll(std::string_view text) const;

  // Where FindAll's matches are: each one's offset in the text and length.
  struct Span {
    size_t offset = 0;
    size_t length = 0;
  };
  std::vector<Span> FindAllSpans(std::string_view text) const;

 private:
  struct Compiled;
  // Matches (whole) or Search.
  bool Find(std::string_view text, RegexGroups* groups, bool whole) const;

  std::unique_ptr<Compiled> compiled_;
};

}  // namespace inprof::test

#endif  // INPROF_TESTS_SUPPORT_REGEX_H_
