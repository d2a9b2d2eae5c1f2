// The access profiler's cost model on hand-worked warp instructions, against a brute-force counter,
// and the profile of a real emulated run (kernels/simt/access_profile.h).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "kernels/simt/access_profile.h"
#include "kernels/simt/emulator.h"
#include "kernels/stage_registry.h"
#include "run/access_report.h"
#include "run/recorded_run.h"

using namespace pal;
using namespace pal::simt;

namespace {

// Lane l accesses base + l * stride_bytes, `bytes` wide, for every lane of a full warp.
std::vector<LaneAccess> strided(std::uint64_t base, std::uint64_t stride_bytes, int bytes) {
  std::vector<LaneAccess> lanes;
  for (int lane = 0; lane < 32; ++lane) lanes.push_back({lane, base + std::uint64_t(lane) * stride_bytes, bytes});
  return lanes;
}

// The same model, spelled out the slow way: every (phase, bank) pair lists its distinct words.
SharedCost brute_force_shared_cost(const std::vector<LaneAccess>& lanes) {
  int width = 0;
  for (const auto& a : lanes) width = std::max(width, a.bytes);
  const int phase_lanes = width == 16 ? 16 : 32;
  SharedCost cost;
  for (int phase = 0; phase < 32 / phase_lanes; ++phase) {
    std::map<int, std::set<std::uint64_t>> words_by_bank;
    std::set<std::uint64_t> all_words;
    for (const auto& a : lanes) {
      if (a.lane / phase_lanes != phase) continue;
      for (std::uint64_t byte = a.address; byte < a.address + std::uint64_t(a.bytes); ++byte) {
        words_by_bank[int((byte / 4) % 32)].insert(byte / 4);
        all_words.insert(byte / 4);
      }
    }
    std::size_t most = 0;
    for (const auto& [bank, words] : words_by_bank) most = std::max(most, words.size());
    cost.wavefronts += int(most);
    cost.ideal_wavefronts += int((all_words.size() + 31) / 32);
  }
  return cost;
}

}  // namespace

TEST_CASE("consecutive floats of a warp take one wavefront, the ideal") {
  const SharedCost cost = shared_instruction_cost(strided(0, 4, 4));
  CHECK(cost.wavefronts == 1);
  CHECK(cost.ideal_wavefronts == 1);
}

TEST_CASE("floats 128 bytes apart all fall in one bank: a 32-way conflict") {
  const SharedCost cost = shared_instruction_cost(strided(0, 128, 4));
  CHECK(cost.wavefronts == 32);
  CHECK(cost.ideal_wavefronts == 1);
}

TEST_CASE("a stride of two floats is a 2-way conflict, of three none (3 is odd)") {
  CHECK(shared_instruction_cost(strided(0, 8, 4)).wavefronts == 2);
  CHECK(shared_instruction_cost(strided(0, 12, 4)).wavefronts == 1);
}

TEST_CASE("every lane reading the same word is a broadcast: one wavefront") {
  const SharedCost cost = shared_instruction_cost(strided(64, 0, 4));
  CHECK(cost.wavefronts == 1);
  CHECK(cost.ideal_wavefronts == 1);
}

TEST_CASE("contiguous 8-byte and 16-byte accesses need 2 and 4 wavefronts, their ideal") {
  const SharedCost two = shared_instruction_cost(strided(0, 8, 8));
  CHECK(two.wavefronts == 2);
  CHECK(two.ideal_wavefronts == 2);
  const SharedCost four = shared_instruction_cost(strided(0, 16, 16));
  CHECK(four.wavefronts == 4);
  CHECK(four.ideal_wavefronts == 4);
}

TEST_CASE("a 32x32 float tile read down a column conflicts 32 ways, padded by one float not at all") {
  // Lane l reads tile[l][0]: rows of 32 floats put every lane in bank 0; rows of 33 spread them.
  const SharedCost unpadded = shared_instruction_cost(strided(0, 32 * 4, 4));
  const SharedCost padded = shared_instruction_cost(strided(0, 33 * 4, 4));
  CHECK(unpadded.wavefronts == 32);
  CHECK(padded.wavefronts == 1);
  CHECK(padded.ideal_wavefronts == 1);
}

