// Tests of the benchmark's model: the bytes it counts, the upstream heuristic it labels rows with,
// the grids, the statistics and the output formats. The published anchors are independent data:
// their TB/s column was computed by whoever timed upstream's kernels, so reproducing it from our
// byte count and their times checks the count.
#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "bench/bench_model.h"
#include "bench/upstream_anchors.h"

using namespace pal;
using namespace pal::bench;

namespace {

BenchShape anchor_shape(const UpstreamAnchor& anchor) {
  BenchShape shape;
  shape.dtype = DType::fp16;
  shape.head_size = kAnchorHeadSize;
  shape.block_size = kAnchorBlockSize;
  shape.num_heads = anchor.num_heads;
  shape.num_kv_heads = anchor.num_kv_heads;
  shape.batch = anchor.batch;
  shape.context_len = anchor.context_len;
  return shape;
}

std::size_t count_csv_fields(const std::string& line) {
  std::size_t fields = 1;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    if (c == ',' && !quoted) ++fields;
  }
  return fields;
}

}  // namespace

TEST_CASE("counted bytes over the upstream times reproduce the published TB/s and percent of peak") {
  for (const UpstreamAnchor& anchor : kUpstreamAnchors) {
    const BenchShape shape = anchor_shape(anchor);
    INFO(shape.name() << " v" << anchor.version);
    const double tbs = terabytes_per_second(unique_bytes(shape), anchor.time_us);
    const double percent = 100 * tbs / kH100PeakTerabytesPerSecond;
    // The table rounds times to 0.1 us, TB/s to 0.01 and percent to 1: allow exactly those
    // roundings (the time's relative error carries into both rates). A wrong byte count (K or V
    // forgotten, bytes per query head instead of per KV head) misses by a factor of 2 or more.
    const double time_rounding = 0.05 / anchor.time_us;
    CHECK(std::fabs(tbs - anchor.terabytes_per_second) <= 0.005 + tbs * time_rounding + 1e-6);
    CHECK(std::fabs(percent - anchor.percent_of_peak) <= 0.5 + percent * time_rounding + 1e-6);
  }
}

TEST_CASE("the upstream heuristic picks the versions the published table marks as vLLM's pick") {
  for (const UpstreamAnchor& anchor : kUpstreamAnchors) {
    const BenchShape shape = anchor_shape(anchor);
    INFO(shape.name() << " v" << anchor.version);
    const KernelVersion version = anchor.version == 1 ? KernelVersion::v1 : KernelVersion::v2;
    CHECK((upstream_pick(shape) == version) == anchor.upstream_picks);
  }
}

TEST_CASE("the primary grid holds every anchored shape, and exactly the 56 anchors have a match") {
  const std::vector<BenchShape> grid = primary_grid(false);
  CHECK(grid.size() == 2 * 4 * 4);
  int anchored = 0;
  for (const BenchShape& shape : grid)
    for (int version : {1, 2})
      if (find_upstream_anchor(true, shape.head_size, shape.block_size, shape.num_heads, shape.num_kv_heads,
                               shape.batch, shape.context_len, version))
        ++anchored;
  CHECK(anchored == int(kUpstreamAnchors.size()));
  // The rows upstream did not time are v1 at 32768 tokens.
  CHECK(find_upstream_anchor(true, 128, 16, 32, 32, 1, 32768, 1) == nullptr);
  CHECK(find_upstream_anchor(false, 128, 16, 32, 32, 1, 512, 1) == nullptr);  // bf16 has no anchor
}

TEST_CASE("the quick grids are subsets of the full grids") {
  const std::vector<BenchShape> full = primary_grid(false);
  for (const BenchShape& quick : primary_grid(true)) {
    bool found = false;
    for (const BenchShape& shape : full) found = found || shape.name() == quick.name();
    CHECK(found);
  }
  const std::vector<BenchShape> secondary = secondary_grid(false);
  for (const BenchShape& quick : secondary_grid(true)) {
    bool found = false;
    for (const BenchShape& shape : secondary) found = found || shape.name() == quick.name();
    CHECK(found);
  }
}

TEST_CASE("benchmark scenarios are valid and allocate exactly the blocks the sequences need") {
  for (const BenchShape& shape : secondary_grid(false)) {
    INFO(shape.name());
    const Scenario scenario = make_scenario(shape, KernelVersion::v2, 7);
    CHECK(scenario.num_blocks == scenario.num_blocks_needed());
    // The host-memory limit of core's validation is not the benchmark's concern for device-made
    // inputs; every other rule must hold.
    for (const std::string& problem : scenario_problems(scenario)) CHECK(problem.find("host memory") != std::string::npos);
  }
}

TEST_CASE("the allocated KV cache equals the counted K/V bytes when contexts are whole blocks") {
  BenchShape shape;
  shape.num_kv_heads = 8;
  shape.batch = 3;
  shape.context_len = 2048;
  const std::int64_t query_and_out = 2 * std::int64_t{3} * 32 * 128 * 2;
  CHECK(kv_cache_bytes(shape) == unique_bytes(shape) - query_and_out);
  shape.context_len = 2049;  // one token into a new block: the block is allocated, not counted
  CHECK(kv_cache_bytes(shape) > unique_bytes(shape) - query_and_out);
}

TEST_CASE("summaries interpolate percentiles between order statistics") {
  const TimingSummary summary = summarize({11, 1, 10, 2, 9, 3, 8, 4, 7, 5, 6});
  CHECK(summary.count == 11);
  CHECK(summary.median == Approx(6));
  CHECK(summary.p10 == Approx(2));
  CHECK(summary.p90 == Approx(10));
  CHECK(summary.min == Approx(1));
  CHECK(summary.max == Approx(11));
  const TimingSummary even = summarize({4, 1, 3, 2});
  CHECK(even.median == Approx(2.5));
  CHECK(summarize({}).count == 0);
}

TEST_CASE("filters are regular expressions over row names, and a malformed one is refused with the flag's name") {
  BenchShape shape;
  shape.num_kv_heads = 8;
  const std::string name = row_name(shape, KernelVersion::v2);
  CHECK(name == "fp16/h128/bs16/32x8/b1/c512/v2");
  CHECK(filter_matches("", name));
  CHECK(filter_matches("/v2$", name));
  CHECK_FALSE(filter_matches("/v1$", name));
  CHECK(filter_matches("32x8/b(1|8)/", name));
  CHECK_THROWS_WITH(filter_matches("b(1", name), Catch::Contains("--filter"));
}

TEST_CASE("every CSV row has as many fields as the header, even with commas in the notes") {
  std::ostringstream header;
  write_csv_header(header);
  BenchRow measured;
  measured.version = KernelVersion::v1;
  measured.bytes = unique_bytes(measured.shape);
  measured.hot = summarize({10, 11, 12});
  measured.cold = summarize({20, 21});
  measured.anchor_us = 12.4;
  measured.check = "ok, v1=v2";
  measured.cold_method = "rotate 75 sets";
  BenchRow skipped;
  skipped.skipped = "needs 70.00 GiB of device memory; 60.00 GiB usable, \"quoted\"";
  for (const BenchRow& row : {measured, skipped}) {
    std::ostringstream line;
    write_csv_row(line, row, 3.35, 3.0);
    std::string text = line.str();
    REQUIRE(!text.empty());
    text.pop_back();  // the newline
    std::string header_text = header.str();
    header_text.pop_back();
    CHECK(count_csv_fields(text) == count_csv_fields(header_text));
  }
}
