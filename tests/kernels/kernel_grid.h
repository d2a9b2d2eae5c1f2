// The scenario grid the kernel is checked over, shared by the emulator and GPU tests.
//
// The foundation's grid is head sizes {32, 64, 80, 96, 112, 120, 128, 192, 256} x block sizes
// {8, 16, 32} x dtypes {fp32, fp16, bf16} x heads (q/kv) {(40,40), (64,8), (8,1)} x ALiBi {off, on}
// x seq_len {1, B-1, B, B+1, 3B+5, 1300}. Each grid scenario puts the six seq_lens in one launch
// (six sequences), so a scenario covers every context-length case of its configuration at once.
//
//   full:   every (dtype, head size, block size, heads, ALiBi): 486 scenarios  (the GPU test)
//   ci:     every (dtype, head size, block size), with the heads layout and ALiBi rotating through
//           their values so each appears across the 81 configurations: 81 scenarios  (the
//           emulator test in CI; the emulator runs one fiber per CUDA thread and the full grid
//           takes ~15 minutes on two cores)
//   quick:  a handful of configurations for sanitizer builds
//
// Scenarios are sharded with PAL_SHARD=i/n so that ctest can run shards in parallel.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "compare/stage_compare.h"
#include "core/scenario.h"
#include "run/recorded_run.h"

