#include "kernels/auto_version.h"

#include "kernels/launch_plan.h"

namespace pal {

KernelVersion upstream_auto_version(const Scenario& scenario, std::size_t shared_memory_limit) {
  Scenario resolved = scenario;
  resolved.version = KernelVersion::automatic;
  const KernelVersion version = resolved.resolved_version();
  if (version == KernelVersion::v1 &&
      make_launch_shape(scenario, KernelVersion::v1).main_total_shared_memory_bytes() > shared_memory_limit)
    return KernelVersion::v2;  // v1's logits would not fit in one thread_block
  return version;
}

// The rule, and the measurements it rests on. One NVIDIA H200, fp16, head 128, block 16, the
// primary grid (heads 32/8 and 32/32 x batch 1, 8, 32, 128 x context 512, 2k, 8k, 32k), hot medians
// of CUDA-graph replays; v1 and v2 from docs/device-runs/2026-11-29-h200-run10-merged/bench.csv
// (commit df9fea4), grouped from docs/device-runs/2026-11-29-h200-run12-grouped-merge8/grouped.csv
// (commit 8ebbf00, the v1/v2 code unchanged; its own column `ours_pick_us`, auto's v1/v2 timed again
// in the same run, is 0.96-1.015 of run 10's time on all 32 shapes).
// "grouped / fastest" is the grouped time over the faster of v1 and v2 on the same shape:
//   GQA 32/8 (group 4), all 16 shapes: 0.45-0.997 hot; 0.53-0.88 cold on the 7 shapes small
//     enough to be timed cold apart from hot (the rest read over 3x the L2 per call: cold = hot).
//     Closest: batch 1 x 8k 0.997 (21.7 vs 21.8 us), batch 8 x 512 0.97.
//   MHA 32/32 (group 1), batch x KV heads <= 256 (batch 1 and 8): 6 of 8 shapes faster, 0.70-0.98
//     hot; batch 1 x 8k 1.017 hot / 1.033 cold (39.9 vs 39.2 us), batch 8 x 32k 1.001.
//   MHA 32/32, batch x KV heads >= 1024 (batch 32 and 128): 1.01-1.15 at 512 and 2k tokens (v1
//     65.4 vs 74.8 us at 32 x 512); 0.991-1.003 at 8k and 32k tokens, where upstream's heuristic
//     picks v1 at 8k, 1.09-1.24x the faster v2 (32 x 8k: v1 1199, v2 969, grouped 963 us).
// Hence: grouped for every group of 2 or more; for a group of one, grouped up to 256 (sequence, KV
// head) pairs, or beyond 2048 tokens. Not measured, so decided by reasoning, and said so: group 2 and group 8 (the saving is the
// group's re-reads, G - 1 of every G KV reads, so group 2 saves less than group 4 and group 8 more;
// both are kept with the measured group 4), head sizes and block sizes other than 128/16 (the same
// pipeline and tiles), bf16 (the same tensor-core path as fp16). fp32 runs the grouped kernel's
// CUDA-core path, which was never timed against v1/v2: auto keeps upstream's choice there. The
// multi-head thresholds lie between 256 and 1024 pairs and between 2048 and 8192 tokens; each is
// the last measured point on the grouped kernel's side or the faithful kernel's.
bool grouped_measured_faster(const Scenario& scenario, std::string* why) {
  auto say = [why](std::string text) {
    if (why) *why = std::move(text);
  };
  if (scenario.block_sparse.enabled()) {
    say("the grouped kernel has no block-sparse attention");
    return false;
  }
  if (scenario.dtype == DType::fp32) {
    say("fp32 runs the grouped kernel on CUDA cores, never timed against v1/v2");
    return false;
  }
  if (scenario.num_kv_heads <= 0 || scenario.num_heads % scenario.num_kv_heads != 0) {
    say("the heads do not form query groups");
    return false;
  }
  const int group_size = scenario.num_heads / scenario.num_kv_heads;
  if (is_fp8(scenario.kv_cache_dtype)) {
    // fp8 caches, measured apart (H200 run 23, docs/device-runs/2026-11-29-h200-run23-integrated/
    // bench.csv, commit e7eb834; fp16 queries, head 128, block 16, E4M3 and E5M2 alike; each row
    // against the faster of v1 and v2 with the same cache): GQA 32/8, all 16 shapes: 0.39-0.995 (the
    // grouped kernel converts each code once per group, v1/v2 once per query head); multi-head
    // 32/32: 0.81-0.87 at batch 1 with 512 and 2048 tokens, 1.12-1.57 on every larger shape (its
    // conversions on the shared-memory reads are not hidden once the GPU is full).
    const std::int64_t fp8_pairs = std::int64_t(scenario.num_seqs) * scenario.num_kv_heads;
    if (group_size >= 2) {
      say("an fp8 cache with query groups of " + std::to_string(group_size) +
          ": the grouped kernel converts each code once per group (H200: 0.39-0.995 of v1/v2's time at group 4)");
      return true;
    }
    if (fp8_pairs <= kAutoGroupedFp8MaxMhaThreadBlocks && scenario.max_seq_len() <= kAutoGroupedFp8MhaMaxContext) {
      say("multi-head with an fp8 cache, " + std::to_string(fp8_pairs) + " (sequence, KV head) pairs and at most " +
          std::to_string(kAutoGroupedFp8MhaMaxContext) + " tokens (H200: 0.81-0.87 of v1/v2's time)");
      return true;
    }
    say("multi-head with an fp8 cache beyond " + std::to_string(kAutoGroupedFp8MaxMhaThreadBlocks) + " pairs or " +
        std::to_string(kAutoGroupedFp8MhaMaxContext) + " tokens: v1/v2 are faster (H200: grouped 1.12-1.57 of their time)");
    return false;
  }
  if (group_size >= 2) {
    say("query groups of " + std::to_string(group_size) +
        ": the grouped kernel reads each KV head once per group (H200: 0.45-0.997 of v1/v2's time at group 4)");
    return true;
  }
  const std::int64_t pairs = std::int64_t(scenario.num_seqs) * scenario.num_kv_heads;
  if (pairs <= kAutoGroupedMaxMhaThreadBlocks) {
    say("multi-head with " + std::to_string(pairs) + " (sequence, KV head) pairs <= " +
        std::to_string(kAutoGroupedMaxMhaThreadBlocks) + ": the split plan fills the GPU (H200: 0.70-1.02 of v1/v2's time)");
    return true;
  }
  if (scenario.max_seq_len() > kAutoGroupedMhaLongContext) {
    say("multi-head with " + std::to_string(pairs) + " (sequence, KV head) pairs and " +
        std::to_string(scenario.max_seq_len()) + " > " + std::to_string(kAutoGroupedMhaLongContext) +
        " tokens: H200 0.99-1.003 of the faster of v1/v2, where upstream's pick at 8k tokens, v1, is 1.09-1.24x");
    return true;
  }
  say("multi-head with " + std::to_string(pairs) + " (sequence, KV head) pairs > " +
      std::to_string(kAutoGroupedMaxMhaThreadBlocks) + " and at most " + std::to_string(kAutoGroupedMhaLongContext) +
      " tokens: v1 is faster (H200: grouped 1.01-1.15 of its time)");
  return false;
}

AutoChoice choose_auto_version(const Scenario& scenario, const AutoContext& ctx) {
  AutoChoice choice;
  std::string why;
  if (ctx.grouped_candidate && grouped_measured_faster(scenario, &why)) {
    choice.version = KernelVersion::grouped;
    choice.reason = "grouped (this project's rule, not upstream's): " + why;
    return choice;
  }
  choice.version = upstream_auto_version(scenario, ctx.shared_memory_limit);
  Scenario heuristic_only = scenario;
  heuristic_only.version = KernelVersion::automatic;
  std::string upstream_reason = "upstream's v1/v2 heuristic";
  if (choice.version != heuristic_only.resolved_version())
    upstream_reason += ", then v2 because v1's logits do not fit in shared memory";
  if (!ctx.grouped_candidate)
    choice.reason = std::string(version_name(choice.version)) + " (" + upstream_reason + "; not grouped: " +
                    (ctx.why_not_grouped.empty() ? std::string("not a candidate on this device") : ctx.why_not_grouped) +
                    ")";
  else
    choice.reason = std::string(version_name(choice.version)) + " (" + upstream_reason + "; not grouped: " + why + ")";
  return choice;
}

}  // namespace pal
