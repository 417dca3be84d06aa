// inprof-view: shows and diffs pprof profiles. See cli.h and `inprof-view
// help`.
#include <string>
#include <vector>

#include "viewer/cli.h"

int main(int argc, char** argv) {
  return inprof::viewer::RunViewer(
      std::vector<std::string>(argv + 1, argv + argc));
}
