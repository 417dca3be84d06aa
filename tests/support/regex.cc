#include "tests/support/regex.h"

#include <regex>

namespace inprof::test {
namespace {

using Iterator = std::string_view::const_iterator;
using MatchIterator = std::regex_iterator<Iterator>;

RegexGroups GroupsOf(const std::match_results<Iterator>& match) {
  RegexGroups groups;
  groups.reserve(match.size());
  for (const auto& group : match) groups.push_back(group.str());
  return groups;
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
  std::match_results<Iterator> match;
  const bool found = whole ? std::regex_match(text.begin(), text.end(), match,
                                              compiled_->regex)
                           : std::regex_search(text.begin(), text.end(), match,
                                               compiled_->regex);
  if (found && groups != nullptr) *groups = GroupsOf(match);
  return found;
}

std::vector<RegexGroups> Regex::FindAll(std::string_view text) const {
  std::vector<RegexGroups> all;
  for (MatchIterator it(text.begin(), text.end(), compiled_->regex), end;
       it != end; ++it) {
    all.push_back(GroupsOf(*it));
  }
  return all;
}

std::vector<Regex::Span> Regex::FindAllSpans(std::string_view text) const {
  std::vector<Span> spans;
  for (MatchIterator it(text.begin(), text.end(), compiled_->regex), end;
       it != end; ++it) {
    spans.push_back({static_cast<size_t>(it->position()),
                     static_cast<size_t>(it->length())});
  }
  return spans;
}

}  // namespace inprof::test
