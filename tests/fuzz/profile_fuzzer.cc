// libFuzzer target for everything inprof-view does with an input file: sniff
// the format, gunzip, decode profile.proto or a gperftools legacy profile,
// check it, reduce it to stacks and render every report. Any crash, leak,
// sanitizer report or hang (libFuzzer -timeout) is a bug: the viewer must
// answer hostile files with an error, and the agent's decoder is the same
// code. Built by scripts/test.sh's fuzz phase with clang
// (-DINPROF_FUZZ=ON); run it by hand as
//
//   build-fuzz/tests/fuzz/profile_fuzzer -max_total_time=600 \
//       tests/fuzz/corpus
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "report/diff.h"
#include "viewer/folded.h"
#include "viewer/source.h"
#include "viewer/top.h"

namespace inprof::viewer {
namespace {

using report::BuildStackSet;
using report::ComparedStacks;
using report::CompareStacks;
using report::DescribeSource;
using report::DiffReport;
using report::MakeDiff;
using report::OutputFormat;
using report::OutputOptions;
using report::RenderDiff;
using report::StackOptions;
using report::StackSet;

void Exercise(std::string_view bytes) {
  LoadOptions options;
  options.symbolize = false;  // no files of the fuzzed "process" exist
  StatusOr<LoadedProfile> loaded = ParseProfileBytes(bytes, options);
  if (!loaded.ok()) return;
  const internal::Profile& p = loaded->profile;
  for (size_t i = 0; i < p.sample_types.size() && i < 4; ++i) {
    StackOptions stack_options;
    stack_options.sample_index = std::to_string(i);
    StatusOr<StackSet> stacks = BuildStackSet(p, stack_options);
    if (!stacks.ok()) continue;
    TopReport top = MakeTop(*stacks, DescribeSource(p, "fuzz"), i % 2 == 1);
    for (OutputFormat f :
         {OutputFormat::kText, OutputFormat::kJson, OutputFormat::kCsv}) {
      OutputOptions out;
      out.format = f;
      RenderTop(top, out);
    }
    RenderFolded(*stacks);
    StatusOr<ComparedStacks> compared = CompareStacks(p, p, stack_options);
    if (compared.ok()) {
      DiffReport diff = MakeDiff(*compared, DescribeSource(p, "a"),
                                 DescribeSource(p, "b"), false);
      RenderDiff(diff, OutputOptions());
    }
  }
}

}  // namespace
}  // namespace inprof::viewer

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  inprof::viewer::Exercise(
      std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
