// Shared-memory banks: which lanes of a warp-wide shared-memory access hit which of the 32 banks, and
// in which wavefront each distinct word is served, for the shared-memory view beside coalescing.
//
// The counts come from the emulator's access profile (kernels/simt/access_profile.h, which also
// states the model: 4-byte banks, broadcast of a shared word, 256 bytes of requests per phase). The
// view draws one instruction per access site: the worst the run executed there (the profile keeps
// it, with its warp and thread_block), so a site that ever conflicts shows a conflicting instance.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "kernels/simt/access_profile.h"

namespace pal::viz {

// One distinct 4-byte word served by one bank in one wavefront, and the lanes that asked for it.
struct BankSlot {
  int phase = 0;       // lanes [phase * lanes_per_phase, (phase + 1) * lanes_per_phase)
  int wavefront = 0;   // over the whole instruction: [0, wavefronts)
  int bank = 0;        // [0, 32)
  std::uint64_t word = 0;  // byte address / 4
  std::vector<int> lanes;  // ascending
  bool conflicted = false; // its bank serves more than one word in this phase
};

struct BankInstruction {
  int wavefronts = 0;
  int ideal_wavefronts = 0;
  int lanes_per_phase = 32;
  int warp = 0;
  int thread_block = 0;
  std::vector<BankSlot> slots;  // ordered by (wavefront, bank)
  // Per lane: the first bank its access touches and the wavefront that serves it (-1: inactive).
  std::array<int, 32> bank_of_lane{};
  std::array<int, 32> wavefront_of_lane{};
  std::array<bool, 32> lane_conflicted{};  // one of its words waits behind another word of its bank
};

// The site's example instruction, laid out by bank and wavefront. Its wavefront count equals
// simt::shared_instruction_cost of the same lanes.
BankInstruction bank_instruction(const simt::SiteProfile& site);

// The shared-memory sites of one stage, in the order the run first executed them.
std::vector<const simt::SiteProfile*> shared_sites_of_stage(const simt::AccessProfile& profile,
                                                           std::string_view stage);

}  // namespace pal::viz
