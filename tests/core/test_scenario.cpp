// Tests of core/scenario.h: derived sizes, every validation message, JSON and the shared flags.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/scenario.h"
#include "scratch_dir.h"

using namespace pal;
using pal::test::scratch;
using pal::test::scratch_dir;
using Catch::Contains;
using json = nlohmann::json;

namespace {

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
}

// Every field different from its default, so a round trip that drops a field shows.
Scenario unusual_scenario() {
  Scenario s;
  s.num_seqs = 3;
  s.num_heads = 12;
  s.num_kv_heads = 3;
  s.head_size = 112;
  s.block_size = 32;
  s.dtype = DType::bf16;
  s.kv_cache_dtype = KvCacheDtype::fp8_e5m2;
  s.k_scale = 0.25f;
  s.v_scale = 3.5f;
  s.seq_lens = {1, 513, 4097};
  s.num_blocks = 200;
  s.alibi = true;
  s.scale = 0.3f;
  s.block_sparse = {.local_blocks = 3, .vert_stride = 4, .block_size = 96, .head_sliding_step = -2, .tp_rank = 1};
  s.version = KernelVersion::v2;
  s.seed = 0xfedcba9876543210ull;
  return s;
}

// Parses a command line with the shared flags; returns the resolved scenario.
Scenario parse_flags(std::vector<std::string> args, const Scenario& defaults = Scenario{}) {
  CLI::App app("test");
  ScenarioFlags flags;
  add_scenario_flags(app, flags);
  std::vector<const char*> argv = {"pal-test"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return resolve_scenario_flags(flags, defaults);
}

}  // namespace

TEST_CASE("the default scenario is valid", "[scenario]") {
  CHECK(scenario_problems(Scenario{}).empty());
  CHECK_NOTHROW(validate_scenario(Scenario{}));
}

TEST_CASE("every supported head size and block size is accepted", "[scenario]") {
  const int head_size = GENERATE(32, 64, 80, 96, 112, 120, 128, 192, 256);
  const int block_size = GENERATE(8, 16, 32);
  const DType dtype = GENERATE(DType::fp32, DType::fp16, DType::bf16);
  Scenario s;
  s.head_size = head_size;
  s.block_size = block_size;
  s.dtype = dtype;
  INFO("head_size " << head_size << " block_size " << block_size);
  CHECK(scenario_problems(s).empty());
}

TEST_CASE("derived sizes follow from the sequence lengths", "[scenario]") {
  Scenario s;  // block_size 16, seq_lens {37, 100}
  CHECK(s.max_seq_len() == 100);
  CHECK(s.max_num_blocks_per_seq() == 7);  // ceil(100/16)
  CHECK(s.num_blocks_needed() == 10);      // ceil(37/16) + ceil(100/16) = 3 + 7
  CHECK(s.effective_num_blocks() == 12);   // at least 2 spare blocks
  CHECK(s.max_num_partitions() == 1);
  s.seq_lens = {513, 1024};
  CHECK(s.num_blocks_needed() == 33 + 64);
  CHECK(s.effective_num_blocks() == 97 + 24);  // a quarter spare when that is more than 2
  CHECK(s.max_num_partitions() == 2);
  s.num_blocks = 500;
  CHECK(s.effective_num_blocks() == 500);
}

TEST_CASE("the scale defaults to 1/sqrt(head_size)", "[scenario]") {
  Scenario s;
  s.head_size = 64;
  CHECK(s.effective_scale() == 0.125f);
  s.head_size = 256;
  CHECK(s.effective_scale() == 0.0625f);
  s.scale = 0.5f;
  CHECK(s.effective_scale() == 0.5f);
}

