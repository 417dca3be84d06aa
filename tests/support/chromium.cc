#include "tests/support/chromium.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/regex.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace inprof::test {

BrowserPage LoadInChromium(const std::string& url,
                           const std::string& screenshot) {
  BrowserPage page;
  const char* path = std::getenv("PATH");
  std::string chromium = FindExecutable("chromium", path ? path : "");
  if (chromium.empty()) {
    ADD_FAILURE() << "chromium not found: apt-get install chromium";
    return page;
  }
  TempDir profile;
  // The flags a root, headless, offline machine needs: no sandbox, no GPU,
  // no background connections to Google's services.
  CommandResult r = RunCommand(
      {chromium, "--headless", "--no-sandbox", "--disable-gpu",
       "--disable-quic", "--no-first-run", "--disable-background-networking",
       "--disable-component-update", "--disable-sync",
       "--user-data-dir=" + profile.Path("user"), "--enable-logging=stderr",
       "--virtual-time-budget=5000", "--window-size=1280,800",
       "--screenshot=" + screenshot, "--dump-dom", url},
      {{"TMPDIR", profile.path()}, {"HOME", profile.path()}},
      std::chrono::minutes(2));
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.err, ::testing::Not(::testing::HasSubstr("Page load failed")));
  std::istringstream err(r.err);
  std::string line;
  while (std::getline(err, line)) {
    if (line.find(":CONSOLE:") != std::string::npos) {
      page.console += line + "\n";
    }
  }
  page.dom = std::move(r.out);
  page.ok = r.exit_code == 0 && !page.dom.empty();
  return page;
}

std::string BodyAttribute(const std::string& dom, const std::string& name) {
  RegexGroups m;
  const Regex re("<body[^>]* " + name + "=\"([^\"]*)\"");
  return re.Search(dom, &m) ? m[1] : "<none>";
}

void ExpectPngFile(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  ASSERT_FALSE(ec) << path << " was not written";
  EXPECT_GT(size, 5000u) << path;
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  EXPECT_EQ(std::string(magic, 8), "\x89PNG\r\n\x1a\n");
}

}  // namespace inprof::test