namespace pal::test {

struct HeadLayout {
  int num_heads;
  int num_kv_heads;
};

inline std::vector<Scenario> kernel_grid(const std::string& which) {
  const DType dtypes[] = {DType::fp32, DType::fp16, DType::bf16};
  const HeadLayout layouts[] = {{40, 40}, {64, 8}, {8, 1}};
  std::vector<Scenario> grid;
  int config = 0;
  for (DType dtype : dtypes)
    for (int head_size : kSupportedHeadSizes)
      for (int block_size : kSupportedBlockSizes) {
        const int b = block_size;
        auto make = [&](HeadLayout heads, bool alibi) {
          Scenario s;
          s.dtype = dtype;
          s.head_size = head_size;
          s.block_size = block_size;
          s.num_heads = heads.num_heads;
          s.num_kv_heads = heads.num_kv_heads;
          s.alibi = alibi;
          s.seq_lens = {1, b - 1, b, b + 1, 3 * b + 5, 1300};
          s.num_seqs = int(s.seq_lens.size());
          s.seed = std::uint64_t(1000 + config);
          grid.push_back(s);
        };
        if (which == "full") {
          for (HeadLayout heads : layouts)
            for (bool alibi : {false, true}) make(heads, alibi);
        } else if (which == "quick") {
          if (config % 16 == 0) make(layouts[config % 3], config % 2 == 1);
        } else {
          make(layouts[config % 3], (config / 3) % 2 == 1);
        }
        ++config;
      }
  return grid;
}

// fp8 KV caches (issue 10): both formats x scales {1, non-unit} x query dtypes x three (head size,
// block size) pairs. Which of them a backend runs depends on what the build compiled (kernels/
// CMakeLists.txt: the reduced set has fp16 queries at head 128, block 16 only); the pairs pick
// fp32's two dequantisation paths: block 8 loads one code per key vec (the product stays fp32),
// blocks 16 and 32 load 2-4 (the product is rounded through fp16). The non-unit scales are a power
// of two for K and not one for V, so the rounding after the product matters on the V side. Every
// scenario has a context longer than a v2 partition and a partial last kv_block.
inline std::vector<Scenario> fp8_grid() {
  struct Pair {
    int head_size, block_size;
  };
  std::vector<Scenario> grid;
  int config = 0;
  for (DType dtype : {DType::fp16, DType::bf16, DType::fp32})
    for (KvCacheDtype kv : {KvCacheDtype::fp8_e4m3, KvCacheDtype::fp8_e5m2})
      for (bool unit_scales : {true, false})
        for (Pair pair : {Pair{128, 16}, Pair{64, 8}, Pair{256, 32}}) {
          Scenario s;
          s.dtype = dtype;
          s.kv_cache_dtype = kv;
          s.k_scale = unit_scales ? 1.0f : 0.0625f;
          s.v_scale = unit_scales ? 1.0f : 0.3f;
          s.head_size = pair.head_size;
          s.block_size = pair.block_size;
          s.num_heads = 8;
          s.num_kv_heads = 2;
          s.alibi = config % 3 == 2;
          s.seq_lens = {1, pair.block_size + 1, 3 * pair.block_size + 5, 700};
          s.num_seqs = int(s.seq_lens.size());
          s.seed = std::uint64_t(5000 + config++);
          grid.push_back(s);
        }
  return grid;
}

// Block sparsity (issue 10): patterns of Phi-3-small's rule with sliding steps of both signs (and 0,
// every head alike), tp_rank > 0, several local-block counts and sparse block sizes, with an auto
// cache and with an fp8 one. The last pattern skips every kv_block of a whole v2 partition (sparse
// blocks of 256 tokens, one remote in four, the local one far away), where upstream's -FLT_MAX
// logits make the partition's softmax state harmless to the merge.
inline std::vector<Scenario> block_sparse_grid() {
  std::vector<Scenario> grid;
  const BlockSparseParams patterns[] = {
      // local_blocks, vert_stride, block_size, head_sliding_step, tp_rank
      {2, 4, 16, 1, 0},
      {1, 3, 32, -1, 1},
      {3, 2, 64, 2, 2},
      {1, 8, 16, 0, 0},
      {1, 4, 256, 0, 0},
  };
  int config = 0;
  for (KvCacheDtype kv : {KvCacheDtype::automatic, KvCacheDtype::fp8_e5m2})
    for (const BlockSparseParams& pattern : patterns) {
      Scenario s;
      s.dtype = DType::fp16;
      s.kv_cache_dtype = kv;
      s.k_scale = kv == KvCacheDtype::automatic ? 1.0f : 0.5f;
      s.head_size = 128;
      s.block_size = 16;
      s.num_heads = 8;
      s.num_kv_heads = 4;
      s.block_sparse = pattern;
      s.seq_lens = pattern.block_size == 256 ? std::vector<int>{2000, 300} : std::vector<int>{1, 17, 200, 1100};
      s.num_seqs = int(s.seq_lens.size());
      s.seed = std::uint64_t(7000 + config++);
      grid.push_back(s);
    }
  return grid;
}

// This process's share of `items` under PAL_SHARD=i/n (all of them when unset).
template <typename T>
std::vector<T> shard_of(const std::vector<T>& items) {
  const char* spec = std::getenv("PAL_SHARD");
  if (spec == nullptr) return items;
  int index = 0, count = 1;
  if (std::sscanf(spec, "%d/%d", &index, &count) != 2 || count <= 0 || index < 0 || index >= count) return items;
  std::vector<T> mine;
  for (std::size_t i = 0; i < items.size(); ++i)
    if (int(i % std::size_t(count)) == index) mine.push_back(items[i]);
  return mine;
}

// One grid case: the kernel run recorded on `backend` for `version`, with the reference and their
// stage-by-stage comparison (run/recorded_run.h). `checked` holds the scenario's inputs, validated
// once for both versions.
inline RecordedRun run_against_reference(const CheckedInputs& checked, KernelVersion version, Backend backend,
                                         std::size_t max_recording_bytes = kDefaultMaxRecordingBytes) {
  CheckedInputs for_version = checked;
  for_version.set_version(version);
  RecordedRunOptions options;
  options.backend = backend;
  options.record = true;
  options.max_recording_bytes = max_recording_bytes;
  return RecordedRun::from_checked(std::move(for_version), options, "kernel grid");
}

// Every stage a recording carries, not just the output: v1 9 stages, v2 12 (see compare/).
inline std::size_t recorded_stage_count(KernelVersion version) { return version == KernelVersion::v2 ? 12u : 9u; }

inline std::string grid_choice(const char* default_choice) {
  const char* env = std::getenv("PAL_KERNEL_GRID");
  return env ? std::string(env) : std::string(default_choice);
}

}  // namespace pal::test
