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

// The run the rule's figures come from (kernels/auto_version.cpp cites it).
constexpr const char* kAutoRuleRun = "docs/device-runs/2026-11-30-h200-run35-grouped-full/bench.csv";

TEST_CASE("auto picks the grouped kernel on every shape where the H200 run behind the rule measured it clearly "
          "faster, and never where it was clearly slower") {
  struct Measured {
    Scenario scenario;
    double fastest_faithful_us = 0;  // min(v1, v2)
    double grouped_us = 0;
  };
  std::map<std::string, Measured> shapes;  // every shape of the run, auto and fp8 caches, fp16 and bf16
  for (const auto& row : read_csv(kAutoRuleRun)) {
    if (!row.at("skipped").empty() || row.at("section") == "recording") continue;
    const std::string name = row.at("name");
    REQUIRE((row.at("dtype") == "fp16" || row.at("dtype") == "bf16"));
    Scenario s = shape(std::stoi(row.at("num_heads")), std::stoi(row.at("num_kv_heads")), std::stoi(row.at("batch")),
                       std::stoi(row.at("ctx")), row.at("dtype") == "bf16" ? DType::bf16 : DType::fp16);
    s.head_size = std::stoi(row.at("head_size"));
    s.block_size = std::stoi(row.at("block_size"));
    const std::string kv = row.at("kv_cache_dtype");
    s.kv_cache_dtype = kv == "fp8_e4m3" ? KvCacheDtype::fp8_e4m3
                       : kv == "fp8_e5m2" ? KvCacheDtype::fp8_e5m2
                                          : KvCacheDtype::automatic;
    Measured& m = shapes[name.substr(0, name.rfind('/'))];
    m.scenario = s;
    const double us = std::stod(row.at("hot_median_us"));
    if (row.at("version") == "grouped") m.grouped_us = us;
    else m.fastest_faithful_us = m.fastest_faithful_us == 0 ? us : std::min(m.fastest_faithful_us, us);
  }
  PickTally tally;
  for (const auto& [name, m] : shapes) {
    REQUIRE(m.grouped_us > 0);
    REQUIRE(m.fastest_faithful_us > 0);
    const double ratio = m.grouped_us / m.fastest_faithful_us;
    const bool picks_grouped = choose_auto_version(m.scenario, gpu_context(true)).version == KernelVersion::grouped;
    INFO(name << ": grouped / fastest of v1, v2 = " << ratio);
    tally.record(ratio, picks_grouped);
  }
  // Run 35 measured 112 shapes: the primary grid with the auto cache, E4M3 and E5M2, and the
  // secondary rows (heads 64 and 256, blocks 8 and 32, bf16).
  CHECK(tally.clear_wins + tally.clear_losses + tally.ties == 112);
  CHECK(tally.clear_wins == 63);
  CHECK(tally.clear_losses == 31);
  CHECK(tally.ties == 18);
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

TEST_CASE("for multi-head shapes at head 128 auto picks the grouped kernel up to 1024 (sequence, KV head) pairs or "
          "beyond 2048 tokens, and once it stops at 2048 tokens or fewer it does not pick it again at larger batches") {
  CHECK(grouped_measured_faster(shape(32, 32, 32, 2048)));  // 1024 pairs: measured faster
  CHECK_FALSE(grouped_measured_faster(shape(32, 32, 33, 2048)));
  CHECK_FALSE(grouped_measured_faster(shape(32, 32, 128, 512)));  // 4096 pairs: v1 measured 5 % faster
  CHECK(grouped_measured_faster(shape(32, 32, 128, 8192)));
  CHECK(grouped_measured_faster(shape(32, 32, 33, 2049)));
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

TEST_CASE("for multi-head shapes auto picks the grouped kernel only at head 128, and says why elsewhere") {
  for (int head_size : kSupportedHeadSizes) {
    Scenario s = shape(32, 32, 1, 512);
    s.head_size = head_size;
    std::string why;
    CHECK(grouped_measured_faster(s, &why) == (head_size == kAutoGroupedMhaHeadSize));
    if (head_size != kAutoGroupedMhaHeadSize) CHECK_THAT(why, Catch::Contains("head size " + std::to_string(head_size)));
    s.num_kv_heads = 8;  // a query group shares its KV reads at any head size
    CHECK(grouped_measured_faster(s));
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