TEST_CASE("auto picks the version by upstream's rule", "[scenario]") {
  Scenario s;
  s.num_seqs = 1;
  s.num_heads = 8;
  s.num_kv_heads = 8;
  s.seq_lens = {512};
  CHECK(s.resolved_version() == KernelVersion::v1);  // one partition: no reduce needed
  s.seq_lens = {513};
  CHECK(s.resolved_version() == KernelVersion::v2);  // two partitions, few (seq, head) pairs
  s.num_heads = 512;
  s.num_kv_heads = 8;
  CHECK(s.resolved_version() == KernelVersion::v2);  // 1 * 512 is not > 512
  s.num_heads = 1024;
  CHECK(s.resolved_version() == KernelVersion::v1);  // enough thread blocks without splitting
  s.seq_lens = {8192};
  CHECK(s.resolved_version() == KernelVersion::v1);
  s.seq_lens = {8193};
  CHECK(s.resolved_version() == KernelVersion::v2);  // long contexts always split
  s.version = KernelVersion::v1;
  CHECK(s.resolved_version() == KernelVersion::v1);  // an explicit choice is kept
  s.version = KernelVersion::v2;
  s.seq_lens = {5};
  CHECK(s.resolved_version() == KernelVersion::v2);
}

TEST_CASE("version names parse back", "[scenario]") {
  for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2, KernelVersion::automatic}) {
    KernelVersion parsed = version == KernelVersion::v1 ? KernelVersion::v2 : KernelVersion::v1;
    REQUIRE(parse_version(version_name(version), parsed));
    CHECK(parsed == version);
  }
  KernelVersion untouched = KernelVersion::v1;
  CHECK_FALSE(parse_version("v3", untouched));
}

// ---- validation messages ---------------------------------------------------------------------------

TEST_CASE("validation names the field, the value and what is valid", "[scenario][validation]") {
  Scenario s;
  SECTION("num_seqs below one") {
    s.num_seqs = 0;
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("num_seqs = 0") && Contains("at least 1"));
  }
  SECTION("num_seqs beyond gridDim.y") {
    s.num_seqs = 70000;
    s.seq_lens.assign(70000, 1);
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("num_seqs = 70000") && Contains("65535") && Contains("gridDim.y"));
  }
  SECTION("num_heads out of range") {
    s.num_heads = 5000;
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("num_heads = 5000") && Contains("between 1 and 4096"));
    s.num_heads = -2;
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("num_heads = -2"));
  }
  SECTION("num_kv_heads out of range") {
    s.num_kv_heads = 0;
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("num_kv_heads = 0") && Contains("between 1 and num_heads"));
  }
  SECTION("num_heads not a multiple of num_kv_heads") {
    s.num_heads = 6;
    s.num_kv_heads = 4;
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("num_heads = 6 is not a multiple of num_kv_heads = 4") &&
                                                  Contains("1, 2, 3, 6"));
  }
  SECTION("unsupported head size") {
    s.head_size = 100;
    REQUIRE_THROWS_WITH(validate_scenario(s),
                        Contains("head_size = 100") && Contains("32, 64, 80, 96, 112, 120, 128, 192, 256"));
  }
  SECTION("unsupported block size") {
    s.block_size = 64;
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("block_size = 64") && Contains("8, 16, 32"));
  }
  SECTION("no sequences") {
    s.seq_lens.clear();
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("seq_lens is empty"));
  }
  SECTION("seq_lens and num_seqs disagree") {
    s.seq_lens = {5, 6, 7};
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("seq_lens has 3 entries but num_seqs = 2"));
  }
  SECTION("zero or negative context length") {
    s.seq_lens = {5, 0};
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("seq_lens[1] = 0") && Contains("at least 1 token"));
    s.seq_lens = {-3, 5};
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("seq_lens[0] = -3"));
  }
  SECTION("absurd context length") {
    s.seq_lens = {5, (1 << 20) + 1};
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("seq_lens[1] = 1048577") && Contains("at most 1048576"));
  }
  SECTION("pool smaller than the sequences need") {
    s.num_blocks = 9;  // {37, 100} at 16 tokens per block need 3 + 7 = 10
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("num_blocks = 9") && Contains("need 10 KV blocks") &&
                                                  Contains("num_blocks >= 10"));
    s.num_blocks = 10;
    CHECK_NOTHROW(validate_scenario(s));
  }
  SECTION("negative pool size") {
    s.num_blocks = -1;
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("num_blocks = -1") && Contains("0 for"));
  }
  SECTION("scale that is not a finite positive number") {
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(), 0.0f, -0.5f}) {
      s.scale = bad;
      REQUIRE_THROWS_WITH(validate_scenario(s), Contains("scale = ") && Contains("finite number > 0"));
    }
  }
  SECTION("thread count other than the compiled one") {
    s.num_threads = 256;
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("num_threads = 256") && Contains("only 128"));
  }
  SECTION("partition size other than the compiled one") {
    s.partition_size = 1024;
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("partition_size = 1024") && Contains("only 512"));
  }
  SECTION("partition that does not hold whole blocks") {
    s.partition_size = 520;
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("partition_size = 520 is not a multiple of block_size = 16"));
  }
  SECTION("buffers beyond the host memory limit") {
    s.num_heads = s.num_kv_heads = 64;
    s.head_size = 256;
    s.seq_lens = {1 << 20, 1 << 20};  // 2 * 2^20 tokens * 64 heads * 256 * 2 bytes * (K + V) = 128 GiB
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("GiB of host memory") && Contains("8 GiB limit") &&
                                                  Contains("shrink seq_lens"));
  }
}

