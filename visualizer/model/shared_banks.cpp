// Shared-memory banks of one warp-wide instruction (see shared_banks.h).
#include "visualizer/model/shared_banks.h"

#include <algorithm>
#include <map>

namespace pal::viz {

BankInstruction bank_instruction(const simt::SiteProfile& site) {
  BankInstruction view;
  view.warp = site.example_warp;
  view.thread_block = site.example_block;
  view.bank_of_lane.fill(-1);
  view.wavefront_of_lane.fill(-1);
  view.lane_conflicted.fill(false);
  int width = 0;
  for (const simt::LaneAccess& access : site.example) width = std::max(width, access.bytes);
  view.lanes_per_phase = width > 8 ? 16 : 32;  // the model's phases (access_profile.h)
  const simt::SharedCost cost = simt::shared_instruction_cost(site.example);
  view.wavefronts = cost.wavefronts;
  view.ideal_wavefronts = cost.ideal_wavefronts;

  int first_wavefront = 0;  // of the current phase
  for (int phase = 0; phase * view.lanes_per_phase < 32; ++phase) {
    // bank -> word -> lanes, words ascending: the k-th word of a bank is served in wavefront k.
    std::map<int, std::map<std::uint64_t, std::vector<int>>> banks;
    for (const simt::LaneAccess& access : site.example) {
      if (access.lane / view.lanes_per_phase != phase) continue;
      const std::uint64_t first_word = access.address / simt::kSharedBankBytes;
      const std::uint64_t last_word = (access.address + std::uint64_t(std::max(access.bytes, 1)) - 1) / simt::kSharedBankBytes;
      for (std::uint64_t word = first_word; word <= last_word; ++word)
        banks[int(word % simt::kNumSharedBanks)][word].push_back(access.lane);
    }
    int phase_wavefronts = 0;
    for (auto& [bank, words] : banks) {
      int rank = 0;
      for (auto& [word, lanes] : words) {
        BankSlot slot;
        slot.phase = phase;
        slot.wavefront = first_wavefront + rank;
        slot.bank = bank;
        slot.word = word;
        slot.lanes = lanes;
        slot.conflicted = words.size() > 1;
        for (const int lane : lanes) {
          const auto l = std::size_t(lane);
          if (view.bank_of_lane[l] < 0) {
            view.bank_of_lane[l] = bank;
            view.wavefront_of_lane[l] = slot.wavefront;
          }
          view.wavefront_of_lane[l] = std::max(view.wavefront_of_lane[l], slot.wavefront);
          if (slot.conflicted) view.lane_conflicted[l] = true;
        }
        view.slots.push_back(std::move(slot));
        ++rank;
      }
      phase_wavefronts = std::max(phase_wavefronts, rank);
    }
    first_wavefront += phase_wavefronts;
  }
  std::sort(view.slots.begin(), view.slots.end(), [](const BankSlot& a, const BankSlot& b) {
    return a.wavefront != b.wavefront ? a.wavefront < b.wavefront : a.bank < b.bank;
  });
  return view;
}

std::vector<const simt::SiteProfile*> shared_sites_of_stage(const simt::AccessProfile& profile,
                                                           std::string_view stage) {
  std::vector<const simt::SiteProfile*> sites;
  for (const simt::SiteProfile& site : profile.sites)
    if (site.space == simt::MemorySpace::shared && site.stage == stage) sites.push_back(&site);
  return sites;
}

}  // namespace pal::viz
