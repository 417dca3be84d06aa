#include "tests/support/regex.h"

#include <regex>
#include <utility>

namespace inprof::test {
namespace {

using Iterator = std::string_view::const_iterator;
using Match = std::match_results<Iterator>;

RegexGroups GroupsOf(const Match& match) {
  RegexGroups groups;
  groups.reserve(match.size());
  for (const auto& group : match) groups.push_back(group.str());
  return groups;
}

// `make(match)` of every match in `text`, left to right.
template <typename Make>
auto EveryMatch(std::string_view text, const std::regex& regex, Make make) {
  std::vector<decltype(make(std::declval<const Match&>()))> all;
  for (std::regex_iterator<Iterator> it(text.begin(), text.end(), regex), end;
       it != end; ++it) {
    all.push_back(make(*it));
  }
  return all;
}

}  // namespace

struct Regex::Compiled {
  std::regex regex;
};

Regex::Regex(std::string_view pattern)
    : compiled_(std::make_unique<Compiled>(
          Compiled{std::regex(pattern.begin(), pattern.end())})) {}

Regex::~Regex() = default;
Regex::Regex(const Regex& other)
    : compiled_(std::make_unique<Compiled>(*other.compiled_)) {}
Regex& Regex::operator=(const Regex& other) {
  if (this != &other) compiled_ = std::make_unique<Compiled>(*other.compiled_);
  return *this;
}
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

bool Regex::Matches(std::string_view text, RegexGroups* groups) const {
  return Find(text, groups, /*whole=*/true);
}

bool Regex::Search(std::string_view text, RegexGroups* groups) const {
  return Find(text, groups, /*whole=*/false);
}

bool Regex::Find(std::string_view text, RegexGroups* groups, bool whole) const {
  Match match;
  const bool found = whole ? std::regex_match(text.begin(), text.end(), match,
                                              compiled_->regex)
                           : std::regex_search(text.begin(), text.end(), match,
                                               compiled_->regex);
  if (found && groups != nullptr) *groups = GroupsOf(match);
  return found;
}

std::vector<RegexGroups> Regex::FindAll(std::string_view text) const {
  return EveryMatch(text, compiled_->regex, GroupsOf);
}

std::vector<Regex::Span> Regex::FindAllSpans(std::string_view text) const {
  return EveryMatch(text, compiled_->regex, [](const Match& match) {
    return Span{static_cast<size_t>(match.position()),
                static_cast<size_t>(match.length())};
  });
}

}  // namespace inprof::test
