// README.md's `go tool pprof` recipes, read the way a user copies them: the
// line as written, split into words as sh splits it, with the comment lines
// right above it. Tests that run the README's recipes against the demo
// server (tests/e2e/*_recipe_test.cc) read them here, so that a README edit
// that breaks a recipe fails a test.
//
// Example:
//
//   ReadmeRecipes found = ReadRecipesInSection(INPROF_README, "### Labels");
//   ASSERT_TRUE(found.ok()) << found.error;
//   for (const ReadmeRecipe& r : found.recipes) RunPprof(r.words);
//
// Thread safety: thread-safe (the functions share no state).
#ifndef INPROF_TESTS_SUPPORT_README_RECIPE_H_
#define INPROF_TESTS_SUPPORT_README_RECIPE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace inprof::test {

// The agent address the README's commands use (the agent's default); tests
// replace it with the address of the agent they started.
inline constexpr std::string_view kReadmeAgentUrl = "http://127.0.0.1:6060";

// Splits `line` into words as sh does for what the README's commands use:
// blanks separate words, '...' and "..." quote, and a '#' that starts a word
// starts a comment. Returns nullopt on an unterminated quote or a character
// whose meaning this splitter does not model ($ ` \ outside single quotes).
std::optional<std::vector<std::string>> SplitShellWords(std::string_view line);

// One `go tool pprof` command line of README.md.
struct ReadmeRecipe {
  std::string comment;             // the '#' lines right above, each with '\n'
  std::string command;             // the command line as written
  std::vector<std::string> words;  // the command split as sh splits it
};

// What a search of README.md found: its recipes, or one line saying why
// there are none (the file cannot be read, the place searched for is not
// there, or a command cannot be split).
struct ReadmeRecipes {
  std::vector<ReadmeRecipe> recipes;
  std::string error;  // "" on success

  bool ok() const { return error.empty(); }
};

// Returns the recipe right after the first comment block of `readme_path`
// whose first line starts with `comment_start`: recipes holds that one
// recipe, its comment the whole block. Fails if there is no such block, or
// if the first line after it is not a `go tool pprof ` command.
ReadmeRecipes ReadRecipeAfterComment(const std::string& readme_path,
                                     std::string_view comment_start);

// Returns every `go tool pprof ` line of the section of `readme_path` whose
// heading line starts with `heading` (it ends at the next line starting with
// "##"), in README order; possibly none. Fails if there is no such section.
ReadmeRecipes ReadRecipesInSection(const std::string& readme_path,
                                   std::string_view heading);

}  // namespace inprof::test

#endif  // INPROF_TESTS_SUPPORT_README_RECIPE_H_
