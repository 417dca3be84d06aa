// Loading pages in Debian's headless chromium, for tests of the flame graph
// page and the agent's /debug/pprof/ui. Chromium is a hard requirement of
// those tests: without it they fail with "apt-get install chromium".
//
// Example:
//
//   BrowserPage page = LoadInChromium("file:///tmp/x.html#search=foo",
//                                     "/tmp/shot.png");
//   EXPECT_EQ(BodyAttribute(page.dom, "data-state"), "ready");
//
// Thread safety: thread-safe.
#ifndef INPROF_TESTS_SUPPORT_CHROMIUM_H_
#define INPROF_TESTS_SUPPORT_CHROMIUM_H_

#include <string>

namespace inprof::test {

struct BrowserPage {
  bool ok = false;      // chromium ran and dumped a DOM
  std::string dom;      // the DOM after the page's scripts ran
  std::string console;  // the page's console lines (errors start "Uncaught")
};

// Loads `url` once in a fresh headless chromium (5 s of virtual time for the
// page's timers and fetches), dumps the DOM and writes a 1280x800
// `screenshot` PNG. Records a test failure when chromium is missing, fails
// or cannot load the page.
BrowserPage LoadInChromium(const std::string& url,
                           const std::string& screenshot);

// The value of attribute `name` on <body> in `dom`, or "<none>".
std::string BodyAttribute(const std::string& dom, const std::string& name);

// Records a failure unless `path` is a PNG of some size.
void ExpectPngFile(const std::string& path);

}  // namespace inprof::test

#endif  // INPROF_TESTS_SUPPORT_CHROMIUM_H_