TEST_CASE("all problems of a scenario are reported together", "[scenario][validation]") {
  Scenario s;
  s.head_size = 100;
  s.block_size = 7;
  s.seq_lens = {0};
  const std::vector<std::string> problems = scenario_problems(s);
  CHECK(problems.size() == 4);  // head size, block size, count mismatch, zero length
  REQUIRE_THROWS_WITH(validate_scenario(s), Contains("head_size = 100") && Contains("block_size = 7") &&
                                                Contains("seq_lens has 1 entry") && Contains("seq_lens[0] = 0"));
}

TEST_CASE("the buffer estimate counts both caches", "[scenario]") {
  Scenario s;
  s.num_blocks = 100;
  const std::int64_t base = estimated_buffer_bytes(s);
  s.num_blocks = 200;
  // 100 more blocks of K and V: 2 * 100 * num_kv_heads(2) * head_size(64) * block_size(16) * 2 bytes
  CHECK(estimated_buffer_bytes(s) - base == 2 * 100 * 2 * 64 * 16 * 2);
}

// ---- JSON ------------------------------------------------------------------------------------------

TEST_CASE("a scenario survives a JSON round trip with every field", "[scenario][json]") {
  const Scenario original = unusual_scenario();
  const json encoded = scenario_to_json(original);
  const Scenario decoded = scenario_from_json(encoded);
  CHECK(scenario_to_json(decoded) == encoded);
  CHECK(decoded.num_seqs == 3);
  CHECK(decoded.head_size == 112);
  CHECK(decoded.dtype == DType::bf16);
  CHECK(decoded.kv_cache_dtype == KvCacheDtype::fp8_e5m2);
  CHECK(decoded.k_scale == 0.25f);
  CHECK(decoded.v_scale == 3.5f);
  CHECK(decoded.block_sparse == original.block_sparse);
  CHECK(decoded.seq_lens == std::vector<int>{1, 513, 4097});
  CHECK(decoded.num_blocks == 200);
  CHECK(decoded.alibi);
  REQUIRE(decoded.scale);
  CHECK(*decoded.scale == 0.3f);
  CHECK(decoded.version == KernelVersion::v2);
  CHECK(decoded.seed == 0xfedcba9876543210ull);

  SECTION("an unset scale stays unset") {
    Scenario plain;
    const Scenario back = scenario_from_json(scenario_to_json(plain));
    CHECK_FALSE(back.scale.has_value());
  }
  SECTION("through a file") {
    const auto path = scratch_dir() / "round_trip.json";
    save_scenario_file(original, path.string());
    CHECK(scenario_to_json(load_scenario_file(path.string())) == encoded);
  }
}