TEST_CASE("two 16-byte rows 128 bytes apart, each read by half of every half-warp, conflict 2 ways") {
  // v1's q_vecs read for head 128 fp16 once pairs of vecs are merged: lanes of offset 0 and 1 of a
  // thread group read rows 0 and 1, which start 128 bytes apart.
  std::vector<LaneAccess> lanes;
  for (int lane = 0; lane < 32; ++lane) lanes.push_back({lane, std::uint64_t(lane % 2) * 128, 16});
  const SharedCost cost = shared_instruction_cost(lanes);
  CHECK(cost.wavefronts == 4);
  CHECK(cost.ideal_wavefronts == 2);
  // One row padded by 16 bytes moves row 1 to other banks.
  for (auto& a : lanes) a.address = std::uint64_t(a.lane % 2) * 144;
  CHECK(shared_instruction_cost(lanes).wavefronts == 2);
}

TEST_CASE("inactive lanes cost nothing, and an instruction of one lane takes one wavefront") {
  CHECK(shared_instruction_cost(std::vector<LaneAccess>{}).wavefronts == 0);
  const std::vector<LaneAccess> one{{5, 12, 4}};
  CHECK(shared_instruction_cost(one).wavefronts == 1);
  CHECK(shared_instruction_cost(one).ideal_wavefronts == 1);
}

TEST_CASE("the wavefront count equals a brute-force count, and is unchanged by shifting the array by 4 bytes") {
  std::mt19937 rng(12);
  const int widths[] = {1, 2, 4, 8, 16};
  for (int trial = 0; trial < 2000; ++trial) {
    const int bytes = widths[rng() % 5];
    const int num_words = 1 + int(rng() % 96);  // a small array makes conflicts and broadcasts likely
    std::vector<LaneAccess> lanes;
    for (int lane = 0; lane < 32; ++lane) {
      if (rng() % 4 == 0) continue;  // some lanes inactive
      const std::uint64_t slot = rng() % std::uint64_t(num_words);
      lanes.push_back({lane, slot * std::uint64_t(std::max(bytes, 4)) / std::uint64_t(bytes) * std::uint64_t(bytes), bytes});
    }
    const SharedCost expected = brute_force_shared_cost(lanes);
    const SharedCost got = shared_instruction_cost(lanes);
    INFO("trial " << trial << " width " << bytes);
    REQUIRE(got.wavefronts == expected.wavefronts);
    REQUIRE(got.ideal_wavefronts == expected.ideal_wavefronts);
    REQUIRE(got.wavefronts >= got.ideal_wavefronts);
    std::vector<LaneAccess> shifted = lanes;
    const std::uint64_t shift = 4 * std::uint64_t(1 + rng() % 64) * std::uint64_t(std::max(bytes, 4) / 4);
    for (auto& a : shifted) a.address += shift;
    REQUIRE(shared_instruction_cost(shifted).wavefronts == got.wavefronts);
  }
}

TEST_CASE("a coalesced 4-byte global load touches 4 sectors of one line; a 128-byte stride 32 of each") {
  const GlobalCost coalesced = global_instruction_cost(strided(0, 4, 4));
  CHECK(coalesced.sectors == 4);
  CHECK(coalesced.lines == 1);
  const GlobalCost strided_load = global_instruction_cost(strided(0, 128, 4));
  CHECK(strided_load.sectors == 32);
  CHECK(strided_load.lines == 32);
  const GlobalCost vectors = global_instruction_cost(strided(0, 16, 16));
  CHECK(vectors.sectors == 16);
  CHECK(vectors.lines == 4);
  // Misaligned by 16 bytes, the same 512 bytes straddle one more sector and line.
  const GlobalCost misaligned = global_instruction_cost(strided(16, 16, 16));
  CHECK(misaligned.sectors == 17);
  CHECK(misaligned.lines == 5);
  CHECK(global_instruction_cost(strided(40, 0, 4)).sectors == 1);  // a broadcast load
}

