// Tests of kernels/stage_registry.h: every `//! [marker]` in a kernel source is a registry stage and
// every stage is a marker in the kernel of each variant that has it; names parse back; each stage's
// docs chapter exists; each stage's dump name is a recorded array's (kernels/record_schema.h).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "kernels/record_schema.h"
#include "kernels/stage_registry.h"

using namespace pal;
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// marker name -> how many lines of one source are that marker alone (as Doxygen's \snippet reads
// them; a comment that mentions "//! [name]" inside a sentence is not a marker).
std::map<std::string, int> markers_in(const std::string& text) {
  std::map<std::string, int> markers;
  const std::regex marker(R"(^\s*//!\s*\[(\w+)\]\s*$)");
  std::istringstream lines(text);
  std::string line;
  std::smatch match;
  while (std::getline(lines, line))
    if (std::regex_match(line, match, marker)) ++markers[match[1].str()];
  return markers;
}

bool is_kernel_source(const fs::path& path) {
  const std::string ext = path.extension().string();
  return ext == ".h" || ext == ".cuh" || ext == ".cu" || ext == ".cpp";
}

}  // namespace

TEST_CASE("every marker in a kernel source names a registry stage, opened and closed once", "[stage_registry]") {
  int num_markers = 0;
  for (const auto& entry : fs::recursive_directory_iterator(fs::path(PAL_SOURCE_DIR) / "kernels")) {
    if (!entry.is_regular_file() || !is_kernel_source(entry.path())) continue;
    for (const auto& [name, count] : markers_in(read_file(entry.path()))) {
      INFO(entry.path().string() << ": marker [" << name << "]");
      Stage stage{};
      CHECK(parse_stage(name, stage));
      CHECK(count == 2);  // //! [name] ... //! [name]
      ++num_markers;
    }
  }
  CHECK(num_markers >= kNumStages);
}

TEST_CASE("every registry stage is a marker in the kernel source of each variant that has it", "[stage_registry]") {
  for (const StageInfo& info : all_stages())
    for (KernelVersion variant : kKernelVariants) {
      if (!info.variants.contains(variant)) continue;
      const std::string source(kernel_source_of(variant));
      INFO("stage " << info.name << ", variant " << version_name(variant) << ", source " << source);
      REQUIRE_FALSE(source.empty());
      const auto markers = markers_in(read_file(fs::path(PAL_SOURCE_DIR) / source));
      CHECK(markers.count(std::string(info.name)) == 1);
    }
}

TEST_CASE("stage and check names are unique and parse back to themselves", "[stage_registry]") {
  std::set<std::string> names;
  for (const StageInfo& info : all_stages()) {
    Stage parsed{};
    REQUIRE(parse_stage(info.name, parsed));
    CHECK(parsed == info.stage);
    CHECK(stage_name(info.stage) == info.name);
    CHECK(names.insert(std::string(info.name)).second);
    // Titles start with the name, so a title alone says which stage it is.
    CHECK(info.title.substr(0, info.name.size()) == info.name);
  }
  for (const CheckInfo& info : all_checks()) {
    Check parsed{};
    REQUIRE(parse_check(info.name, parsed));
    CHECK(parsed == info.check);
    CHECK(names.insert(std::string(info.name)).second);  // no check shares a stage's name
  }
  Stage stage{};
  CHECK_FALSE(parse_stage("exp_and_sum", stage));
  Check check{};
  CHECK_FALSE(parse_check("qk_max", check));
}

TEST_CASE("each stage's docs chapter is a page of the docs", "[stage_registry]") {
  for (const StageInfo& info : all_stages()) {
    INFO("stage " << info.name << ": chapter " << info.chapter);
    CHECK(fs::exists(fs::path(PAL_SOURCE_DIR) / "docs" / "pages" / "chapters" / (std::string(info.chapter) + ".md")));
  }
}

TEST_CASE("each stage's dump name is the dump name of one recorded array or field", "[stage_registry]") {
  std::map<std::string, int> recorded;
  for (int i = 0; i < kNumRecordArrays; ++i) ++recorded[std::string(dump_name(record_array_info(RecordArray(i)).dump))];
#define PAL_COUNT_FIELD(field, type, dump, meaning) ++recorded[std::string(dump_name(RecordDumpName(dump)))];
  PAL_TOKEN_RECORD_FIELDS(PAL_COUNT_FIELD)
  PAL_LOAD_RECORD_FIELDS(PAL_COUNT_FIELD)
#undef PAL_COUNT_FIELD
  for (const auto& [name, count] : recorded) {
    INFO("dump name " << name);
    CHECK(count == 1);
  }
  for (const StageInfo& info : all_stages()) {
    if (info.dump_name.empty()) continue;
    INFO("stage " << info.name);
    CHECK(recorded.count(std::string(info.dump_name)) == 1);
  }
}

TEST_CASE("only compared stages carry a tolerance, and every stage gives its reason", "[stage_registry]") {
  for (const StageInfo& info : all_stages()) {
    INFO("stage " << info.name);
    CHECK_FALSE(info.tolerance.reason.empty());
    if (!info.tolerance.compared)
      CHECK(info.tolerance.atol_fixed + info.tolerance.rtol_fixed + info.tolerance.atol_dtype_ulps == 0.0);
  }
  CHECK(stage_in_variant(Stage::partition_reduce, KernelVersion::v2));
  CHECK_FALSE(stage_in_variant(Stage::partition_reduce, KernelVersion::v1));
  CHECK(check_info(Check::tmp_out).variants.contains(KernelVersion::v2));
  CHECK_FALSE(check_info(Check::tmp_out).variants.contains(KernelVersion::v1));
}

TEST_CASE("the grouped kernel's stages are its source's markers, and v1/v2 do not claim them", "[stage_registry]") {
  const auto grouped_markers =
      markers_in(read_file(fs::path(PAL_SOURCE_DIR) / std::string(kernel_source_of(KernelVersion::grouped))));
  const auto paged_markers =
      markers_in(read_file(fs::path(PAL_SOURCE_DIR) / std::string(kernel_source_of(KernelVersion::v1))));
  for (const StageInfo& info : all_stages()) {
    INFO("stage " << info.name);
    const std::string name(info.name);
    CHECK(info.variants.contains(KernelVersion::grouped) == (grouped_markers.count(name) == 1));
    const bool paged = info.variants.contains(KernelVersion::v1) || info.variants.contains(KernelVersion::v2);
    CHECK(paged == (paged_markers.count(name) == 1));
  }
  // The stages the two kernels share are the same steps of the algorithm, and those only.
  for (Stage shared : {Stage::prologue, Stage::query_load, Stage::qk_logits, Stage::value_accumulation, Stage::output})
    CHECK(stage_info(shared).variants.contains(KernelVersion::grouped));
  for (Stage paged_only : {Stage::qk_max, Stage::exp_sum, Stage::softmax, Stage::lv_warp_reduction,
                           Stage::cross_warp_tree, Stage::partition_reduce})
    CHECK_FALSE(stage_info(paged_only).variants.contains(KernelVersion::grouped));
  // The checks only a grouped run has.
  for (Check grouped_only : {Check::split_state, Check::split_partial_out, Check::oracle_output}) {
    CHECK(check_info(grouped_only).variants.contains(KernelVersion::grouped));
    CHECK_FALSE(check_info(grouped_only).variants.contains(KernelVersion::v1));
  }
  CHECK(kernel_source_of(KernelVersion::automatic).empty());
}
