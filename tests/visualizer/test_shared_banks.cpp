// The shared-memory view's model: lanes laid out on banks and wavefronts (visualizer/model/shared_banks.h).
#include <catch2/catch.hpp>

#include "visualizer/model/session.h"
#include "visualizer/model/shared_banks.h"

using namespace pal;
using namespace pal::viz;

namespace {

simt::SiteProfile site_with(std::vector<simt::LaneAccess> lanes) {
  simt::SiteProfile site;
  site.space = simt::MemorySpace::shared;
  site.example = std::move(lanes);
  return site;
}

}  // namespace

TEST_CASE("consecutive floats: one wavefront, lane l in bank l, nothing conflicted") {
  std::vector<simt::LaneAccess> lanes;
  for (int lane = 0; lane < 32; ++lane) lanes.push_back({lane, std::uint64_t(256 + 4 * lane), 4});
  const BankInstruction view = bank_instruction(site_with(lanes));
  CHECK(view.wavefronts == 1);
  CHECK(view.slots.size() == 32);
  for (int lane = 0; lane < 32; ++lane) {
    CHECK(view.bank_of_lane[std::size_t(lane)] == lane);
    CHECK(view.wavefront_of_lane[std::size_t(lane)] == 0);
    CHECK_FALSE(view.lane_conflicted[std::size_t(lane)]);
  }
}

TEST_CASE("two q_vecs rows 128 bytes apart: each bank serves row 0, then row 1, and every lane waits in a conflict") {
  std::vector<simt::LaneAccess> lanes;
  for (int lane = 0; lane < 32; ++lane) lanes.push_back({lane, std::uint64_t(lane % 2) * 128, 8});
  const BankInstruction view = bank_instruction(site_with(lanes));
  CHECK(view.wavefronts == 2);
  CHECK(view.ideal_wavefronts == 1);
  REQUIRE(view.slots.size() == 4);  // banks 0 and 1, each with a row-0 and a row-1 word
  CHECK(view.slots[0].wavefront == 0);
  CHECK(view.slots[0].lanes.size() == 16);  // the even lanes: a broadcast of row 0's word
  CHECK(view.slots[2].wavefront == 1);
  CHECK(view.wavefront_of_lane[1] == 1);
  CHECK(view.lane_conflicted[0]);
  // Padded by 16 bytes, row 1 moves to banks 4 and 5: one wavefront.
  for (auto& access : lanes) access.address = std::uint64_t(access.lane % 2) * 144;
  const BankInstruction padded = bank_instruction(site_with(lanes));
  CHECK(padded.wavefronts == 1);
  CHECK_FALSE(padded.lane_conflicted[1]);
  CHECK(padded.bank_of_lane[1] == 4);
}

TEST_CASE("the wavefronts of the view are the profile's cost of the same lanes, for every site of a session") {
  const Session session = make_session(Scenario{}, Backend::emulator);
  REQUIRE(session.access_profile() != nullptr);
  const auto sites = shared_sites_of_stage(*session.access_profile(), "qk_logits");
  REQUIRE_FALSE(sites.empty());
  for (const simt::SiteProfile& site : session.access_profile()->sites) {
    if (site.space != simt::MemorySpace::shared) continue;
    const BankInstruction view = bank_instruction(site);
    INFO(site.name);
    CHECK(view.wavefronts == site.example_wavefronts);
    CHECK(view.ideal_wavefronts == site.example_ideal);
    int last_wavefront = -1;
    for (const BankSlot& slot : view.slots) last_wavefront = std::max(last_wavefront, slot.wavefront);
    CHECK(last_wavefront + 1 == view.wavefronts);
  }
}
