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

// The rule, and the measurements it rests on: one NVIDIA H200, hot medians of CUDA-graph replays,
// docs/device-runs/2026-11-30-h200-run35-grouped-full/bench.csv (build 7937f82; run 34 before it,
// on the 317 rows both measured: 0.93-1.035 of its time, geometric mean 1.000). "grouped /
// fastest" is the grouped time over the faster of v1 and v2 on the same shape. fp16, head 128,
// block 16, auto cache:
//   GQA 32/8 (group 4), the 16 primary shapes: 0.46-0.82 on 15 (batch 1 x 512 0.81: 8.3 against
//     10.2 us), and batch 8 x 512 1.003 (a tie with v1).
//   MHA 32/32 (group 1), batch 1 and 8 (32 and 256 (sequence, KV head) pairs): 0.84-1.003.
//   MHA, batch 32 (1024 pairs): 0.947-1.004 at every context (32 x 2048: 250.1 us against v2's 249.3,
//     where upstream's heuristic runs v1, 298.9).
//   MHA, batch 128 (4096 pairs): 1.05 at 512 tokens, 0.989-0.997 from 2048 up.
//   Secondary shapes (batch 8 x 2048 and 32 x 8192 multi-head, 32 x 2048 GQA): GQA 0.47-0.65 at head
//     64, 256 and block 8, 32; multi-head at head 64 1.08-1.18 and at head 256 1.05 (batch 8 x 2048:
//     134.5 against v1's 127.5 us), at blocks 8 and 32 0.99-1.016; bf16 0.47-1.0 (fp16's path).
// Hence: grouped for every group of 2 or more; for a group of one only at head 128 (the one head size
// where it was measured faster), up to 1024 (sequence, KV head) pairs, or beyond 2048 tokens.
// The thresholds lie between 1024 and 4096 pairs and between 2048 and 8192 tokens; each is the last
// measured point on the grouped kernel's side or the faithful kernel's.
// Not measured, so decided by reasoning, and said so: group 2 and group 8 (the saving is the group's
// re-reads, G - 1 of every G KV reads, so group 2 saves less than group 4 and group 8 more; both are
// kept with the measured group 4); multi-head at head sizes other than 64, 128 and 256 keeps v1/v2
// (neither neighbour of 128 that was measured is a win). fp32 runs the grouped kernel's CUDA-core
// path (on fp16 it takes 1.2-2.5x the tensor-core path's time, run 35), never timed against v1/v2 in
// fp32: auto keeps upstream's choice there.
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
    // fp8 caches, measured apart (H200 run 35, the file above; fp16 queries, head 128, block 16, E4M3
    // and E5M2 alike; each row against the faster of v1 and v2 with the same cache): GQA 32/8, all 16
    // shapes: 0.34-0.77 (the grouped kernel converts each code once per group, v1/v2 once per query
    // head); multi-head 32/32: 0.78-0.84 at batch 1 with 512 and 2048 tokens, 1.01 at batch 1 x 8k,
    // 1.08-1.63 on every larger shape (its conversions on the shared-memory reads are not hidden once
    // the GPU is full).
    const std::int64_t fp8_pairs = std::int64_t(scenario.num_seqs) * scenario.num_kv_heads;
    if (group_size >= 2) {
      say("an fp8 cache with query groups of " + std::to_string(group_size) +
          ": the grouped kernel converts each code once per group (H200: 0.34-0.77 of v1/v2's time at group 4)");
      return true;
    }
    if (fp8_pairs <= kAutoGroupedFp8MaxMhaThreadBlocks && scenario.max_seq_len() <= kAutoGroupedFp8MhaMaxContext) {
      say("multi-head with an fp8 cache, " + std::to_string(fp8_pairs) + " (sequence, KV head) pairs and at most " +
          std::to_string(kAutoGroupedFp8MhaMaxContext) + " tokens (H200: 0.78-0.84 of v1/v2's time)");
      return true;
    }
    say("multi-head with an fp8 cache beyond " + std::to_string(kAutoGroupedFp8MaxMhaThreadBlocks) + " pairs or " +
        std::to_string(kAutoGroupedFp8MhaMaxContext) + " tokens: v1/v2 are faster (H200: grouped 1.01-1.63 of their time)");
    return false;
  }
  if (group_size >= 2) {
    say("query groups of " + std::to_string(group_size) +
        ": the grouped kernel reads each KV head once per group (H200: 0.46-1.003 of v1/v2's time at group 4)");
    return true;
  }
  if (scenario.head_size != kAutoGroupedMhaHeadSize) {
    say("multi-head at head size " + std::to_string(scenario.head_size) +
        ": v1/v2 (H200: the grouped kernel lost at head 64, 1.08-1.18 of their time, and 256, 1.05; it wins "
        "multi-head only at head " + std::to_string(kAutoGroupedMhaHeadSize) + ")");
    return false;
  }
  const std::int64_t pairs = std::int64_t(scenario.num_seqs) * scenario.num_kv_heads;
  if (pairs <= kAutoGroupedMaxMhaThreadBlocks) {
    say("multi-head with " + std::to_string(pairs) + " (sequence, KV head) pairs <= " +
        std::to_string(kAutoGroupedMaxMhaThreadBlocks) + ": the split plan fills the GPU (H200: 0.84-1.004 of v1/v2's time)");
    return true;
  }
  if (scenario.max_seq_len() > kAutoGroupedMhaLongContext) {
    say("multi-head with " + std::to_string(pairs) + " (sequence, KV head) pairs and " +
        std::to_string(scenario.max_seq_len()) + " > " + std::to_string(kAutoGroupedMhaLongContext) +
        " tokens: H200 0.989-0.991 of the faster of v1/v2 at 8k and 32k tokens");
    return true;
  }
  say("multi-head with " + std::to_string(pairs) + " (sequence, KV head) pairs > " +
      std::to_string(kAutoGroupedMaxMhaThreadBlocks) + " and at most " + std::to_string(kAutoGroupedMhaLongContext) +
      " tokens: v1/v2 are faster (H200: grouped 1.05 of their time at 512 tokens)");
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
