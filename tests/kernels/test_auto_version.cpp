// `auto`'s choice (kernels/auto_version.h): upstream's v1/v2 heuristic, and this project's rule that
// picks the grouped kernel, checked against the committed H200 measurements it was derived from.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/auto_version.h"

using namespace pal;

namespace {

Scenario shape(int num_heads, int num_kv_heads, int batch, int context_len, DType dtype = DType::fp16) {
  Scenario s;
  s.num_heads = num_heads;
  s.num_kv_heads = num_kv_heads;
  s.num_seqs = batch;
  s.seq_lens.assign(std::size_t(batch), context_len);
  s.head_size = 128;
  s.block_size = 16;
  s.dtype = dtype;
  return s;
}

constexpr std::size_t kH200SharedMemory = 232448;

AutoContext gpu_context(bool grouped_candidate) {
  AutoContext ctx;
  ctx.shared_memory_limit = kH200SharedMemory;
  ctx.grouped_candidate = grouped_candidate;
  return ctx;
}

// One CSV line split into fields; a quoted field may hold commas.
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    else if (c == ',' && !quoted) fields.emplace_back();
    else fields.back() += c;
  }
  return fields;
}

// Rows of a committed CSV as column -> value maps.
std::vector<std::map<std::string, std::string>> read_csv(const std::string& relative_path) {
  std::ifstream in(std::string(PAL_SOURCE_DIR) + "/" + relative_path);
  REQUIRE(in);
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = csv_fields(line);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    const std::vector<std::string> fields = csv_fields(line);
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < header.size() && i < fields.size(); ++i) row[header[i]] = fields[i];
    rows.push_back(row);
  }
  return rows;
}

// "fp16/h128/bs16/32x8/b8/c2048" -> the scenario it names.
Scenario scenario_of(const std::string& name) {
  int head = 0, block = 0, heads = 0, kv_heads = 0, batch = 0, ctx = 0;
  char dtype[8] = {};
  REQUIRE(std::sscanf(name.c_str(), "%7[^/]/h%d/bs%d/%dx%d/b%d/c%d", dtype, &head, &block, &heads, &kv_heads, &batch,
                      &ctx) == 7);
  REQUIRE(std::string(dtype) == "fp16");
  Scenario s = shape(heads, kv_heads, batch, ctx);
  s.head_size = head;
  s.block_size = block;
  return s;
}

// Sorts a measured shape by grouped / fastest-of-v1-and-v2 and checks auto's pick against it: a
// clear win must pick grouped, a clear loss must not; within 3 % either way is a tie between runs,
// where either choice is right.
struct PickTally {
  int clear_wins = 0, clear_losses = 0, ties = 0;
  void record(double ratio, bool picks_grouped) {
    if (ratio < 0.97) {
      CHECK(picks_grouped);
      ++clear_wins;
    } else if (ratio > 1.03) {
      CHECK_FALSE(picks_grouped);
      ++clear_losses;
    } else {
      ++ties;
    }
  }
};

}  // namespace

TEST_CASE("auto picks the grouped kernel on every shape where the committed H200 runs measured it clearly faster, "
          "and never where it was clearly slower") {
  // v1 and v2 of run 10 and grouped of run 12 (the files the rule's comment cites), hot medians.
  std::map<std::string, double> fastest_faithful;  // shape -> min(v1, v2)
  for (const auto& row : read_csv("docs/device-runs/2026-11-29-h200-run10-merged/bench.csv")) {
    if (row.at("section") != "primary") continue;
    const std::string name = row.at("name");
    const std::string shape_name = name.substr(0, name.rfind('/'));
    const double us = std::stod(row.at("hot_median_us"));
    auto [it, inserted] = fastest_faithful.emplace(shape_name, us);
    if (!inserted) it->second = std::min(it->second, us);
  }
  PickTally tally;
  for (const auto& row : read_csv("docs/device-runs/2026-11-29-h200-run12-grouped-merge8/grouped.csv")) {
    const std::string name = row.at("shape");
    REQUIRE(fastest_faithful.count(name) == 1);
    const double ratio = std::stod(row.at("hot_median_us")) / fastest_faithful.at(name);
    const bool picks_grouped = choose_auto_version(scenario_of(name), gpu_context(true)).version == KernelVersion::grouped;
    INFO(name << ": grouped / fastest of v1, v2 = " << ratio);
    tally.record(ratio, picks_grouped);
  }
  // The files hold the whole primary grid, 32 shapes: 19 clear wins (14 GQA, 5 multi-head), the 2
  // multi-head losses at 512 tokens (batch 32 and 128), and 11 within 3 % either way.
  CHECK(tally.clear_wins == 19);
  CHECK(tally.clear_losses == 2);
  CHECK(tally.ties == 11);
}

