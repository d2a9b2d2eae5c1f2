// Hover look-ups: an element of q, k_cache or v_cache gives its index tuple, byte address, value
// and the lane that loaded it. Expected loaders are worked out by hand from the kernel's rules for the
// default geometry (fp16, head_size 64, block_size 16: THREAD_GROUP_SIZE 2, VEC_SIZE 4, x 8,
// V_VEC_SIZE 8, NUM_V_VECS_PER_ROW 2, NUM_ROWS_PER_ITER 16), and values against the reference's
// own gather functions.
#include <catch2/catch.hpp>

#include "reference/paged_reference.h"
#include "tests/visualizer/viz_test_support.h"
#include "visualizer/model/memory_lookup.h"

namespace pal::viz {
namespace {

using test::cached_session;
using test::default_scenario;

struct Focus {
  const Session& session;
  Timeline timeline;
  LoadIndex index;
  Focus(const Session& s, int seq, int head) : session(s), timeline(build_timeline(s, seq, head)), index(s, seq, head) {}
  ElementInfo describe(TensorKind tensor, std::int64_t element) const {
    return describe_element(session, index, timeline, tensor, element);
  }
};

TEST_CASE("a key element is found at k_cache[block][kv_head][d/x][slot][d%x] and was loaded by its token's thread group") {
  const Session& session = cached_session(default_scenario());
  const Focus focus(session, 1, 2);  // head 2 reads kv head 1 (4 heads over 2 kv heads)
  const int token = 21;              // logical block 1, slot 5
  const int dim = 19;
  const int physical = session.physical_block(1, 1);
  // Offsets by hand: block stride 2*64*16, head stride 64*16, chunk stride 16*8, slot stride 8.
  const std::int64_t element = std::int64_t(physical) * 2048 + 1 * 1024 + (19 / 8) * 128 + 5 * 8 + 19 % 8;
  CHECK(key_element(session, physical, 1, dim, 5) == element);

  const ElementInfo info = focus.describe(TensorKind::key_cache, element);
  CHECK(info.index == std::vector<std::int64_t>{physical, 1, 2, 5, 3});
  CHECK(info.byte_address == element * 2);
  CHECK(info.dim == dim);
  CHECK(info.seq_idx == 1);
  CHECK(info.token_idx == token);
  CHECK(info.value == key_gather(session.inputs(), 1, 1, token)[dim]);
  REQUIRE(info.loader.has_value());
  // Block 1 goes to warp 1 in iteration 0; slot 5 is the warp's thread group 5 = block thread group
  // 16 + 5; dim 19 is in vec 19/4 = 4, which is lane 4 % 2 = 0 of the group, as k_vecs[4 / 2 = 2].
  CHECK(info.loader->warp == 1);
  CHECK(info.loader->iteration == 0);
  CHECK(info.loader->thread_group == 21);
  CHECK(info.loader->thread == 42);
  CHECK(info.loader->lane == 10);
  CHECK(info.loader->vec_idx == 2);
  CHECK(info.loaded_at_step == focus.timeline.find(StepKind::qk_iteration, 0, 0));
}

TEST_CASE("a value element is found at v_cache[block][kv_head][d][slot] and was loaded by the lane owning its row and slice") {
  const Session& session = cached_session(default_scenario());
  const Focus focus(session, 1, 0);  // head 0 reads kv head 0
  const int token = 21;
  const int dim = 19;
  const int physical = session.physical_block(1, 1);
  const std::int64_t element = std::int64_t(physical) * 2048 + 19 * 16 + 5;
  CHECK(value_element(session, physical, 0, dim, 5) == element);
  const ElementInfo info = focus.describe(TensorKind::value_cache, element);
  CHECK(info.index == std::vector<std::int64_t>{physical, 0, 19, 5});
  CHECK(info.token_idx == token);
  CHECK(info.value == value_gather(session.inputs(), 1, 0, token)[dim]);
  REQUIRE(info.loader.has_value());
  // Slot 5 is in the first 8-token slice (even lanes); row 19 = lane/2 + 16*i gives i = 1, lane 6.
  CHECK(info.loader->warp == 1);
  CHECK(info.loader->lane == 6);
  CHECK(info.loader->thread == 38);
  CHECK(info.loader->vec_idx == 1);
  CHECK(info.loader->first_element == element - 5);
  CHECK(info.loaded_at_step == focus.timeline.find(StepKind::v_iteration, 0, 0));
}

TEST_CASE("a query element was copied by the thread group of its q_vecs column") {
  const Session& session = cached_session(default_scenario());
  const Focus focus(session, 1, 3);
  const std::int64_t element = (1 * 4 + 3) * 64 + 19;
  const ElementInfo info = focus.describe(TensorKind::query, element);
  CHECK(info.index == std::vector<std::int64_t>{1, 3, 19});
  CHECK(info.value == session.inputs().query.get_float(element));
  REQUIRE(info.loader.has_value());
  // Dim 19 is vec 4: lane 4 % 2 = 0 of thread group 4 / 2 = 2, i.e. thread 4.
  CHECK(info.loader->thread == 4);
  CHECK(info.loader->iteration == 2);
  CHECK(info.loaded_at_step == 0);
}

TEST_CASE("padding slots of a partial last block are read by the kernel but belong to no token") {
  const Session& session = cached_session(default_scenario());
  const Focus focus(session, 0, 0);  // 37 tokens: block 2 holds tokens 32-36 in slots 0-4
  const int physical = session.physical_block(0, 2);
  const ElementInfo info = focus.describe(TensorKind::key_cache, key_element(session, physical, 0, 0, 9));
  CHECK(info.seq_idx == 0);
  CHECK(info.token_idx == -1);
  CHECK(info.loader.has_value());
  CHECK_THAT(info.summary(), Catch::Contains("padding"));
}

TEST_CASE("elements of an unused pool block have no owner and no loader") {
  const Session& session = cached_session(default_scenario());
  const Focus focus(session, 1, 1);
  int unused = -1;
  for (int b = 0; b < static_cast<int>(session.block_owners().size()); ++b)
    if (session.block_owners()[static_cast<std::size_t>(b)].seq_idx < 0) unused = b;
  REQUIRE(unused >= 0);  // the default pool has spare blocks
  const ElementInfo info = focus.describe(TensorKind::value_cache, value_element(session, unused, 0, 3, 3));
  CHECK(info.seq_idx == -1);
  CHECK_FALSE(info.loader.has_value());
  CHECK_THAT(info.summary(), Catch::Contains("no sequence uses this block"));
}

TEST_CASE("every element of a thread block's key range is loaded exactly once by it") {
  const Session& session = cached_session(default_scenario());
  const LoadIndex index(session, 1, 0);
  std::map<std::int64_t, int> seen;
  for (const Loader& load : index.loads())
    if (load.kind == LoadKind::key)
      for (int e = 0; e < load.num_elements; ++e) ++seen[load.first_element + e];
  // 7 blocks * 16 slots * 64 dims, the padding slots of the last block included.
  CHECK(seen.size() == 7u * 16u * 64u);
  for (const auto& [element, count] : seen) CHECK(count == 1);
}

TEST_CASE("in v2 every partition loads the query, and the look-up reports the partition asked for") {
  Scenario scenario;
  scenario.num_seqs = 1;
  scenario.seq_lens = {1100};  // 3 partitions
  scenario.version = KernelVersion::v2;
  const Session& session = cached_session(scenario);
  const LoadIndex index(session, 0, 1);
  const std::int64_t element = 1 * 64 + 10;  // q[0][1][10]
  for (int partition = 0; partition < 3; ++partition) {
    const Loader* load = index.loader_of(TensorKind::query, element, partition);
    REQUIRE(load != nullptr);
    CHECK(load->partition_idx == partition);
  }
  CHECK(index.loader_of(TensorKind::query, element, 3) == nullptr);
  CHECK(index.loader_of(TensorKind::query, element)->partition_idx == 0);
  // A key of token 600 belongs to partition 1 only.
  const int physical = session.physical_block(0, 600 / 16);
  const std::int64_t key = key_element(session, physical, 0, 3, 600 % 16);
  CHECK(index.loader_of(TensorKind::key_cache, key, 0) == nullptr);
  REQUIRE(index.loader_of(TensorKind::key_cache, key, 1) != nullptr);
  const Timeline timeline = build_timeline(session, 0, 1);
  const ElementInfo info = describe_element(session, index, timeline, TensorKind::key_cache, key);
  REQUIRE(info.loader.has_value());
  CHECK(info.loader->partition_idx == 1);
  CHECK(info.token_idx == 600);
}

TEST_CASE("looking up an element outside the tensor is refused with its size") {
  const Session& session = cached_session(default_scenario());
  const Focus focus(session, 0, 0);
  CHECK_THROWS_WITH(focus.describe(TensorKind::query, session.inputs().query.numel()), Catch::Contains("elements"));
  CHECK_THROWS_AS(focus.describe(TensorKind::key_cache, -1), ScenarioError);
}

}  // namespace
}  // namespace pal::viz
