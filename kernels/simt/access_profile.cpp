// The access profiler: the cost model and the collection (see access_profile.h).
#include "kernels/simt/access_profile.h"

#include <algorithm>
#include <array>
#include <map>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "kernels/simt/emulator.h"

namespace pal::simt {

namespace {
constexpr int kWarpSize = 32;
// Lanes served together: 256 bytes of requests, so the whole warp up to 8 bytes a lane, each
// half-warp for 16 (the model in access_profile.h).
int lanes_per_phase(int bytes) { return bytes > 8 ? kWarpSize / 2 : kWarpSize; }
}  // namespace

SharedCost shared_instruction_cost(std::span<const LaneAccess> lanes) {
  int width = 0;
  for (const LaneAccess& access : lanes) width = std::max(width, access.bytes);
  const int phase_lanes = lanes_per_phase(width);
  SharedCost cost;
  for (int first_lane = 0; first_lane < kWarpSize; first_lane += phase_lanes) {
    std::unordered_set<std::uint64_t> words;
    for (const LaneAccess& access : lanes) {
      if (access.lane < first_lane || access.lane >= first_lane + phase_lanes) continue;
      const std::uint64_t first_word = access.address / kSharedBankBytes;
      const std::uint64_t last_word = (access.address + std::uint64_t(std::max(access.bytes, 1)) - 1) / kSharedBankBytes;
      for (std::uint64_t word = first_word; word <= last_word; ++word) words.insert(word);
    }
    if (words.empty()) continue;
    std::array<int, kNumSharedBanks> words_per_bank{};
    for (const std::uint64_t word : words) ++words_per_bank[std::size_t(word % kNumSharedBanks)];
    cost.wavefronts += *std::max_element(words_per_bank.begin(), words_per_bank.end());
    cost.ideal_wavefronts += int((words.size() + kNumSharedBanks - 1) / kNumSharedBanks);
  }
  return cost;
}

GlobalCost global_instruction_cost(std::span<const LaneAccess> lanes) {
  std::unordered_set<std::uint64_t> sectors;
  std::unordered_set<std::uint64_t> lines;
  for (const LaneAccess& access : lanes) {
    const std::uint64_t last_byte = access.address + std::uint64_t(std::max(access.bytes, 1)) - 1;
    for (std::uint64_t s = access.address / kSectorBytes; s <= last_byte / kSectorBytes; ++s) sectors.insert(s);
    for (std::uint64_t l = access.address / kCacheLineBytes; l <= last_byte / kCacheLineBytes; ++l) lines.insert(l);
  }
  return GlobalCost{int(sectors.size()), int(lines.size())};
}

AccessTotals access_totals(const AccessProfile& profile, MemorySpace space, AccessDirection direction) {
  AccessTotals totals;
  for (const SiteProfile& site : profile.sites) {
    if (site.space != space || site.direction != direction) continue;
    totals.instructions += site.instructions;
    totals.wavefronts += site.wavefronts;
    totals.ideal_wavefronts += site.ideal_wavefronts;
    totals.conflicted_instructions += site.conflicted_instructions;
    totals.sectors += site.sectors;
    totals.lines += site.lines;
  }
  return totals;
}

namespace {

struct RawAccess {
  int site;
  int thread;
  std::uint64_t address;
  int bytes;
};

// A site as the kernel names it: literal pointers identify it quickly within one binary.
struct SiteKey {
  const char* stage;
  const char* name;
  const char* file;
  int line;
  MemorySpace space;
  AccessDirection direction;
  bool operator==(const SiteKey&) const = default;
};
struct SiteKeyHash {
  std::size_t operator()(const SiteKey& key) const {
    std::size_t h = std::hash<const void*>{}(key.name);
    h = h * 31 + std::hash<const void*>{}(key.file);
    h = h * 31 + std::size_t(key.line);
    return h * 4 + std::size_t(key.space) * 2 + std::size_t(key.direction);
  }
};

std::string file_name_of(const char* path) {
  const std::string text(path);
  const std::size_t slash = text.find_last_of('/');
  return slash == std::string::npos ? text : text.substr(slash + 1);
}

struct Collector {
  AccessProfile profile;
  std::unordered_map<SiteKey, int, SiteKeyHash> site_index;
  std::vector<RawAccess> block_accesses;  // the thread_block in progress
  int block_linear_idx = -1;

