// The access profile of a run as text: pal-run --profile's table, per stage and per site, and the
// totals that scripts/ncu_vs_emulator.sh sets beside ncu's measured counters.
#pragma once

#include <string>

#include "kernels/simt/access_profile.h"

namespace pal {

// One row per site, grouped by stage in kernel order, each stage with a subtotal: warp-wide
// instructions, active lanes per instruction, shared wavefronts against the ideal and the conflict
// ways, global requests with sectors and lines per request. Throws std::logic_error for a site whose
// stage is not a stage of kernels/stage_registry.h (a misspelt PAL_ACCESS_SITE).
std::string access_profile_table(const simt::AccessProfile& profile);

// The totals, one `name = value` per line, named after the ncu metrics they predict
// (e.g. `shared_ld_wavefronts = 1234`), for scripts.
std::string access_profile_totals(const simt::AccessProfile& profile);

}  // namespace pal