TEST_CASE("the profiler groups lanes by site and occurrence into warp-wide instructions") {
  AccessProfiler profiler;
  alignas(128) static float tile[32 * 33];
  static const int numbers[64] = {};
  launch_emulated({2, 1, 1}, 64, 0, [&] {
    const int lane = thread_idx() % 32;
    for (int repeat = 0; repeat < 3; ++repeat) {
      tile[lane * 32] = 1.0f;  // column write: 32-way
      detail::note_access(PAL_ACCESS_SITE("exp_sum", "column store"), MemorySpace::shared, AccessDirection::store,
                          reinterpret_cast<std::uintptr_t>(&tile[lane * 32]), 4);
    }
    if (lane < 8)  // a diverged read: 8 lanes, consecutive
      detail::note_access(PAL_ACCESS_SITE("exp_sum", "row read"), MemorySpace::shared, AccessDirection::load,
                          reinterpret_cast<std::uintptr_t>(&tile[lane]), 4);
    detail::note_access(PAL_ACCESS_SITE("prologue", "numbers"), MemorySpace::global, AccessDirection::load,
                        std::uint64_t(thread_idx()) * sizeof(int), int(sizeof(numbers[0])));
  });
  const AccessProfile profile = profiler.profile();
  REQUIRE(profile.sites.size() == 3);
  CHECK(profile.num_thread_blocks == 2);
  const SiteProfile& column = profile.sites[0];
  CHECK(column.name == "column store");
  CHECK(column.instructions == 2 * 2 * 3);  // blocks x warps x repeats
  CHECK(column.wavefronts == 12 * 32);
  CHECK(column.ideal_wavefronts == 12);
  CHECK(column.conflict_ways() == Approx(32.0));
  CHECK(column.conflicted_instructions == 12);
  CHECK(column.example.size() == 32);
  CHECK(column.file == "test_access_profile.cpp");
  const SiteProfile& row = profile.sites[1];
  CHECK(row.instructions == 4);
  CHECK(row.lane_accesses == 4 * 8);
  CHECK(row.wavefronts == 4);
  const SiteProfile& global = profile.sites[2];
  CHECK(global.space == MemorySpace::global);
  CHECK(global.instructions == 4);
  CHECK(global.sectors == 4 * 4);
  CHECK(global.sectors_per_request() == Approx(4.0));
  const AccessTotals stores = access_totals(profile, MemorySpace::shared, AccessDirection::store);
  CHECK(stores.wavefronts == 12 * 32);
}

TEST_CASE("a 32-byte access counts as two 16-byte instructions") {
  AccessProfiler profiler;
  alignas(128) static float buffer[32 * 8];
  launch_emulated({1, 1, 1}, 32, 0, [&] {
    detail::note_access(PAL_ACCESS_SITE("value_accumulation", "wide read"), MemorySpace::shared, AccessDirection::load,
                        reinterpret_cast<std::uintptr_t>(&buffer[(thread_idx() % 2) * 8]), 32);
  });
  const AccessProfile profile = profiler.profile();
  REQUIRE(profile.sites.size() == 1);
  CHECK(profile.sites[0].instructions == 2);
  CHECK(profile.sites[0].bytes_per_lane == 16);
  // Each piece: two distinct 16-byte chunks per half-warp, in banks 0-3 and 8-11 (then 4-7 and
  // 12-15): one wavefront per half-warp, two per instruction, no conflict.
  CHECK(profile.sites[0].wavefronts == 4);
  CHECK(profile.sites[0].ideal_wavefronts == 4);
}

TEST_CASE("without a profiler, noted accesses are dropped; two profilers at once are refused") {
  REQUIRE_FALSE(detail::access_profiler_active());
  detail::note_access(PAL_ACCESS_SITE("prologue", "nothing"), MemorySpace::global, AccessDirection::load, 0, 4);
  AccessProfiler profiler;
  CHECK(detail::access_profiler_active());
  CHECK_THROWS_AS(AccessProfiler(), std::logic_error);
  CHECK(profiler.profile().sites.empty());
}

// ---- the profile of emulated kernel runs -----------------------------------------------------------

namespace {

Scenario one_sequence(DType dtype, KernelVersion version, int head_size, int block_size, int seq_len) {
  Scenario s;
  s.dtype = dtype;
  s.version = version;
  s.num_seqs = 1;
  s.seq_lens = {seq_len};
  s.num_heads = 2;
  s.num_kv_heads = 1;
  s.head_size = head_size;
  s.block_size = block_size;
  return s;
}

AccessProfile profile_of(const Scenario& scenario) {
  AccessProfiler profiler;
  RecordedRunOptions options;
  options.backend = Backend::emulator;
  const RecordedRun run = RecordedRun::from_scenario(scenario, options);
  return profiler.profile();
}

const SiteProfile& site_named(const AccessProfile& profile, const std::string& name) {
  for (const SiteProfile& site : profile.sites)
    if (site.name == name) return site;
  FAIL("no access site named " << name);
  return profile.sites.front();
}

}  // namespace

TEST_CASE("every access site of the v1/v2 kernel names a stage, and the report lists it") {
  for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
    const AccessProfile profile = profile_of(one_sequence(DType::fp16, version, 128, 16, 700));
    REQUIRE(profile.sites.size() >= 10);
    for (const SiteProfile& site : profile.sites) {
      Stage stage{};
      INFO(site.name << " at " << site.location());
      CHECK(parse_stage(site.stage, stage));
      CHECK(site.file == "paged_attention_kernel.h");
      CHECK(site.instructions > 0);
    }
    const std::string table = access_profile_table(profile);
    CHECK_THAT(table, Catch::Contains("q_vecs read"));
    CHECK_THAT(access_profile_totals(profile), Catch::Contains("shared_ld_wavefronts = "));
  }
}

