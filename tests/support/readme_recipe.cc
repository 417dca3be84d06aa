#include "tests/support/readme_recipe.h"

#include <sstream>
#include <utility>

#include "tests/support/temp_dir.h"

namespace inprof::test {
namespace {

// Both searches keep only command lines that start so: the README's other
// code lines (curl, exports, build steps) are not recipes.
constexpr std::string_view kCommandStart = "go tool pprof ";

// Splits `command` into `recipe`; false (with `error` set) when it cannot be
// split.
bool MakeRecipe(const std::string& comment, const std::string& command,
                ReadmeRecipe& recipe, std::string& error) {
  std::optional<std::vector<std::string>> words = SplitShellWords(command);
  if (!words) {
    error = "cannot split the recipe as sh would: " + command;
    return false;
  }
  recipe = {comment, command, std::move(*words)};
  return true;
}

// The lines of `path`; nullopt, with `error` set, when it cannot be read.
std::optional<std::vector<std::string>> ReadLines(const std::string& path,
                                                  std::string& error) {
  std::optional<std::string> text = ReadFile(path);
  if (!text) {
    error = path + ": cannot be read";
    return std::nullopt;
  }
  std::vector<std::string> lines;
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

std::optional<std::vector<std::string>> SplitShellWords(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else if (c == '#' && !in_word) {
      break;
    } else if (c == '\'' || c == '"') {
      const size_t close = line.find(c, i + 1);
      if (close == std::string_view::npos) return std::nullopt;
      std::string_view quoted = line.substr(i + 1, close - i - 1);
      // Inside "...", sh still expands $ and ` and honours \ escapes.
      if (c == '"' && quoted.find_first_of("$`\\") != std::string_view::npos) {
        return std::nullopt;
      }
      word += quoted;
      in_word = true;
      i = close;
    } else if (c == '$' || c == '`' || c == '\\') {
      return std::nullopt;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

ReadmeRecipes ReadRecipeAfterComment(const std::string& readme_path,
                                     std::string_view comment_start) {
  ReadmeRecipes found;
  std::optional<std::vector<std::string>> lines =
      ReadLines(readme_path, found.error);
  if (!lines) return found;
  std::string comment;
  bool in_comment = false;
  for (const std::string& line : *lines) {
    if (!in_comment) {
      in_comment = line.starts_with(comment_start);
      if (!in_comment) continue;
    }
    if (line.starts_with("#")) {
      comment += line + "\n";
      continue;
    }
    // The recipe is the line right below its comment: a blank line or prose
    // in between means the README no longer pairs them.
    if (!line.starts_with(kCommandStart)) {
      found.error = readme_path + ": the line after \"" +
                    std::string(comment_start) +
                    "...\" is not a go tool pprof command: " + line;
      return found;
    }
    ReadmeRecipe recipe;
    if (MakeRecipe(comment, line, recipe, found.error)) {
      found.recipes.push_back(std::move(recipe));
    }
    return found;
  }
  found.error = readme_path + ": no comment starting \"" +
                std::string(comment_start) + "\"";
  return found;
}

ReadmeRecipes ReadRecipesInSection(const std::string& readme_path,
                                   std::string_view heading) {
  ReadmeRecipes found;
  std::optional<std::vector<std::string>> lines =
      ReadLines(readme_path, found.error);
  if (!lines) return found;
  std::string comment;  // the '#' lines since the last other line
  bool in_section = false;
  for (const std::string& line : *lines) {
    // Any heading at level 2 or deeper ends the section: its subsections
    // are about something else.
    if (line.starts_with("##")) {
      if (in_section) break;
      in_section = line.starts_with(heading);
      comment.clear();
      continue;
    }
    if (!in_section) continue;
    if (line.starts_with("#")) {
      comment += line + "\n";
      continue;
    }
    if (line.starts_with(kCommandStart)) {
      ReadmeRecipe recipe;
      if (!MakeRecipe(comment, line, recipe, found.error)) return found;
      found.recipes.push_back(std::move(recipe));
    }
    comment.clear();
  }
  if (!in_section) {
    found.error = readme_path + ": no \"" + std::string(heading) + "\" section";
  }
  return found;
}

}  // namespace inprof::test