TEST_CASE("a partial JSON scenario keeps the other fields of its base", "[scenario][json]") {
  Scenario base;
  base.head_size = 128;
  const Scenario s = scenario_from_json(json{{"seq_lens", {4, 5, 6}}, {"dtype", "fp32"}}, base);
  CHECK(s.head_size == 128);          // from the base
  CHECK(s.num_seqs == 3);             // follows seq_lens when not given
  CHECK(s.kv_cache_dtype == KvCacheDtype::automatic);  // the query's dtype, whatever it is
  const Scenario explicit_count = scenario_from_json(json{{"seq_lens", {4, 5, 6}}, {"num_seqs", 2}});
  CHECK(explicit_count.num_seqs == 2);  // kept as given, and then rejected by validation
  CHECK_THROWS_WITH(validate_scenario(explicit_count), Contains("seq_lens has 3 entries but num_seqs = 2"));
}

TEST_CASE("bad JSON scenarios are rejected with the field named", "[scenario][json]") {
  CHECK_THROWS_WITH(scenario_from_json(json{{"num_seq", 3}}), Contains("unknown scenario field 'num_seq'") &&
                                                                  Contains("num_seqs"));
  CHECK_THROWS_WITH(scenario_from_json(json{{"num_heads", "eight"}}),
                    Contains("'num_heads' must be an integer") && Contains("\"eight\""));
  CHECK_THROWS_WITH(scenario_from_json(json{{"num_heads", 2.5}}), Contains("'num_heads' must be an integer"));
  CHECK_THROWS_WITH(scenario_from_json(json{{"num_heads", 1e12}}), Contains("'num_heads' must be an integer"));
  CHECK_THROWS_WITH(scenario_from_json(json{{"num_heads", 5000000000LL}}), Contains("'num_heads'") &&
                                                                               Contains("out of range"));
  CHECK_THROWS_WITH(scenario_from_json(json{{"dtype", "fp8"}}),
                    Contains("'dtype'") && Contains("\"fp8\"") && Contains("\"fp32\", \"fp16\", \"bf16\""));
  CHECK_THROWS_WITH(scenario_from_json(json{{"version", "v3"}}), Contains("'version'") && Contains("\"auto\""));
  CHECK_THROWS_WITH(scenario_from_json(json{{"seq_lens", 5}}), Contains("'seq_lens' must be an array"));
  CHECK_THROWS_WITH(scenario_from_json(json{{"seq_lens", {5, "x"}}}), Contains("'seq_lens[1]' must be an integer"));
  CHECK_THROWS_WITH(scenario_from_json(json{{"alibi", 1}}), Contains("'alibi' must be true or false"));
  CHECK_THROWS_WITH(scenario_from_json(json{{"scale", "big"}}), Contains("'scale' must be a number or null"));
  CHECK_THROWS_WITH(scenario_from_json(json{{"seed", -1}}), Contains("'seed' must be a non-negative integer"));
  CHECK_THROWS_WITH(scenario_from_json(json::array({1, 2})), Contains("must be a JSON object"));
  // A scale beyond float's range becomes inf and is then refused by validation, not narrowed silently.
  const Scenario huge = scenario_from_json(json{{"scale", 1e300}});
  CHECK_THROWS_WITH(validate_scenario(huge), Contains("scale = inf"));
}

TEST_CASE("scenario files that are missing or not JSON are reported", "[scenario][json]") {
  const auto dir = scratch_dir();
  CHECK_THROWS_WITH(load_scenario_file((dir / "absent.json").string()),
                    Contains("absent.json") && Contains("does not exist"));
  CHECK_THROWS_WITH(load_scenario_file(dir.string()), Contains("not a regular file"));
  write_text(dir / "broken.json", "{\"num_seqs\": 2,");
  CHECK_THROWS_WITH(load_scenario_file((dir / "broken.json").string()),
                    Contains("broken.json") && Contains("not valid JSON"));
  write_text(dir / "typo.json", "{\"head_sise\": 64}");
  CHECK_THROWS_WITH(load_scenario_file((dir / "typo.json").string()),
                    Contains("typo.json") && Contains("unknown scenario field 'head_sise'"));
}

