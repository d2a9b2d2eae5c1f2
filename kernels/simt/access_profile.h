// The emulator as a profiler of what it can know exactly: every shared-memory access and every
// global load of every lane, grouped into warp-wide instructions, with the cost the hardware's
// memory pipeline charges for each.
//
// Model (what is counted, and why so):
//   * A warp-wide instruction is the accesses of one site (kernels/access_site.h) by the lanes of one
//     warp at the same per-lane occurrence: the n-th time lane a and lane b execute the site belong
//     to the same instruction. Lanes that skip the site (a branch) are simply inactive in it.
//   * Accesses wider than 16 bytes are split into 16-byte pieces, one instruction each, as the GPU
//     compiler emits a 32-byte vector as two 128-bit instructions.
//   * Shared memory: 32 banks of 4 bytes; word w lies in bank w % 32. Lanes are served in phases: the
//     whole warp for 4- and 8-byte accesses, each half-warp for 16-byte ones (256 bytes of requests
//     per phase). A phase takes as many wavefronts as the most distinct words any one bank must
//     deliver; lanes reading the same word share it (broadcast). The ideal is the fewest wavefronts
//     the phase's distinct words need: ceil(distinct words / 32). Conflict ways = wavefronts / ideal.
//     The half-warp phase of 16-byte accesses is fitted to the H200's counters, not taken from a
//     manual: ncu's shared-load wavefronts, requests and bank conflicts of run 11
//     (docs/device-runs/2026-11-29-h200-run11-ncu) match it exactly and rule out quarter-warp phases
//     (docs/performance/NOTES.md, "The emulator as a profiler").
//   * Global memory: a request touches the 32-byte sectors and 128-byte lines that its active lanes'
//     bytes fall in. Addresses are offsets in their tensor, whose base the GPU allocator aligns to
//     256 bytes (cudaMalloc), so that the emulator's host allocations do not shift the sectors.
//   * Shared addresses are the emulator's host addresses: a shift of a whole array by a multiple of 4
//     bytes renames the banks of every lane alike, so counts do not depend on where the array lies.
//
// Collection: an AccessProfiler alive on the launching thread makes the recording probe's hooks
// (kernels/probes.h) report to it; accesses are buffered per thread_block and folded into per-site
// totals at the end of each thread_block, so memory stays bounded by one thread_block's accesses.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kernels/access_site.h"

namespace pal::simt {

enum class MemorySpace : std::uint8_t { shared, global };
enum class AccessDirection : std::uint8_t { load, store };

inline constexpr int kNumSharedBanks = 32;
inline constexpr int kSharedBankBytes = 4;
inline constexpr int kSectorBytes = 32;
inline constexpr int kCacheLineBytes = 128;
inline constexpr int kMaxAccessBytes = 16;  // widest single memory instruction per lane

// One lane's part of a warp-wide instruction.
struct LaneAccess {
  int lane = 0;               // [0, 32)
  std::uint64_t address = 0;  // shared: byte address; global: byte offset in the tensor
  int bytes = 0;              // 1, 2, 4, 8 or 16, naturally aligned
};

struct SharedCost {
  int wavefronts = 0;
  int ideal_wavefronts = 0;
};
// The wavefronts of one warp-wide shared-memory instruction (the model above).
SharedCost shared_instruction_cost(std::span<const LaneAccess> lanes);

struct GlobalCost {
  int sectors = 0;
  int lines = 0;
};
// The sectors and lines one warp-wide global request touches.
GlobalCost global_instruction_cost(std::span<const LaneAccess> lanes);

// The bank of a shared-memory byte address.
constexpr int shared_bank_of(std::uint64_t address) {
  return int((address / kSharedBankBytes) % kNumSharedBanks);
}

// Everything counted at one access site, over every warp and thread_block of the run.
struct SiteProfile {
  std::string stage;  // the stage marker's name
  std::string name;
  std::string file;   // the kernel source's file name (no directories)
  int line = 0;
  MemorySpace space = MemorySpace::shared;
  AccessDirection direction = AccessDirection::load;
  int bytes_per_lane = 0;                // the widest access of one lane (after the 16-byte split)
  std::int64_t instructions = 0;         // warp-wide instructions (global: requests)
  std::int64_t lane_accesses = 0;        // active lanes summed over the instructions
  std::int64_t wavefronts = 0;           // shared
  std::int64_t ideal_wavefronts = 0;     // shared
  std::int64_t conflicted_instructions = 0;  // shared: instructions with more wavefronts than ideal
  std::int64_t sectors = 0;              // global
  std::int64_t lines = 0;                // global
  // The first instruction with the most conflict ways (shared) or sectors (global): its lanes, for
  // the visualizer's bank view. Warp and thread_block say where it was.
  std::vector<LaneAccess> example;
  int example_warp = 0;
  int example_block = 0;  // the thread_block's linear index (x fastest)
  int example_wavefronts = 0;
  int example_ideal = 0;

  double conflict_ways() const { return ideal_wavefronts > 0 ? double(wavefronts) / double(ideal_wavefronts) : 0.0; }
  double sectors_per_request() const { return instructions > 0 ? double(sectors) / double(instructions) : 0.0; }
  std::string location() const { return file + ":" + std::to_string(line); }
};

struct AccessProfile {
  std::vector<SiteProfile> sites;  // in the order the sites were first executed
  std::int64_t num_thread_blocks = 0;
};

// Sums of a profile's sites of one space and direction.
struct AccessTotals {
  std::int64_t instructions = 0;
  std::int64_t wavefronts = 0;
  std::int64_t ideal_wavefronts = 0;
  std::int64_t conflicted_instructions = 0;
  std::int64_t sectors = 0;
  std::int64_t lines = 0;
};
AccessTotals access_totals(const AccessProfile& profile, MemorySpace space, AccessDirection direction);

// While one is alive, the emulator's recording probe reports every access to it. One at a time in a
// process (the emulator runs one launch at a time); a second throws std::logic_error.
class AccessProfiler {
 public:
  AccessProfiler();
  ~AccessProfiler();
  AccessProfiler(const AccessProfiler&) = delete;
  AccessProfiler& operator=(const AccessProfiler&) = delete;
  // What was collected so far (the thread_block in progress, if any, folded in).
  AccessProfile profile();
};

namespace detail {
// Hooks for the recording probe and the emulator; no-ops while no AccessProfiler is alive.
bool access_profiler_active();
void note_access(const AccessSite& site, MemorySpace space, AccessDirection direction, std::uint64_t address,
                 int bytes);
void access_profile_block_end();  // the emulator, after each thread_block
}  // namespace detail

}  // namespace pal::simt
