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
