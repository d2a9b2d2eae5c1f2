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
#include <vector>

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

}  // namespace pal::viz
