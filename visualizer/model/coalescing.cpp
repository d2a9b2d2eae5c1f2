#include "visualizer/model/coalescing.h"

#include <algorithm>
#include <limits>
#include <map>
#include <tuple>

namespace pal::viz {

Footprint footprint_of(std::span<const LaneAccess> accesses) {
  // Merge the byte ranges so overlapping lanes (a broadcast) count once.
  std::vector<std::pair<std::int64_t, std::int64_t>> ranges;
  for (const LaneAccess& access : accesses)
    if (access.num_bytes > 0) ranges.emplace_back(access.byte_begin, access.byte_begin + access.num_bytes);
  std::sort(ranges.begin(), ranges.end());
  Footprint footprint;
  std::int64_t covered_end = std::numeric_limits<std::int64_t>::min();
  for (const auto& [begin, end] : ranges) {
    const std::int64_t from = std::max(begin, covered_end);
    if (end > from) footprint.bytes_used += end - from;
    covered_end = std::max(covered_end, end);
    for (std::int64_t sector = begin / kSectorBytes; sector <= (end - 1) / kSectorBytes; ++sector)
      footprint.sectors.push_back(sector);
    for (std::int64_t line = begin / kLineBytes; line <= (end - 1) / kLineBytes; ++line) footprint.lines.push_back(line);
  }
  for (auto* list : {&footprint.sectors, &footprint.lines}) {
    std::sort(list->begin(), list->end());
    list->erase(std::unique(list->begin(), list->end()), list->end());
  }
  return footprint;
}

std::vector<WarpLoad> warp_loads(const Session& session, const LoadIndex& index) {
  // Offsets are in elements of the tensor loaded: the query's, or the cache's (1 byte for fp8).
  auto element_size_of = [&](LoadKind kind) {
    return kind == LoadKind::query ? session.element_size() : session.cache_element_size();
  };
  using Key = std::tuple<int, int, int, int, int>;  // partition, kind, iteration, trip, warp
  std::map<Key, WarpLoad> grouped;
  for (const Loader& load : index.loads()) {
    const int iteration = load.kind == LoadKind::query ? 0 : load.iteration;
    const Key key{load.partition_idx, static_cast<int>(load.kind), iteration, load.trip, load.warp};
    WarpLoad& warp_load = grouped[key];
    warp_load.kind = load.kind;
    warp_load.partition_idx = load.partition_idx;
    warp_load.warp = load.warp;
    warp_load.iteration = iteration;
    warp_load.trip = load.trip;
    const int element_size = element_size_of(load.kind);
    warp_load.lanes.push_back(LaneAccess{load.lane, load.first_element * element_size, load.num_elements * element_size});
  }
  std::vector<WarpLoad> result;
  result.reserve(grouped.size());
  for (auto& [key, warp_load] : grouped) {
    std::sort(warp_load.lanes.begin(), warp_load.lanes.end(),
              [](const LaneAccess& a, const LaneAccess& b) { return a.lane < b.lane; });
    warp_load.footprint = footprint_of(warp_load.lanes);
    result.push_back(std::move(warp_load));
  }
  return result;
}

const WhatIfInfo& what_if_info(WhatIfLayout layout) {
  static const WhatIfInfo kInfo[] = {
      {LoadKind::key, "K token-major", "[num_blocks, num_kv_heads, block_size, head_size]"},
      {LoadKind::key, "K without the x split", "[num_blocks, num_kv_heads, head_size, block_size]"},
      {LoadKind::value, "V token-major", "[num_blocks, num_kv_heads, block_size, head_size]"},
  };
  return kInfo[static_cast<std::size_t>(layout)];
}

std::int64_t what_if_offset(WhatIfLayout layout, const KvCacheLayout& cache, const KvCacheCoordinates& at) {
  const std::int64_t slice = at.physical_block * cache.num_kv_heads + at.kv_head;  // one (kv_block, kv head)
  switch (layout) {
    case WhatIfLayout::key_token_major:
    case WhatIfLayout::value_token_major:
      return (slice * cache.block_size + at.block_offset) * cache.head_size + at.dim;
    case WhatIfLayout::key_without_x_split: return (slice * cache.head_size + at.dim) * cache.block_size + at.block_offset;
  }
  return 0;
}

std::vector<std::vector<LaneAccess>> what_if_instructions(const WarpLoad& load, WhatIfLayout layout,
                                                          const KvCacheLayout& cache, int element_size) {
  std::vector<std::vector<LaneAccess>> instructions;
  for (const LaneAccess& lane : load.lanes) {
    int run = 0;
    LaneAccess current{lane.lane, 0, 0};
    auto flush = [&] {
      if (current.num_bytes == 0) return;
      if (instructions.size() <= static_cast<std::size_t>(run)) instructions.resize(static_cast<std::size_t>(run) + 1);
      instructions[static_cast<std::size_t>(run++)].push_back(current);
      current = LaneAccess{lane.lane, 0, 0};
    };
    for (std::int64_t element = lane.byte_begin / element_size;
         element < (lane.byte_begin + lane.num_bytes) / element_size; ++element) {
      const KvCacheCoordinates at =
          load.kind == LoadKind::key ? cache.key_coordinates(element) : cache.value_coordinates(element);
      const std::int64_t byte = what_if_offset(layout, cache, at) * element_size;
      if (current.num_bytes > 0 && byte != current.byte_begin + current.num_bytes) flush();
      if (current.num_bytes == 0) current.byte_begin = byte;
      current.num_bytes += element_size;
    }
    flush();
  }
  return instructions;
}

CoalescingTotals what_if_totals(std::span<const WarpLoad> loads, WhatIfLayout layout, const KvCacheLayout& cache,
                                int element_size) {
  CoalescingTotals totals;
  for (const WarpLoad& load : loads) {
    if (load.kind != what_if_info(layout).kind) continue;
    for (const std::vector<LaneAccess>& instruction : what_if_instructions(load, layout, cache, element_size)) {
      const Footprint footprint = footprint_of(instruction);
      ++totals.num_loads;
      totals.bytes_used += footprint.bytes_used;
      totals.bytes_fetched += footprint.bytes_fetched();
    }
  }
  return totals;
}

CoalescingTotals totals_of(std::span<const WarpLoad> loads, LoadKind kind) {
  CoalescingTotals totals;
  for (const WarpLoad& load : loads) {
    if (kind != LoadKind::none && load.kind != kind) continue;
    ++totals.num_loads;
    totals.bytes_used += load.footprint.bytes_used;
    totals.bytes_fetched += load.footprint.bytes_fetched();
  }
  return totals;
}

}  // namespace pal::viz