TEST_CASE("with an fp8 cache auto picks the grouped kernel on every shape where run 23 measured it clearly faster, "
          "and never where it was clearly slower") {
  std::map<std::string, double> fastest_faithful, grouped;  // shape -> min(v1, v2), grouped
  for (const auto& row : read_csv("docs/device-runs/2026-11-29-h200-run23-integrated/bench.csv")) {
    if (row.at("section") != "primary" || row.at("kv_cache_dtype") == "auto" || !row.at("skipped").empty()) continue;
    const std::string name = row.at("name");
    const std::string shape_name = name.substr(0, name.rfind('/'));
    const double us = std::stod(row.at("hot_median_us"));
    if (row.at("version") == "grouped") {
      grouped[shape_name] = us;
    } else {
      auto [it, inserted] = fastest_faithful.emplace(shape_name, us);
      if (!inserted) it->second = std::min(it->second, us);
    }
  }
  PickTally tally;
  for (const auto& [name, grouped_us] : grouped) {
    int head = 0, block = 0, heads = 0, kv_heads = 0, batch = 0, ctx = 0;
    char format[16] = {};
    REQUIRE(std::sscanf(name.c_str(), "fp16/kv-%15[^/]/h%d/bs%d/%dx%d/b%d/c%d", format, &head, &block, &heads,
                        &kv_heads, &batch, &ctx) == 7);
    Scenario s = shape(heads, kv_heads, batch, ctx);
    s.head_size = head;
    s.block_size = block;
    s.kv_cache_dtype = std::string(format) == "fp8_e5m2" ? KvCacheDtype::fp8_e5m2 : KvCacheDtype::fp8_e4m3;
    REQUIRE(fastest_faithful.count(name) == 1);
    const double ratio = grouped_us / fastest_faithful.at(name);
    const bool picks_grouped = choose_auto_version(s, gpu_context(true)).version == KernelVersion::grouped;
    INFO(name << ": grouped / fastest of v1, v2 = " << ratio);
    tally.record(ratio, picks_grouped);
  }
  // 64 shapes (the primary grid with E4M3 and E5M2): 34 clear wins (30 GQA, the multi-head batch 1
  // at 512 and 2048 tokens), 28 multi-head losses, 2 ties (GQA batch 1 x 512, 0.995).
  CHECK(tally.clear_wins == 34);
  CHECK(tally.clear_losses == 28);
  CHECK(tally.ties == 2);
}

TEST_CASE("auto never picks the grouped kernel for block-sparse attention or fp32") {
  for (int kv_heads : {32, 8, 4, 1}) {
    std::string why;
    Scenario sparse = shape(32, kv_heads, 1, 512);
    sparse.block_sparse.vert_stride = 4;
    sparse.block_sparse.local_blocks = 2;
    CHECK_FALSE(grouped_measured_faster(sparse, &why));
    CHECK_THAT(why, Catch::Contains("block-sparse"));

    const Scenario fp32 = shape(32, kv_heads, 1, 512, DType::fp32);
    CHECK_FALSE(grouped_measured_faster(fp32));
  }
}

TEST_CASE("auto picks the grouped kernel for every query group of two or more in fp16 and bf16, at any batch and "
          "context") {
  for (DType dtype : {DType::fp16, DType::bf16})
    for (int kv_heads : {16, 8, 4, 2, 1})
      for (int batch : {1, 7, 64, 512})
        for (int ctx : {1, 300, 20000}) {
          const Scenario s = shape(32, kv_heads, batch, ctx, dtype);
          const AutoChoice choice = choose_auto_version(s, gpu_context(true));
          CHECK(choice.version == KernelVersion::grouped);
          CHECK_THAT(choice.reason, Catch::Contains("this project's rule, not upstream's"));
        }
}

TEST_CASE("for multi-head shapes auto picks the grouped kernel up to 256 (sequence, KV head) pairs or beyond 2048 "
          "tokens, and once it stops at 2048 tokens or fewer it does not pick it again at larger batches") {
  CHECK(grouped_measured_faster(shape(32, 32, 8, 2048)));    // 256 pairs: measured faster
  CHECK_FALSE(grouped_measured_faster(shape(32, 32, 9, 2048)));
  CHECK_FALSE(grouped_measured_faster(shape(32, 32, 32, 512)));  // 1024 pairs: v1 measured 14 % faster
  CHECK(grouped_measured_faster(shape(32, 32, 32, 8192)));       // upstream's v1 there took 1.24x grouped's time
  CHECK(grouped_measured_faster(shape(32, 32, 9, 2049)));
  for (int heads : {1, 8, 32, 64})
    for (int ctx : {1, 512, 2048, 2049, 8192, 40000}) {
      bool stopped = false;
      for (int batch = 1; batch <= 1024; batch *= 2) {
        const bool grouped = grouped_measured_faster(shape(heads, heads, batch, ctx));
        CHECK(grouped == (std::int64_t(batch) * heads <= kAutoGroupedMaxMhaThreadBlocks || ctx > kAutoGroupedMhaLongContext));
        if (stopped) CHECK_FALSE(grouped);
        stopped = stopped || !grouped;
      }
    }
}

TEST_CASE("without the grouped kernel as a candidate auto is upstream's v1/v2 heuristic, with v2 where v1's logits do "
          "not fit") {
  for (int kv_heads : {32, 8})
    for (int batch : {1, 8, 64, 128})
      for (int ctx : {100, 512, 513, 4096, 8192, 8193, 60000}) {
        Scenario s = shape(32, kv_heads, batch, ctx);
        const AutoChoice choice = choose_auto_version(s, gpu_context(false));
        CHECK(choice.version == upstream_auto_version(s, kH200SharedMemory));
        CHECK(choice.version != KernelVersion::grouped);
        s.version = KernelVersion::automatic;
        if (ctx <= 8192) CHECK(choice.version == s.resolved_version());  // v1's logits fit below 8192 tokens
        CHECK_THAT(choice.reason, Catch::Contains("upstream's v1/v2 heuristic"));
      }
  // A device whose thread_blocks cannot hold v1's logits of 4096 tokens (16 KiB): v2 instead.
  Scenario s = shape(32, 32, 512, 4096);
  s.version = KernelVersion::automatic;
  REQUIRE(s.resolved_version() == KernelVersion::v1);
  AutoContext small = gpu_context(false);
  small.shared_memory_limit = 8 * 1024;
  const AutoChoice choice = choose_auto_version(s, small);
  CHECK(choice.version == KernelVersion::v2);
  CHECK_THAT(choice.reason, Catch::Contains("do not fit"));
}