TEST_CASE("the summary line names the sizes and the chosen version", "[scenario]") {
  const std::string summary = scenario_summary(unusual_scenario());
  CHECK_THAT(summary, Contains("v2") && Contains("bf16") && Contains("seqs=3") && Contains("heads=12/3kv") &&
                          Contains("head_size=112") && Contains("seq_lens=[1,513,4097]") && Contains("alibi=on") &&
                          Contains("bf16/kv fp8_e5m2 k_scale=0.25 v_scale=3.5") &&
                          Contains("blocksparse(local_blocks=3 vert_stride=4 block_size=96 head_sliding_step=-2 tp_rank=1)"));
  Scenario automatic;
  CHECK_THAT(scenario_summary(automatic), Contains("auto->v1"));
  CHECK_THAT(scenario_summary(automatic), !Contains("/kv") && !Contains("blocksparse"));
}

// ---- flags -----------------------------------------------------------------------------------------

TEST_CASE("every scenario flag sets its field", "[scenario][flags]") {
  const Scenario s = parse_flags({"--num-heads", "16", "--num-kv-heads", "4", "--head-size", "128", "--block-size",
                                  "32", "--dtype", "bf16", "--seq-lens", "5,17,300", "--num-blocks", "64", "--alibi",
                                  "--scale", "0.25", "--version", "v2", "--seed", "18446744073709551615",
                                  "--kv-cache-dtype", "fp8", "--k-scale", "0.5", "--v-scale", "0.125",
                                  "--blocksparse-local-blocks", "2", "--blocksparse-vert-stride", "3",
                                  "--blocksparse-block-size", "64", "--blocksparse-head-sliding-step", "-1",
                                  "--tp-rank", "2", "--input-preset", "needle"});
  CHECK(s.input_preset == InputPreset::needle);
  CHECK(s.num_heads == 16);
  CHECK(s.num_kv_heads == 4);
  CHECK(s.head_size == 128);
  CHECK(s.block_size == 32);
  CHECK(s.dtype == DType::bf16);
  CHECK(s.kv_cache_dtype == KvCacheDtype::fp8_e4m3);  // upstream's "fp8"
  CHECK(s.k_scale == 0.5f);
  CHECK(s.v_scale == 0.125f);
  CHECK(s.block_sparse ==
        BlockSparseParams{.local_blocks = 2, .vert_stride = 3, .block_size = 64, .head_sliding_step = -1, .tp_rank = 2});
  CHECK(s.seq_lens == std::vector<int>{5, 17, 300});
  CHECK(s.num_seqs == 3);  // from --seq-lens
  CHECK(s.num_blocks == 64);
  CHECK(s.alibi);
  REQUIRE(s.scale);
  CHECK(*s.scale == 0.25f);
  CHECK(s.version == KernelVersion::v2);
  CHECK(s.seed == std::numeric_limits<std::uint64_t>::max());
}

TEST_CASE("no flags give the defaults passed in", "[scenario][flags]") {
  Scenario defaults;
  defaults.head_size = 256;
  const Scenario s = parse_flags({}, defaults);
  CHECK(scenario_to_json(s) == scenario_to_json(defaults));
}

TEST_CASE("flags override the scenario file, which overrides the defaults", "[scenario][flags]") {
  const auto path = scratch_dir() / "override.json";
  write_text(path, R"({"head_size": 128, "num_heads": 8, "num_kv_heads": 8, "alibi": true, "seq_lens": [3, 4, 5]})");
  Scenario defaults;
  defaults.block_size = 32;
  const Scenario s = parse_flags({"--scenario", path.string(), "--head-size", "256", "--no-alibi"}, defaults);
  CHECK(s.head_size == 256);  // flag beats file
  CHECK(s.num_heads == 8);    // file beats default
  CHECK(s.num_seqs == 3);     // follows the file's seq_lens
  CHECK_FALSE(s.alibi);       // --no-alibi beats the file's true
  CHECK(s.block_size == 32);  // default where neither says anything
  const Scenario with_lens = parse_flags({"--scenario", path.string(), "--seq-lens", "9"});
  CHECK(with_lens.seq_lens == std::vector<int>{9});
  CHECK(with_lens.num_seqs == 1);
}