TEST_CASE("key and value loads of an auto cache read whole sectors: sectors x 32 bytes = bytes requested") {
  for (DType dtype : {DType::fp32, DType::fp16})
    for (int block_size : {8, 16, 32}) {
      const AccessProfile profile = profile_of(one_sequence(dtype, KernelVersion::v1, 64, block_size, 3 * block_size));
      for (const char* name : {"k_cache load", "v_cache load"}) {
        const SiteProfile& site = site_named(profile, name);
        INFO(name << ", " << dtype_name(dtype) << ", block " << block_size);
        CHECK(site.sectors * kSectorBytes == site.lane_accesses * site.bytes_per_lane);
      }
    }
}

TEST_CASE("a thread_block's query is read by every warp and every token: q_vecs reads count per token") {
  // v1, one sequence of 64 tokens (4 kv_blocks of 16, one per warp), fp16, head 128: each of the 4
  // warps executes the q_vecs read NUM_VECS_PER_THREAD = 16 times per token of its thread_group, and
  // each thread_group has 1 token per kv_block: 16 instructions per warp, 64 per thread_block.
  const AccessProfile profile = profile_of(one_sequence(DType::fp16, KernelVersion::v1, 128, 16, 64));
  const SiteProfile& q_reads = site_named(profile, "q_vecs read");
  CHECK(q_reads.instructions == 2 * 64);  // two thread_blocks (heads)
  CHECK(q_reads.bytes_per_lane == 8);
}

TEST_CASE("q_vecs reads are free of bank conflicts for every dtype, head size and block size (padded rows)") {
  // Before the rows were padded (kernels/geometry.h, q_row_padding_vecs), 16 of these configurations
  // read q_vecs with 2-way conflicts (e.g. fp16 head 128 block 16, run 11's: pal-run --profile showed
  // 2.00 ways, and ncu measured the same wavefronts on the H200, docs/performance/NOTES.md). A padding
  // of 16 bytes everywhere was wrong too: it made head 112's rows 128 bytes long (this test caught it).
  for (DType dtype : {DType::fp32, DType::fp16, DType::bf16})
    for (int head_size : {32, 64, 80, 96, 112, 120, 128, 192, 256})
      for (int block_size : {8, 16, 32}) {
        Scenario s = one_sequence(dtype, KernelVersion::v1, head_size, block_size, 4 * block_size);
        s.num_heads = 1;
        const AccessProfile profile = profile_of(s);
        const SiteProfile& q_reads = site_named(profile, "q_vecs read");
        INFO(dtype_name(dtype) << " head " << head_size << " block " << block_size);
        CHECK(q_reads.wavefronts == q_reads.ideal_wavefronts);
        CHECK(q_reads.conflicted_instructions == 0);
      }
}

TEST_CASE("the v1 kernel's run-11 thread_block: predicted counts per thread_block match ncu's on the H200") {
  // Run 11 (docs/device-runs/2026-11-29-h200-run11-ncu/ncu_v1.txt): fp16, head 128, block 16, 8192
  // tokens, 1024 thread_blocks, before the q_vecs padding. ncu's sums divided by 1024: global-load
  // requests 13317 and sectors 132108 per thread_block, shared stores 1057 instructions, shared-load
  // instructions 5664 = the emulator's count minus the 4096 q_vecs reads that ptxas merges pairwise
  // into 16-byte loads. These do not depend on the padding; the wavefronts do (the test above).
  Scenario s = one_sequence(DType::fp16, KernelVersion::v1, 128, 16, 8192);
  s.num_heads = 1;
  const AccessProfile profile = profile_of(s);
  const AccessTotals global = access_totals(profile, MemorySpace::global, AccessDirection::load);
  const AccessTotals shared_st = access_totals(profile, MemorySpace::shared, AccessDirection::store);
  const AccessTotals shared_ld = access_totals(profile, MemorySpace::shared, AccessDirection::load);
  CHECK(profile.num_thread_blocks == 1);
  CHECK(global.instructions == 13317);
  CHECK(global.sectors == 132108);
  CHECK(shared_st.instructions == 1057);
  CHECK(shared_ld.instructions - site_named(profile, "q_vecs read").instructions / 2 == 5664);
}
