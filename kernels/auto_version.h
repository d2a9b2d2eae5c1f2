// Which version `--version auto` runs. Two layers, kept apart on purpose:
//   1. upstream vLLM's choice between its two kernels, v1 and v2 (Scenario::resolved_version, the
//      heuristic of vLLM's paged_attention op), then v2 where v1's logits would not fit in one
//      thread_block's shared memory;
//   2. this project's own rule on top, derived from its H200 measurements: the grouped kernel
//      (issue 11), wherever it was measured faster than both v1 and v2 and can run. Upstream has no
//      grouped kernel; picking it is this project's choice, not vLLM's.
// The data behind the rule is in auto_version.cpp and docs/performance/NOTES.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/scenario.h"

namespace pal {

// Layer 1 alone: upstream's heuristic, then v2 where v1 would not fit in `shared_memory_limit`
// bytes per thread_block. Never grouped; scenario.version is ignored.
KernelVersion upstream_auto_version(const Scenario& scenario, std::size_t shared_memory_limit);

// Multi-head shapes (a group of one) in H200 run 35 (auto_version.cpp has the figures): at head 128
// the grouped kernel beat or tied v1/v2 up to 1024 (sequence, KV head) pairs (batch 32 x 32 heads);
// at 4096 pairs it lost at 512 tokens and tied or won from 2048 up; at heads 64 and 256 it lost.
inline constexpr int kAutoGroupedMhaHeadSize = 128;  // the one head size where multi-head grouped won
inline constexpr std::int64_t kAutoGroupedMaxMhaThreadBlocks = 1024;
inline constexpr int kAutoGroupedMhaLongContext = 2048;  // longer than this: grouped at any batch
// With an fp8 cache (H200 run 35): multi-head shapes take the grouped kernel only this small.
inline constexpr std::int64_t kAutoGroupedFp8MaxMhaThreadBlocks = 32;
inline constexpr int kAutoGroupedFp8MhaMaxContext = 2048;

// Layer 2's rule as a pure function of the shape (no device, no build): whether the grouped kernel
// was measured faster than the faster of v1/v2 for shapes like this one, and can run it at all
// (no fp8 cache, no block sparsity). `why` (optional) gets one sentence naming the measurement.
bool grouped_measured_faster(const Scenario& scenario, std::string* why = nullptr);

// Where auto runs: what the device allows and whether the grouped kernel may run there at all.
struct AutoContext {
  std::size_t shared_memory_limit = 0;  // per thread_block (the opt-in limit on a GPU)
  // The grouped kernel is a candidate: a GPU run that does not record (the grouped kernel records on
  // the emulator only, and the measurements are the GPU's: on the emulator, whose speed says nothing
  // about the GPU's, auto keeps upstream's choice so the chapters and recordings show the taught
  // kernel), of a configuration this build compiled the grouped GPU kernel for, whose plan's shared
  // memory fits shared_memory_limit.
  bool grouped_candidate = false;
  std::string why_not_grouped;  // when not a candidate: why, for AutoChoice::reason ("" = not said)
};

struct AutoChoice {
  KernelVersion version = KernelVersion::v1;
  std::string reason;  // one sentence: which layer decided, and on what
};

// Both layers: grouped when ctx.grouped_candidate and grouped_measured_faster, else layer 1.
AutoChoice choose_auto_version(const Scenario& scenario, const AutoContext& ctx);

}  // namespace pal
