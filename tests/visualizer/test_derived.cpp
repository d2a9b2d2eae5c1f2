// The replayed in-between states end exactly where the recording's next state begins: the V loop's
// accumulators after the last iteration, the LV butterfly after its last exchange, and each tree
// level's sums (lower warp + what out_smem held).
#include <catch2/catch.hpp>

#include "tests/visualizer/viz_test_support.h"
#include "visualizer/model/derived.h"
#include "kernels/record_view.h"
#include "kernels/thread_mapping.h"

namespace pal::viz {
namespace {

using test::cached_session;

Scenario scenario_with(int block_size, DType dtype, std::vector<int> seq_lens) {
  Scenario scenario;
  scenario.block_size = block_size;
  scenario.dtype = dtype;
  scenario.num_seqs = static_cast<int>(seq_lens.size());
  scenario.seq_lens = std::move(seq_lens);
  return scenario;
}

TEST_CASE("replayed accumulators after the last V iteration equal the recorded ones bit for bit") {
  const auto [block_size, dtype] = GENERATE(std::pair{16, DType::fp16}, std::pair{32, DType::bf16}, std::pair{8, DType::fp32});
  const Session& session = cached_session(scenario_with(block_size, dtype, {37, 100}));
  const KernelGeometry g = session.geometry();
  const int seq = 1;
  const int iterations = divide_round_up(divide_round_up(session.seq_len(seq), block_size), g.num_warps());
  const ThreadBlockRecord record(session.recording(), session.tb_index(seq, 0, 0));
  const std::vector<float> accs = accs_after_v_iteration(session, seq, 0, 0, iterations - 1);
  const int rows = session.dims().num_rows_per_thread;
  for (int thread = 0; thread < session.dims().num_threads; ++thread)
    for (int row = 0; row < rows; ++row) {
      INFO("thread " << thread << " row " << row);
      CHECK(accs[static_cast<std::size_t>(thread * rows + row)] == record.acc(0, thread, row));
    }
  // Before the loop everything is zero.
  for (float value : accs_after_v_iteration(session, seq, 0, 0, -1)) CHECK(value == 0.0f);
}

TEST_CASE("the replayed LV butterfly ends at the recorded warp-reduced accumulators") {
  // block_size 32 with fp16: 4 lanes per row, so two exchanges (xor 2, xor 1).
  const Session& session = cached_session(scenario_with(32, DType::fp16, {70}));
  const std::int64_t tb = session.tb_index(0, 1, 0);
  const auto states = lv_butterfly(session, tb);
  REQUIRE(states.size() == 3);
  const ThreadBlockRecord record(session.recording(), tb);
  const int rows = session.dims().num_rows_per_thread;
  for (int thread = 0; thread < session.dims().num_threads; ++thread)
    for (int row = 0; row < rows; ++row) CHECK(states[2][static_cast<std::size_t>(thread * rows + row)] == record.acc(1, thread, row));
}

TEST_CASE("each tree level adds what out_smem held to the lower warps' sums") {
  const Session& session = cached_session(scenario_with(16, DType::fp16, {37, 100}));
  const KernelGeometry g = session.geometry();
  const std::int64_t tb = session.tb_index(1, 2, 0);
  const ThreadBlockRecord record(session.recording(), tb);
  for (int level = 0; level < g.num_tree_levels(); ++level) {
    const std::vector<float> smem = out_smem_at_tree_level(session, tb, level);
    const int mid = (g.num_warps() >> level) / 2;
    for (int warp = 0; warp < mid; ++warp)
      for (int lane = 0; lane < kWarpSize; ++lane)
        for (int row = 0; row < session.dims().num_rows_per_thread && ThreadMapping{g}.is_row_writer(lane); ++row) {
          const int row_idx = ThreadMapping{g}.value_row_idx(lane, row);
          const int thread = warp * kWarpSize + lane;
          CHECK(record.acc(2 + level, thread, row) ==
                record.acc(1 + level, thread, row) + smem[static_cast<std::size_t>(warp * g.head_size + row_idx)]);
        }
  }
}

}  // namespace
}  // namespace pal::viz