  int site_of(const SiteKey& key) {
    const auto found = site_index.find(key);
    if (found != site_index.end()) return found->second;
    // The same site compiled into another translation unit has other literal addresses.
    const std::string file = file_name_of(key.file);
    for (std::size_t i = 0; i < profile.sites.size(); ++i) {
      const SiteProfile& s = profile.sites[i];
      if (s.line == key.line && s.space == key.space && s.direction == key.direction && s.name == key.name &&
          s.stage == key.stage && s.file == file)
        return site_index[key] = int(i);
    }
    SiteProfile site;
    site.stage = key.stage;
    site.name = key.name;
    site.file = file;
    site.line = key.line;
    site.space = key.space;
    site.direction = key.direction;
    profile.sites.push_back(std::move(site));
    return site_index[key] = int(profile.sites.size() - 1);
  }

  // Folds the buffered thread_block into the per-site totals.
  void end_block() {
    if (block_accesses.empty()) return;
    // Instruction key: (site, warp, per-lane occurrence), ordered so that "first" is well defined.
    std::map<std::tuple<int, int, std::int64_t>, std::vector<LaneAccess>> instructions;
    std::unordered_map<std::uint64_t, std::int64_t> occurrences;  // (thread, site) -> count so far
    for (const RawAccess& raw : block_accesses) {
      const std::uint64_t lane_site = (std::uint64_t(std::uint32_t(raw.thread)) << 32) | std::uint32_t(raw.site);
      const std::int64_t occurrence = occurrences[lane_site]++;
      instructions[{raw.site, raw.thread / kWarpSize, occurrence}].push_back(
          LaneAccess{raw.thread % kWarpSize, raw.address, raw.bytes});
    }
    for (const auto& [key, lanes] : instructions) {
      SiteProfile& site = profile.sites[std::size_t(std::get<0>(key))];
      ++site.instructions;
      site.lane_accesses += std::int64_t(lanes.size());
      for (const LaneAccess& lane : lanes) site.bytes_per_lane = std::max(site.bytes_per_lane, lane.bytes);
      int example_wavefronts = 0;
      int example_ideal = 1;
      if (site.space == MemorySpace::shared) {
        const SharedCost cost = shared_instruction_cost(lanes);
        site.wavefronts += cost.wavefronts;
        site.ideal_wavefronts += cost.ideal_wavefronts;
        if (cost.wavefronts > cost.ideal_wavefronts) ++site.conflicted_instructions;
        example_wavefronts = cost.wavefronts;
        example_ideal = cost.ideal_wavefronts;
      } else {
        const GlobalCost cost = global_instruction_cost(lanes);
        site.sectors += cost.sectors;
        site.lines += cost.lines;
        example_wavefronts = cost.sectors;
      }
      // Keep the worst instruction (the first of equals): ways compared as fractions.
      const bool worse = site.example.empty() ||
                         std::int64_t(example_wavefronts) * site.example_ideal >
                             std::int64_t(site.example_wavefronts) * example_ideal;
      if (worse) {
        site.example = lanes;
        site.example_warp = std::get<1>(key);
        site.example_block = block_linear_idx;
        site.example_wavefronts = example_wavefronts;
        site.example_ideal = example_ideal;
      }
    }
    block_accesses.clear();
    ++profile.num_thread_blocks;
  }
};

Collector* active_collector = nullptr;

}  // namespace

AccessProfiler::AccessProfiler() {
  if (active_collector != nullptr) throw std::logic_error("AccessProfiler: one is collecting already");
  active_collector = new Collector();
}

AccessProfiler::~AccessProfiler() {
  delete active_collector;
  active_collector = nullptr;
}

AccessProfile AccessProfiler::profile() {
  active_collector->end_block();
  return active_collector->profile;
}

namespace detail {

bool access_profiler_active() { return active_collector != nullptr; }

void note_access(const AccessSite& site, MemorySpace space, AccessDirection direction, std::uint64_t address,
                 int bytes) {
  Collector* collector = active_collector;
  if (collector == nullptr || current_thread == nullptr) return;
  const Dim3& grid = grid_dim();
  const Dim3& block = current_thread->block_idx;
  collector->block_linear_idx = (block.z * grid.y + block.y) * grid.x + block.x;
  const int site_idx = collector->site_of(SiteKey{site.stage, site.name, site.file, site.line, space, direction});
  // Wider accesses are split into 16-byte instructions, as the GPU compiler splits them.
  for (int piece = 0; piece < bytes; piece += kMaxAccessBytes)
    collector->block_accesses.push_back(RawAccess{site_idx, current_thread->thread_idx, address + std::uint64_t(piece),
                                                  std::min(kMaxAccessBytes, bytes - piece)});
}

void access_profile_block_end() {
  if (active_collector != nullptr) active_collector->end_block();
}

}  // namespace detail

}  // namespace pal::simt
