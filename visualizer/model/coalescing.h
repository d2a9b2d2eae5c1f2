// Coalescing: for each warp-wide load instruction, which bytes its lanes ask for and what the memory
// system has to fetch for them.
//
// A warp's load is served in 32-byte sectors; sectors group into 128-byte cache lines. A load whose
// 32 lanes ask for consecutive 16-byte pieces touches 512 bytes = 16 sectors = 4 lines and wastes
// nothing: efficiency (bytes used / bytes fetched) is 1. Lanes asking for scattered bytes make the
// warp fetch whole sectors for a few bytes each. Addresses are byte offsets from the tensor's base,
// which a CUDA allocation aligns to 256 bytes, so boundaries relative to it are real boundaries.
//
// One instruction = the loads of one warp with the same (kind, iteration, trip): the query copy's
// pass, or the key's k_vecs[j] / the value's row i inside one kv_block iteration.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/kv_cache_layout.h"

#include "visualizer/model/memory_lookup.h"

namespace pal::viz {

inline constexpr int kSectorBytes = 32;
inline constexpr int kLineBytes = 128;

struct LaneAccess {
  int lane = 0;
  std::int64_t byte_begin = 0;  // [byte_begin, byte_begin + num_bytes)
  int num_bytes = 0;
};

struct Footprint {
  std::int64_t bytes_used = 0;           // distinct bytes the lanes asked for
  std::vector<std::int64_t> sectors;     // distinct sector indices (byte / 32), ascending
  std::vector<std::int64_t> lines;       // distinct line indices (byte / 128), ascending
  std::int64_t bytes_fetched() const { return std::int64_t(sectors.size()) * kSectorBytes; }
  double efficiency() const { return sectors.empty() ? 1.0 : double(bytes_used) / double(bytes_fetched()); }
};

// The sectors and lines a set of lane accesses touches. Overlapping lanes count their bytes once.
Footprint footprint_of(std::span<const LaneAccess> accesses);

struct WarpLoad {
  LoadKind kind = LoadKind::none;
  int partition_idx = 0;
  int warp = 0;
  int iteration = 0;  // kv_block iteration (k, v); 0 for the query
  int trip = 0;       // query pass, k_vecs index j, or V row index i
  std::vector<LaneAccess> lanes;  // active lanes, ascending
  Footprint footprint;
};

// Every warp-wide load of the focused (seq, head), in (partition, kind, iteration, trip, warp) order.
std::vector<WarpLoad> warp_loads(const Session& session, const LoadIndex& index);

struct CoalescingTotals {
  int num_loads = 0;
  std::int64_t bytes_used = 0;
  std::int64_t bytes_fetched = 0;
  double efficiency() const { return bytes_fetched == 0 ? 1.0 : double(bytes_used) / double(bytes_fetched); }
};
CoalescingTotals totals_of(std::span<const WarpLoad> loads, LoadKind kind);  // kind none = all kinds

// ---- what-if layouts ----------------------------------------------------------------------------
// Why upstream's cache layouts are what they are: the same recorded loads (every lane reading the
// same elements of the same tokens) had the cache been laid out another way. A lane's 16 bytes are
// contiguous in upstream's layouts; in another they may fall apart into runs, and a lane then needs
// one load per run: run r of every lane forms the warp's r-th load instruction. Each instruction's
// sectors are counted on their own, as a profiler counts sectors per request.
enum class WhatIfLayout : unsigned char {
  key_token_major,      // K as [num_blocks, num_kv_heads, block_size, head_size]: each token's key whole
  key_without_x_split,  // K as [num_blocks, num_kv_heads, head_size, block_size]: V's layout, no x chunks
  value_token_major,    // V as [num_blocks, num_kv_heads, block_size, head_size]: a naive V, like q and out
};
inline constexpr WhatIfLayout kWhatIfLayouts[] = {WhatIfLayout::key_token_major, WhatIfLayout::key_without_x_split,
                                                  WhatIfLayout::value_token_major};
struct WhatIfInfo {
  LoadKind kind;           // the loads it re-addresses
  std::string_view name;   // "K token-major"
  std::string_view shape;  // "[num_blocks, num_kv_heads, block_size, head_size]"
};
const WhatIfInfo& what_if_info(WhatIfLayout layout);

// Element offset of a cache element in the what-if layout.
std::int64_t what_if_offset(WhatIfLayout layout, const KvCacheLayout& cache, const KvCacheCoordinates& at);
// The load instructions one recorded warp load becomes in the what-if layout (one, when every lane's
// bytes stay contiguous). `element_size`: bytes of a cache element.
std::vector<std::vector<LaneAccess>> what_if_instructions(const WarpLoad& load, WhatIfLayout layout,
                                                          const KvCacheLayout& cache, int element_size);
// Totals over the loads of the layout's kind: instructions, bytes used, bytes of the sectors fetched.
CoalescingTotals what_if_totals(std::span<const WarpLoad> loads, WhatIfLayout layout, const KvCacheLayout& cache,
                                int element_size);

}  // namespace pal::viz