TEST_CASE("bad flags are refused with the flag and the value named", "[scenario][flags]") {
  CHECK_THROWS_AS(parse_flags({"--dtype", "fp8"}), CLI::ValidationError);
  CHECK_THROWS_AS(parse_flags({"--version", "v3"}), CLI::ValidationError);
  CHECK_THROWS_AS(parse_flags({"--input-preset", "spiky"}), CLI::ValidationError);
  CHECK_THROWS_AS(parse_flags({"--kv-cache-dtype", "fp16"}), CLI::ValidationError);
  CHECK_THROWS_AS(parse_flags({"--k-scale", "half"}), CLI::ConversionError);
  CHECK_THROWS_AS(parse_flags({"--alibi", "--no-alibi"}), CLI::ExcludesError);
  CHECK_THROWS_WITH(parse_flags({"--num-heads", "many"}), Contains("--num-heads") && Contains("'many' is not an integer"));
  CHECK_THROWS_WITH(parse_flags({"--num-heads", "2147483648"}), Contains("--num-heads") && Contains("too large"));
  CHECK_THROWS_WITH(parse_flags({"--seq-lens", "99999999999"}), Contains("--seq-lens") && Contains("too large"));
  CHECK_THROWS_WITH(parse_flags({"--seq-lens", "5,-2147483649"}), Contains("'-2147483649'") && Contains("too small"));
  CHECK_THROWS_WITH(parse_flags({"--seq-lens", "5,x,7"}), Contains("--seq-lens") && Contains("'x'"));
  CHECK_THROWS_WITH(parse_flags({"--seq-lens", "5,,7"}), Contains("--seq-lens"));
  CHECK_THROWS_WITH(parse_flags({"--seed", "-1"}), Contains("--seed") && Contains("non-negative"));
  // Parsed fine, but an invalid scenario: resolve validates.
  CHECK_THROWS_AS(parse_flags({"--head-size", "100"}), ScenarioError);
  CHECK_THROWS_WITH(parse_flags({"--num-seqs", "3"}), Contains("seq_lens has 2 entries but num_seqs = 3"));
  CHECK_THROWS_WITH(parse_flags({"--scenario", "/nonexistent/scenario.json"}), Contains("does not exist"));
}

TEST_CASE("the host-memory limit is a parameter of validation, and only that rule moves with it", "[scenario]") {
  Scenario s;
  s.num_seqs = 128;
  s.num_heads = 32;
  s.num_kv_heads = 32;
  s.head_size = 128;
  s.seq_lens.assign(128, 32768);  // 64 GiB of K and V
  const std::vector<std::string> limited = scenario_problems(s);
  REQUIRE(limited.size() == 1);
  CHECK_THAT(limited.front(), Contains("of host memory"));
  CHECK(scenario_problems(s, std::numeric_limits<std::int64_t>::max()).empty());
  s.head_size = 100;  // any other rule still holds without the limit
  CHECK(scenario_problems(s, std::numeric_limits<std::int64_t>::max()).size() == 1);
}

TEST_CASE("a num_seqs out of range is reported alone, not also as a seq_lens length mismatch", "[scenario]") {
  Scenario s;
  s.num_seqs = kMaxNumSeqs + 1;
  s.seq_lens = {5};
  const std::vector<std::string> problems = scenario_problems(s);
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems.front(), Contains("num_seqs = 65536 is too large"));
  s.num_seqs = 2;  // in range: the mismatch is the problem
  CHECK_THAT(scenario_problems(s).front(), Contains("seq_lens has 1 entry but num_seqs = 2"));
}
