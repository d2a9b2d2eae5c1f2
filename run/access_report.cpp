// The access profile as text (see access_report.h).
#include "run/access_report.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "kernels/stage_registry.h"

namespace pal {

namespace {

using simt::AccessDirection;
using simt::MemorySpace;
using simt::SiteProfile;

const char* kind_of(const SiteProfile& site) {
  if (site.space == MemorySpace::global) return site.direction == AccessDirection::load ? "global ld" : "global st";
  return site.direction == AccessDirection::load ? "shared ld" : "shared st";
}

Stage stage_of(const SiteProfile& site) {
  Stage stage{};
  if (!parse_stage(site.stage, stage))
    throw std::logic_error("access site '" + site.name + "' at " + site.location() + " names no stage: '" +
                           site.stage + "'");
  return stage;
}

std::string format_row(const std::string& stage, const std::string& name, const std::string& where,
                       const char* kind, int bytes, const SiteProfile& sums) {
  char text[512];
  const double lanes = sums.instructions > 0 ? double(sums.lane_accesses) / double(sums.instructions) : 0.0;
  const std::string width = bytes > 0 ? std::to_string(bytes) : "";  // subtotals mix widths
  if (sums.space == MemorySpace::shared) {
    const double conflicted =
        sums.instructions > 0 ? 100.0 * double(sums.conflicted_instructions) / double(sums.instructions) : 0.0;
    std::snprintf(text, sizeof text, "%-18s %-24s %-30s %-9s %3s %11lld %6.1f %12lld %12lld %6.2f %6.1f%%\n",
                  stage.c_str(), name.c_str(), where.c_str(), kind, width.c_str(), static_cast<long long>(sums.instructions),
                  lanes, static_cast<long long>(sums.wavefronts), static_cast<long long>(sums.ideal_wavefronts),
                  sums.conflict_ways(), conflicted);
  } else {
    const double lines = sums.instructions > 0 ? double(sums.lines) / double(sums.instructions) : 0.0;
    std::snprintf(text, sizeof text, "%-18s %-24s %-30s %-9s %3s %11lld %6.1f %12s %12s %6s %7s %9lld %6.2f %6.2f\n",
                  stage.c_str(), name.c_str(), where.c_str(), kind, width.c_str(), static_cast<long long>(sums.instructions),
                  lanes, "", "", "", "", static_cast<long long>(sums.sectors), sums.sectors_per_request(), lines);
  }
  return text;
}

void add_into(SiteProfile& sum, const SiteProfile& site) {
  sum.instructions += site.instructions;
  sum.lane_accesses += site.lane_accesses;
  sum.wavefronts += site.wavefronts;
  sum.ideal_wavefronts += site.ideal_wavefronts;
  sum.conflicted_instructions += site.conflicted_instructions;
  sum.sectors += site.sectors;
  sum.lines += site.lines;
}

}  // namespace

std::string access_profile_table(const simt::AccessProfile& profile) {
  std::vector<const SiteProfile*> sites;
  for (const SiteProfile& site : profile.sites) sites.push_back(&site);
  std::stable_sort(sites.begin(), sites.end(), [](const SiteProfile* a, const SiteProfile* b) {
    return stage_of(*a) < stage_of(*b);
  });
  std::string text;
  char header[512];
  std::snprintf(header, sizeof header, "%-18s %-24s %-30s %-9s %3s %11s %6s %12s %12s %6s %7s %9s %6s %6s\n", "stage",
                "site", "source", "kind", "B", "instrs", "lanes", "wavefronts", "ideal", "ways", "confl.", "sectors",
                "sec/rq", "ln/rq");
  text += header;
  for (std::size_t i = 0; i < sites.size();) {
    const Stage stage = stage_of(*sites[i]);
    std::size_t end = i;
    while (end < sites.size() && stage_of(*sites[end]) == stage) ++end;
    for (std::size_t k = i; k < end; ++k) {
      const SiteProfile& site = *sites[k];
      text += format_row(site.stage, site.name, site.location(), kind_of(site), site.bytes_per_lane, site);
    }
    if (end - i > 1) {
      // The stage's subtotal per kind (shared loads, shared stores, global loads).
      for (const auto& [space, direction] : {std::pair{MemorySpace::shared, AccessDirection::load},
                                             std::pair{MemorySpace::shared, AccessDirection::store},
                                             std::pair{MemorySpace::global, AccessDirection::load}}) {
        SiteProfile sum;
        sum.space = space;
        sum.direction = direction;
        int count = 0;
        for (std::size_t k = i; k < end; ++k)
          if (sites[k]->space == space && sites[k]->direction == direction) add_into(sum, *sites[k]), ++count;
        if (count > 1) text += format_row("", "  (stage total)", "", kind_of(sum), 0, sum);
      }
    }
    i = end;
  }
  // The whole run, per kind.
  text += "\n";
  for (const auto& [space, direction] : {std::pair{MemorySpace::shared, AccessDirection::load},
                                         std::pair{MemorySpace::shared, AccessDirection::store},
                                         std::pair{MemorySpace::global, AccessDirection::load}}) {
    SiteProfile sum;
    sum.space = space;
    sum.direction = direction;
    for (const SiteProfile* site : sites)
      if (site->space == space && site->direction == direction) add_into(sum, *site);
    text += format_row("all stages", "(total)", std::to_string(profile.num_thread_blocks) + " thread_blocks",
                       kind_of(sum), 0, sum);
  }
  return text;
}

std::string access_profile_totals(const simt::AccessProfile& profile) {
  const simt::AccessTotals shared_ld = simt::access_totals(profile, MemorySpace::shared, AccessDirection::load);
  const simt::AccessTotals shared_st = simt::access_totals(profile, MemorySpace::shared, AccessDirection::store);
  const simt::AccessTotals global_ld = simt::access_totals(profile, MemorySpace::global, AccessDirection::load);
  std::string text;
  auto line = [&](const char* name, std::int64_t value) {
    text += std::string(name) + " = " + std::to_string(value) + "\n";
  };
  line("thread_blocks", profile.num_thread_blocks);
  line("shared_ld_instructions", shared_ld.instructions);
  line("shared_ld_wavefronts", shared_ld.wavefronts);
  line("shared_ld_ideal_wavefronts", shared_ld.ideal_wavefronts);
  line("shared_ld_bank_conflicts", shared_ld.wavefronts - shared_ld.ideal_wavefronts);
  line("shared_st_instructions", shared_st.instructions);
  line("shared_st_wavefronts", shared_st.wavefronts);
  line("shared_st_bank_conflicts", shared_st.wavefronts - shared_st.ideal_wavefronts);
  line("global_ld_requests", global_ld.instructions);
  line("global_ld_sectors", global_ld.sectors);
  return text;
}

}  // namespace pal
