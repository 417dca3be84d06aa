// Checks the SIGNAL CONTEXT quarantine (STYLE.md, "Signal and hook context"):
// every file under agent/ that carries the line "// SIGNAL CONTEXT." must not
// allocate, lock, print or throw in its code. Comments and the contents of
// string literals are ignored; failures are reported as file:line.
//
// A file that mixes handler code with code that never runs in the handler
// (a constructor, the reader side of a ring) marks the latter explicitly:
//
//   slots_(new Slot[n]) {  // NOT SIGNAL CONTEXT: constructor, before Start()
//
//   // NOT SIGNAL CONTEXT BEGIN: the collector's side
//   ...
//   // NOT SIGNAL CONTEXT END
//
// Each marker needs a reason after the colon. This is a textual check, not a
// compiler: it catches the common mistakes (a std::string temporary, a
// fprintf for debugging, a lock_guard) and the ThreadSanitizer job catches
// what hides behind a call.

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/regex.h"

#ifndef INPROF_SOURCE_DIR
#error "INPROF_SOURCE_DIR must name the inprof source tree"
#endif

namespace inprof::lint {
namespace {

constexpr std::string_view kBanner = "// SIGNAL CONTEXT.";
constexpr std::string_view kExemptLine = "// NOT SIGNAL CONTEXT:";
constexpr std::string_view kExemptBegin = "// NOT SIGNAL CONTEXT BEGIN:";
constexpr std::string_view kExemptEnd = "// NOT SIGNAL CONTEXT END";

struct Violation {
  int line;          // 1-based
  std::string rule;  // Rule::name, or a marker problem
  std::string code;  // the offending line, trimmed
};

std::string_view Trim(std::string_view s) {
  size_t begin = s.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(" \t\r");
  return s.substr(begin, end - begin + 1);
}

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

bool IsSignalContextFile(std::string_view text) {
  for (std::string_view line : SplitLines(text)) {
    if (Trim(line).starts_with(kBanner)) return true;
  }
  return false;
}

bool IsIdentifierChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_';
}

// Returns `text` with comments, the contents of string and character
// literals, and the targets of #include replaced by spaces. Newlines are
// kept, so offsets map to the same lines.
std::string StripCommentsAndLiterals(std::string_view text) {
  std::string out(text);
  auto blank = [&out](size_t from, size_t to) {
    for (size_t i = from; i < to && i < out.size(); ++i) {
      if (out[i] != '\n') out[i] = ' ';
    }
  };
  size_t i = 0;
  bool line_start = true;  // only whitespace so far on this line
  while (i < text.size()) {
    char c = text[i];
    if (c == '\n') {
      line_start = true;
      ++i;
      continue;
    }
    if (line_start && c == '#') {
      size_t end = text.find('\n', i);
      if (end == std::string_view::npos) end = text.size();
      std::string_view directive = Trim(text.substr(i + 1, end - i - 1));
      if (directive.starts_with("include")) blank(i, end);
      // Other directives (#define ...) are checked like code.
    }
    if (c != ' ' && c != '\t') line_start = false;
    if (text.compare(i, 2, "//") == 0) {
      size_t end = text.find('\n', i);
      if (end == std::string_view::npos) end = text.size();
      blank(i, end);
      i = end;
    } else if (text.compare(i, 2, "/*") == 0) {
      size_t end = text.find("*/", i + 2);
      end = end == std::string_view::npos ? text.size() : end + 2;
      blank(i, end);
      i = end;
    } else if (c == '"' && i > 0 && text[i - 1] == 'R') {
      // Raw string: R"delim( ... )delim".
      size_t open = text.find('(', i);
      if (open == std::string_view::npos) open = text.size();
      std::string closing =
          ")" + std::string(text.substr(i + 1, open - i - 1)) + "\"";
      size_t end = text.find(closing, open);
      end = end == std::string_view::npos ? text.size() : end + closing.size();
      blank(i + 1, end - 1);
      i = end;
    } else if (c == '"' ||
               (c == '\'' && (i == 0 || !IsIdentifierChar(text[i - 1])))) {
      // A quote after an identifier character is a digit separator (1'000).
      size_t j = i + 1;
      while (j < text.size() && text[j] != c && text[j] != '\n') {
        j += text[j] == '\\' ? 2 : 1;
      }
      blank(i + 1, std::min(j, text.size()));
      i = j + 1;
    } else {
      ++i;
    }
  }
  return out;
}

// What must precede or follow a match for it to be acceptable.
enum class Exception {
  kNone,
  kMemberCall,     // obj.free(), obj->free(): not the C library function
  kDeletedMember,  // "= delete": a deleted function, not a delete expression
  kPlacementNew,   // new (buffer) T: constructs in place, allocates nothing
};

struct Rule {
  std::string name;
  test::Regex pattern;
  Exception exception = Exception::kNone;
};

const std::vector<Rule>& Rules() {
  static const auto* rules = new std::vector<Rule>{
      {"malloc/free",
       test::Regex(R"(\b(malloc|calloc|realloc|free|aligned_alloc|)"
                   R"(posix_memalign|memalign|valloc|strdup|strndup)\s*\()"),
       Exception::kMemberCall},
      {"new", test::Regex(R"(\bnew\b)"), Exception::kPlacementNew},
      {"delete", test::Regex(R"(\bdelete\b)"), Exception::kDeletedMember},
      {"std::string",
       test::Regex(R"(\bstd::(string|wstring|u8string|u16string|u32string|)"
                   R"(basic_string|to_string|stringstream|ostringstream|)"
                   R"(istringstream)\b)")},
      {"std::vector", test::Regex(R"(\bstd::vector\b)")},
      {"std::function",
       test::Regex(R"(\bstd::(function|move_only_function)\b)")},
      {"allocating std:: type",
       test::Regex(R"(\bstd::(make_unique|make_shared|allocate_shared|deque|)"
                   R"(list|forward_list|map|multimap|set|multiset|)"
                   R"(unordered_map|unordered_set)\b)")},
      {"stdio",
       test::Regex(R"(\b(printf|fprintf|sprintf|snprintf|vprintf|vfprintf|)"
                   R"(vsprintf|vsnprintf|dprintf|puts|fputs|putchar|fputc|)"
                   R"(perror|fflush|fopen|fwrite|fread)\s*\()"),
       Exception::kMemberCall},
      {"iostream", test::Regex(R"(\bstd::(cout|cerr|clog|endl|ostream)\b)")},
      {"fmt", test::Regex(R"(\bfmt::|\bstd::(format|print)\b)")},
      {"pthread lock",
       test::Regex(
           R"(\bpthread_(mutex_lock|mutex_trylock|mutex_timedlock|)"
           R"(rwlock_rdlock|rwlock_wrlock|rwlock_tryrdlock|)"
           R"(rwlock_trywrlock|spin_lock|cond_wait|cond_timedwait)\b)")},
      {"std::mutex",
       test::Regex(R"(\bstd::(mutex|recursive_mutex|timed_mutex|)"
                   R"(recursive_timed_mutex|shared_mutex|shared_timed_mutex|)"
                   R"(lock_guard|unique_lock|scoped_lock|shared_lock|)"
                   R"(condition_variable|condition_variable_any)\b|)"
                   R"(\bMutexLock\b)")},
      {"throw", test::Regex(R"(\bthrow\b)")},
      {"loader lock",
       test::Regex(R"(\b(dlopen|dlclose|dlsym|dladdr|dl_iterate_phdr)\s*\()")},
  };
  return *rules;
}

// True when the match at [begin, end) of `code` is one of the rule's
// acceptable forms.
bool IsException(Exception exception, std::string_view code, size_t begin,
                 size_t end) {
  size_t before = code.find_last_not_of(" \t\r\n", begin == 0 ? 0 : begin - 1);
  bool has_before = begin > 0 && before != std::string_view::npos;
  switch (exception) {
    case Exception::kNone:
      return false;
    case Exception::kMemberCall:
      return has_before &&
             (code[before] == '.' ||
              (code[before] == '>' && before > 0 && code[before - 1] == '-'));
    case Exception::kDeletedMember:
      return has_before && code[before] == '=';
    case Exception::kPlacementNew: {
      size_t open = code.find_first_not_of(" \t\r\n", end);
      if (open == std::string_view::npos || code[open] != '(') return false;
      size_t close = code.find(')', open);
      if (close == std::string_view::npos) return false;
      // new (std::nothrow) T allocates; new (buffer) T does not.
      return code.substr(open, close - open).find("nothrow") ==
             std::string_view::npos;
    }
  }
  return false;
}

std::vector<Violation> FindViolations(std::string_view text) {
  std::vector<std::string_view> raw_lines = SplitLines(text);
  std::vector<bool> exempt(raw_lines.size() + 1, false);
  std::vector<Violation> violations;
  auto check_reason = [&](std::string_view line, std::string_view marker,
                          int number) {
    std::string_view rest = line.substr(line.find(marker) + marker.size());
    if (Trim(rest).empty()) {
      violations.push_back(
          {number, "exemption without a reason", std::string(Trim(line))});
    }
  };
  int region_start = 0;
  for (size_t i = 0; i < raw_lines.size(); ++i) {
    std::string_view line = raw_lines[i];
    int number = static_cast<int>(i) + 1;
    if (line.find(kExemptBegin) != std::string_view::npos) {
      check_reason(line, kExemptBegin, number);
      region_start = number;
    } else if (line.find(kExemptEnd) != std::string_view::npos) {
      if (region_start == 0) {
        violations.push_back({number, "NOT SIGNAL CONTEXT END without BEGIN",
                              std::string(Trim(line))});
      }
      region_start = 0;
      exempt[i] = true;
    } else if (line.find(kExemptLine) != std::string_view::npos) {
      check_reason(line, kExemptLine, number);
      exempt[i] = true;
    }
    if (region_start != 0) exempt[i] = true;
  }
  if (region_start != 0) {
    violations.push_back({region_start, "NOT SIGNAL CONTEXT BEGIN without END",
                          std::string(Trim(raw_lines[region_start - 1]))});
  }

  std::string code = StripCommentsAndLiterals(text);
  std::vector<size_t> line_starts = {0};
  for (size_t i = 0; i < code.size(); ++i) {
    if (code[i] == '\n') line_starts.push_back(i + 1);
  }
  auto line_of = [&line_starts](size_t offset) {
    return static_cast<int>(
        std::upper_bound(line_starts.begin(), line_starts.end(), offset) -
        line_starts.begin());
  };
  for (const Rule& rule : Rules()) {
    for (const test::Regex::Span& span : rule.pattern.FindAllSpans(code)) {
      size_t begin = span.offset;
      size_t match_end = begin + span.length;
      if (IsException(rule.exception, code, begin, match_end)) continue;
      int line = line_of(begin);
      if (exempt[static_cast<size_t>(line - 1)]) continue;
      violations.push_back(
          {line, rule.name, std::string(Trim(raw_lines[line - 1]))});
    }
  }
  std::sort(violations.begin(), violations.end(),
            [](const Violation& a, const Violation& b) {
              return a.line < b.line || (a.line == b.line && a.rule < b.rule);
            });
  return violations;
}

std::vector<std::string> RuleNames(std::string_view text) {
  std::vector<std::string> names;
  for (const Violation& v : FindViolations(text)) names.push_back(v.rule);
  return names;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// The real check: every banner-carrying file under agent/.
TEST(SignalContextLintTest, SignalContextFilesCallNothingBanned) {
  namespace fs = std::filesystem;
  const fs::path agent_dir = fs::path(INPROF_SOURCE_DIR) / "agent";
  ASSERT_TRUE(fs::is_directory(agent_dir)) << agent_dir;
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry :
       fs::recursive_directory_iterator(agent_dir)) {
    std::string ext = entry.path().extension().string();
    if (entry.is_regular_file() &&
        (ext == ".h" || ext == ".cc" || ext == ".inc")) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  int checked = 0;
  for (const fs::path& path : files) {
    std::string text = ReadFile(path);
    if (!IsSignalContextFile(text)) continue;
    ++checked;
    std::printf("signal_context_test: checking %s\n", path.c_str());
    for (const Violation& v : FindViolations(text)) {
      ADD_FAILURE_AT(path.c_str(), v.line)
          << "banned in a SIGNAL CONTEXT file (" << v.rule << "): " << v.code;
    }
  }
  // agent/base/raw_log.h carries the banner: finding none means a wrong path.
  EXPECT_GE(checked, 1) << "no file under " << agent_dir
                        << " contains a line starting with '" << kBanner << "'";
}

TEST(SignalContextLintTest, RecognizesTheBanner) {
  EXPECT_TRUE(IsSignalContextFile("#pragma once\n// SIGNAL CONTEXT. Rules:\n"));
  EXPECT_TRUE(IsSignalContextFile("  // SIGNAL CONTEXT. See raw_log.h.\n"));
  EXPECT_FALSE(IsSignalContextFile("// Not SIGNAL CONTEXT. here\nint x;\n"));
  EXPECT_FALSE(IsSignalContextFile("// SIGNAL CONTEXT without a period\n"));
}

struct BannedCase {
  const char* snippet;
  const char* rule;
};

TEST(SignalContextLintTest, CatchesEachBannedCall) {
  const BannedCase cases[] = {
      {"void* p = malloc(16);", "malloc/free"},
      {"void* p = std::calloc(1, 16);", "malloc/free"},
      {"p = realloc(p, 32);", "malloc/free"},
      {"free(p);", "malloc/free"},
      {"::free (p);", "malloc/free"},
      {"char* s = strdup(name);", "malloc/free"},
      {"auto* s = new Slot;", "new"},
      {"auto* s = new Slot[n];", "new"},
      {"auto* s = new (std::nothrow) Slot;", "new"},
      {"delete s;", "delete"},
      {"delete[] slots;", "delete"},
      {"std::string name = \"x\";", "std::string"},
      {"auto s = std::to_string(42);", "std::string"},
      {"std::vector<int> frames;", "std::vector"},
      {"std::function<void()> callback;", "std::function"},
      {"auto p = std::make_unique<int>(1);", "allocating std:: type"},
      {"std::unordered_map<int, int> m;", "allocating std:: type"},
      {"printf(\"%d\", x);", "stdio"},
      {"fprintf(stderr, \"x\");", "stdio"},
      {"std::snprintf(buf, sizeof(buf), \"%d\", x);", "stdio"},
      {"std::cout << x;", "iostream"},
      {"std::cerr << x << std::endl;", "iostream"},
      {"fmt::print(\"{}\", x);", "fmt"},
      {"auto s = std::format(\"{}\", x);", "fmt"},
      {"pthread_mutex_lock(&mu);", "pthread lock"},
      {"pthread_rwlock_wrlock(&rw);", "pthread lock"},
      {"std::mutex mu;", "std::mutex"},
      {"std::lock_guard<std::mutex> lock(mu);", "std::mutex"},
      {"std::unique_lock lock(mu);", "std::mutex"},
      {"MutexLock lock(&mu_);", "std::mutex"},
      {"throw std::runtime_error(\"x\");", "throw"},
      {"dl_iterate_phdr(Callback, &data);", "loader lock"},
  };
  for (const BannedCase& c : cases) {
    EXPECT_THAT(RuleNames(c.snippet), testing::Contains(std::string(c.rule)))
        << "snippet: " << c.snippet;
  }
}

TEST(SignalContextLintTest, AcceptsWhatOnlyLooksBanned) {
  const char* const cases[] = {
      "// malloc, new, std::string, printf and throw in a comment",
      "/* std::vector<int> v; fprintf(stderr, \"x\"); */",
      "RawLog(\"cannot malloc: new std::string failed, throw\");",
      "const char* s = R\"(printf(\"x\"); delete p;)\";",
      "SampleRing(const SampleRing&) = delete;",
      "SampleRing& operator=(const SampleRing&) =\n    delete;",
      "new (&slot->sample) RawSample();",
      "std::string_view name = label;",
      "pool.free(slot);",
      "pool->free(slot);",
      "int free_slots = 0;",
      "void Commit(const Claim& claim) noexcept;",
      "constexpr uint64_t kBig = 1'000'000;",
      "#include <new>\n#include <string>\n#include <vector>",
      "std::atomic<uint64_t> dropped_{0};",
      "std::unique_ptr<Slot[]> slots_;",
      "char c = '\"'; int renew = 1; int newest = 2;",
      "slots_(new Slot[n]) {  // NOT SIGNAL CONTEXT: constructor",
      "// NOT SIGNAL CONTEXT BEGIN: reader side\n"
      "std::vector<int> Drain();\n"
      "// NOT SIGNAL CONTEXT END",
  };
  for (const char* c : cases) {
    EXPECT_THAT(FindViolations(c), testing::IsEmpty()) << "snippet: " << c;
  }
}

TEST(SignalContextLintTest, ReportsTheLineOfEachViolation) {
  const char* text =
      "// SIGNAL CONTEXT. Rules.\n"        // 1
      "/* a block comment\n"               // 2
      "   spanning lines: malloc(1) */\n"  // 3
      "void Handler() noexcept {\n"        // 4
      "  std::string s;\n"                 // 5
      "  RawLog(\"free(p)\");\n"           // 6
      "  fprintf(stderr, \"x\");\n"        // 7
      "}\n";                               // 8
  std::vector<Violation> violations = FindViolations(text);
  ASSERT_EQ(violations.size(), 2u);
  EXPECT_EQ(violations[0].line, 5);
  EXPECT_EQ(violations[0].rule, "std::string");
  EXPECT_EQ(violations[0].code, "std::string s;");
  EXPECT_EQ(violations[1].line, 7);
  EXPECT_EQ(violations[1].rule, "stdio");
}

TEST(SignalContextLintTest, ExemptionsNeedAReasonAndAnEnd) {
  EXPECT_THAT(RuleNames("p = new int;  // NOT SIGNAL CONTEXT:"),
              testing::ElementsAre("exemption without a reason"));
  EXPECT_THAT(RuleNames("// NOT SIGNAL CONTEXT BEGIN: setup\nint x;\n"),
              testing::ElementsAre("NOT SIGNAL CONTEXT BEGIN without END"));
  EXPECT_THAT(RuleNames("int x;\n// NOT SIGNAL CONTEXT END\n"),
              testing::ElementsAre("NOT SIGNAL CONTEXT END without BEGIN"));
  // Code after the region is checked again.
  EXPECT_THAT(RuleNames("// NOT SIGNAL CONTEXT BEGIN: setup\n"
                        "auto* p = new int;\n"
                        "// NOT SIGNAL CONTEXT END\n"
                        "delete p;\n"),
              testing::ElementsAre("delete"));
}

}  // namespace
}  // namespace inprof::lint
