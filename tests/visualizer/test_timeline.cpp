// The timeline tells the kernel's story in kernel order, with the right number of steps for the
// geometry and the right lanes active at each step (worked out here from the kernel's rules).
#include <catch2/catch.hpp>

#include <algorithm>

#include "tests/visualizer/viz_test_support.h"
#include "visualizer/model/format.h"
#include "visualizer/model/timeline.h"

namespace pal::viz {
namespace {

using test::cached_session;
using test::default_scenario;

int count_kind(const Timeline& timeline, StepKind kind) {
  return static_cast<int>(std::count_if(timeline.steps.begin(), timeline.steps.end(),
                                        [kind](const Step& step) { return step.kind == kind; }));
}

std::vector<int> active_threads(const Step& step) {
  std::vector<int> threads;
  for (int t = 0; t < static_cast<int>(step.active_threads.size()); ++t)
    if (step.is_active(t)) threads.push_back(t);
  return threads;
}

TEST_CASE("timeline stages of a v1 thread block come in kernel order") {
  const Session& session = cached_session(default_scenario());
  const Timeline timeline = build_timeline(session, 1, 0);
  REQUIRE(timeline.size() > 0);
  for (int i = 1; i < timeline.size(); ++i)
    CHECK(static_cast<int>(timeline.steps[static_cast<std::size_t>(i - 1)].stage()) <=
          static_cast<int>(timeline.steps[static_cast<std::size_t>(i)].stage()));
  CHECK(timeline.steps.front().kind == StepKind::query_load);
  CHECK(timeline.steps.back().kind == StepKind::output_write);
  for (const Step& step : timeline.steps) {
    CHECK_FALSE(step.title.empty());
    CHECK_FALSE(step.description.empty());
    CHECK(step.num_active() > 0);
  }
}

TEST_CASE("timeline step counts follow the geometry of the default scenario") {
  // fp16, block_size 16, head_size 64, 128 threads: THREAD_GROUP_SIZE = 32 / 16 = 2, 4 warps.
  // seq 1 has 100 tokens = 7 kv_blocks, dealt to 4 warps: 2 iterations of each loop.
  const Session& session = cached_session(default_scenario());
  const Timeline timeline = build_timeline(session, 1, 2);
  CHECK(count_kind(timeline, StepKind::query_load) == 1);
  CHECK(count_kind(timeline, StepKind::qk_iteration) == 2);
  CHECK(count_kind(timeline, StepKind::qk_max_warp_xor) == 4);  // masks 16, 8, 4, 2: stop at the group size
  CHECK(count_kind(timeline, StepKind::qk_max_cross_warp_xor) == 2);  // masks 2, 1 over 4 warps
  CHECK(count_kind(timeline, StepKind::exp_pass) == 1);               // 100 tokens < 128 threads
  CHECK(count_kind(timeline, StepKind::exp_sum_warp_xor) == 5);       // masks 16 .. 1
  CHECK(count_kind(timeline, StepKind::v_iteration) == 2);
  CHECK(count_kind(timeline, StepKind::lv_warp_xor) == 1);  // 16 tokens / 8 per vec = 2 lanes per row: one xor
  CHECK(count_kind(timeline, StepKind::tree_write) == 2);   // 4 -> 2 -> 1 warps
  CHECK(count_kind(timeline, StepKind::tree_accumulate) == 2);
  CHECK(count_kind(timeline, StepKind::reduce_output) == 0);  // v1 has no reduce

  std::vector<int> masks;
  for (const Step& step : timeline.steps)
    if (step.kind == StepKind::qk_max_warp_xor) masks.push_back(step.xor_mask);
  CHECK(masks == std::vector<int>{16, 8, 4, 2});
}

TEST_CASE("timeline of a short sequence has one iteration and an exp pass over its tokens only") {
  const Session& session = cached_session(default_scenario());
  const Timeline timeline = build_timeline(session, 0, 0);  // 37 tokens: 3 kv_blocks
  CHECK(count_kind(timeline, StepKind::qk_iteration) == 1);
  const Step& exp_step = timeline.steps[static_cast<std::size_t>(timeline.first_of(StepKind::exp_pass))];
  const std::vector<int> threads = active_threads(exp_step);
  REQUIRE(threads.size() == 37);
  CHECK(threads.front() == 0);
  CHECK(threads.back() == 36);
  // Warp 3 gets no block (3 blocks for 4 warps): its lanes do not load in the QK iteration.
  const Step& qk = timeline.steps[static_cast<std::size_t>(timeline.first_of(StepKind::qk_iteration))];
  CHECK(qk.num_active() == 96);
  CHECK_FALSE(qk.is_active(96));
}

TEST_CASE("lanes active at a step are the ones the kernel's code runs") {
  const Session& session = cached_session(default_scenario());
  const Timeline timeline = build_timeline(session, 1, 0);

  SECTION("the query copy is done by the first NUM_VECS_PER_THREAD thread groups") {
    // 64 dims / (2 lanes * 4 elements) = 8 columns of q_vecs, one per thread group: threads 0-15.
    const Step& step = timeline.steps[static_cast<std::size_t>(timeline.first_of(StepKind::query_load))];
    const std::vector<int> threads = active_threads(step);
    REQUIRE(threads.size() == 16);
    CHECK(threads.back() == 15);
  }
  SECTION("the second QK iteration leaves the warp without a block idle") {
    // Blocks 4, 5, 6 go to warps 0, 1, 2; warp 3 would need block 7 and seq 1 has 7 blocks.
    const Step& step = timeline.steps[static_cast<std::size_t>(timeline.find(StepKind::qk_iteration, 0, 1))];
    const std::vector<int> threads = active_threads(step);
    REQUIRE(threads.size() == 96);
    CHECK(threads.back() == 95);
  }
  SECTION("only lane 0 of each warp writes red_smem") {
    const Step& step = timeline.steps[static_cast<std::size_t>(timeline.first_of(StepKind::qk_max_red_smem))];
    CHECK(active_threads(step) == std::vector<int>{0, 32, 64, 96});
  }
  SECTION("the output is written by warp 0's row owners") {
    // Two lanes share a row (NUM_V_VECS_PER_ROW = 2); the even one writes it.
    const Step& step = timeline.steps[static_cast<std::size_t>(timeline.first_of(StepKind::output_write))];
    std::vector<int> expected;
    for (int lane = 0; lane < 32; lane += 2) expected.push_back(lane);
    CHECK(active_threads(step) == expected);
  }
  SECTION("the first tree level has the upper two warps write and the lower two add") {
    const Step& write = timeline.steps[static_cast<std::size_t>(timeline.find(StepKind::tree_write, 0, 0))];
    const Step& add = timeline.steps[static_cast<std::size_t>(timeline.find(StepKind::tree_accumulate, 0, 0))];
    CHECK(write.is_active(64));
    CHECK(write.is_active(126));
    CHECK_FALSE(write.is_active(65));
    CHECK_FALSE(write.is_active(0));
    CHECK(add.is_active(0));
    CHECK(add.is_active(62));
    CHECK_FALSE(add.is_active(64));
  }
}

TEST_CASE("a v2 timeline runs every partition in turn and ends with the reduce") {
  Scenario scenario;
  scenario.num_seqs = 1;
  scenario.seq_lens = {1100};  // 3 partitions of 512 tokens
  scenario.num_heads = 2;
  scenario.num_kv_heads = 1;
  scenario.version = KernelVersion::v2;
  const Session& session = cached_session(scenario);
  const Timeline timeline = build_timeline(session, 0, 1);
  CHECK(count_kind(timeline, StepKind::query_load) == 3);
  // Partition 0 has 512 tokens = 32 blocks over 4 warps: 8 iterations; partition 2 has 76 tokens.
  int iterations_of_partition_0 = 0;
  for (const Step& step : timeline.steps)
    iterations_of_partition_0 += step.kind == StepKind::qk_iteration && step.partition_idx == 0;
  CHECK(iterations_of_partition_0 == 8);
  CHECK(timeline.find(StepKind::qk_iteration, 2, 0) > timeline.last_of(StepKind::output_write, 1));
  // 512 tokens over 128 threads: 4 exp passes in a full partition.
  int exp_passes = 0;
  for (const Step& step : timeline.steps) exp_passes += step.kind == StepKind::exp_pass && step.partition_idx == 1;
  CHECK(exp_passes == 4);
  const int n = timeline.size();
  CHECK(timeline.steps[static_cast<std::size_t>(n - 3)].kind == StepKind::reduce_max);
  CHECK(timeline.steps[static_cast<std::size_t>(n - 2)].kind == StepKind::reduce_rescale);
  CHECK(timeline.steps[static_cast<std::size_t>(n - 1)].kind == StepKind::reduce_output);
  CHECK(timeline.steps.back().partition_idx == -1);
}

TEST_CASE("step descriptions carry the recorded values beside the reference's") {
  const Session& session = cached_session(default_scenario());
  const Timeline timeline = build_timeline(session, 1, 3);
  const ThreadBlockStages& reference = session.reference().thread_block(1, 3);
  const Step& broadcast = timeline.steps[static_cast<std::size_t>(timeline.first_of(StepKind::qk_max_broadcast))];
  CHECK_THAT(broadcast.description, Catch::Contains(format_value(reference.qk_max, 6)));
  const Step& sum = timeline.steps[static_cast<std::size_t>(timeline.first_of(StepKind::exp_sum_broadcast))];
  CHECK_THAT(sum.description, Catch::Contains(format_value(reference.exp_sum, 6)));
}

TEST_CASE("steps are found by index, by stage name and by 'last'") {
  const Session& session = cached_session(default_scenario());
  const Timeline timeline = build_timeline(session, 0, 1);
  CHECK(timeline.parse_step("0") == 0);
  CHECK(timeline.parse_step("last") == timeline.size() - 1);
  CHECK(timeline.parse_step(std::string(stage_name(Stage::qk_max))) == timeline.first_of(StepKind::qk_max_warp_xor));
  CHECK(timeline.parse_step(std::string(stage_name(Stage::output))) == timeline.size() - 1);
  CHECK(timeline.parse_step("9999") == -1);
  CHECK(timeline.parse_step("not_a_stage") == -1);
}

TEST_CASE("a timeline for a sequence or head that does not exist is refused with the valid range") {
  const Session& session = cached_session(default_scenario());
  CHECK_THROWS_WITH(build_timeline(session, 2, 0), Catch::Contains("sequences 0-1"));
  CHECK_THROWS_WITH(build_timeline(session, 0, 4), Catch::Contains("heads 0-3"));
}

}  // namespace
}  // namespace pal::viz
