// Values the recording does not store but that follow from what it stores by the kernel's own
// arithmetic, for the steps in between two recorded points:
//   - the accumulators after each V iteration (the recording keeps them after the whole V loop);
//   - each xor exchange of the LV warp reduction (the recording keeps before and after);
//   - what out_smem holds at each level of the cross-warp tree.
// Each is recomputed in the kernel's fp32 order from recorded values and the inputs; the tests check
// that the last replayed state equals the next recorded one bit for bit, so the replay cannot drift.
#pragma once

#include <cstdint>
#include <vector>

#include "visualizer/model/session.h"

namespace pal::viz {

// accs[thread * num_rows_per_thread + row] after V iterations [0, iteration] of the thread_block
// (iteration -1: before the loop, all zeros). Rows a thread does not own stay 0.
std::vector<float> accs_after_v_iteration(const Session& session, int seq_idx, int head_idx, int partition_idx,
                                          int iteration);

// The LV butterfly: entry 0 is the recorded level 0 (after the V loop), entry s the state after the
// s-th xor exchange (mask NUM_V_VECS_PER_ROW / 2^s); each entry is [num_threads * num_rows_per_thread].
std::vector<std::vector<float>> lv_butterfly(const Session& session, std::int64_t tb);

// out_smem ([NUM_WARPS / 2, head_size] floats) right after the writes of tree level `level`
// (level 0 is the first, with all warps active). NaN where nothing was written at that level.
std::vector<float> out_smem_at_tree_level(const Session& session, std::int64_t tb, int level);

}  // namespace pal::viz
