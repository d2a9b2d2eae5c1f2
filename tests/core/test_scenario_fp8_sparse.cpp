// Tests of the scenario's fp8 KV-cache and block-sparse fields: validation, sizes and JSON.
#include <catch2/catch.hpp>

#include <limits>

#include <nlohmann/json.hpp>

#include "core/scenario.h"

using namespace pal;
using Catch::Contains;
using json = nlohmann::json;

namespace {

Scenario fp8_scenario(KvCacheDtype cache, DType dtype = DType::fp16) {
  Scenario s;
  s.dtype = dtype;
  s.kv_cache_dtype = cache;
  return s;
}

Scenario sparse_scenario() {
  Scenario s;  // block_size 16, seq_lens {37, 100}, 4 heads / 2 kv heads
  s.block_sparse = {.local_blocks = 2, .vert_stride = 4, .block_size = 32, .head_sliding_step = 1, .tp_rank = 0};
  return s;
}

}  // namespace

TEST_CASE("an fp8 cache is accepted with every query dtype, block size and head size divisible by 16",
          "[scenario][fp8]") {
  const KvCacheDtype cache = GENERATE(KvCacheDtype::fp8_e4m3, KvCacheDtype::fp8_e5m2);
  const DType dtype = GENERATE(DType::fp32, DType::fp16, DType::bf16);
  const int block_size = GENERATE(8, 16, 32);
  for (int head_size : kSupportedHeadSizes) {
    Scenario s = fp8_scenario(cache, dtype);
    s.block_size = block_size;
    s.head_size = head_size;
    INFO("head_size " << head_size);
    CHECK(scenario_problems(s).empty() == (head_size % 16 == 0));
  }
}

TEST_CASE("fp8 validation names the field, the value and what is valid", "[scenario][fp8][validation]") {
  SECTION("a head size that is no multiple of 16") {
    Scenario s = fp8_scenario(KvCacheDtype::fp8_e4m3);
    s.head_size = 120;
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("head_size = 120 cannot use an fp8 KV cache") &&
                                                  Contains("multiple of 16") &&
                                                  Contains("32, 64, 80, 96, 112, 128, 192, 256"));
  }
  SECTION("scales that are not finite positive numbers") {
    for (float bad : {0.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
      Scenario s = fp8_scenario(KvCacheDtype::fp8_e5m2);
      s.k_scale = bad;
      REQUIRE_THROWS_WITH(validate_scenario(s), Contains("k_scale = ") && Contains("finite number > 0"));
      s.k_scale = 1.0f;
      s.v_scale = bad;
      REQUIRE_THROWS_WITH(validate_scenario(s), Contains("v_scale = ") && Contains("value / v_scale"));
    }
  }
  SECTION("a scale without an fp8 cache, which would be silently ignored") {
    Scenario s;
    s.v_scale = 0.5f;
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("v_scale = 0.5 has no effect") && Contains("fp8_e4m3"));
  }
  SECTION("a scale that makes the largest code overflow fp16 when dequantised") {
    Scenario s = fp8_scenario(KvCacheDtype::fp8_e5m2, DType::fp16);
    s.k_scale = 2.0f;  // 57344 * 2 > 65504
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("k_scale = 2 is too large for fp8_e5m2 with fp16 queries") &&
                                                  Contains("57344") && Contains("k_scale < 1.14"));
    s.dtype = DType::fp32;  // upstream's vectorised fp32 loads round through fp16 as well
    CHECK_THROWS_WITH(validate_scenario(s), Contains("with fp32 queries"));
    s.dtype = DType::bf16;  // bf16 holds the product
    CHECK_NOTHROW(validate_scenario(s));
    s = fp8_scenario(KvCacheDtype::fp8_e4m3, DType::fp16);
    s.v_scale = 146.0f;  // 448 * 146 = 65408: still finite
    CHECK_NOTHROW(validate_scenario(s));
    s.v_scale = 146.5f;  // 65632 rounds to inf
    CHECK_THROWS_WITH(validate_scenario(s), Contains("v_scale = 146.5 is too large"));
  }
}

TEST_CASE("block-sparse validation refuses every setting in which a query could attend to nothing",
          "[scenario][sparse][validation]") {
  CHECK(scenario_problems(sparse_scenario()).empty());
  Scenario s = sparse_scenario();
  SECTION("no local blocks") {
    s.block_sparse.local_blocks = 0;
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("blocksparse_local_blocks = 0") &&
                                                  Contains("could attend to nothing") && Contains(">= 1"));
  }
  SECTION("a sparse block that does not hold whole kv_blocks") {
    s.block_sparse.block_size = 24;
    REQUIRE_THROWS_WITH(validate_scenario(s), Contains("blocksparse_block_size = 24 is not a multiple of block_size = 16") &&
                                                  Contains("16, 32, ..."));
  }
  SECTION("negative counts and ranks") {
    s.block_sparse.vert_stride = -3;
    s.block_sparse.local_blocks = -1;
    s.block_sparse.tp_rank = -1;
    const std::vector<std::string> problems = scenario_problems(s);
    CHECK(problems.size() == 3);
    CHECK_THROWS_WITH(validate_scenario(s), Contains("blocksparse_vert_stride = -3") &&
                                                Contains("blocksparse_local_blocks = -1") && Contains("tp_rank = -1"));
  }
  SECTION("a sparse block size below one token") {
    s.block_sparse.block_size = 0;
    CHECK_THROWS_WITH(validate_scenario(s), Contains("blocksparse_block_size = 0 is invalid"));
  }
  SECTION("head offsets beyond 32-bit arithmetic") {
    s.block_sparse.tp_rank = 1000;
    s.block_sparse.head_sliding_step = 1 << 20;  // (1000 * 4 + 3) * 2^20 > 2^31
    CHECK_THROWS_WITH(validate_scenario(s), Contains("32-bit") && Contains("tp_rank = 1000"));
    s.block_sparse.head_sliding_step = 0;
    s.block_sparse.tp_rank = std::numeric_limits<int>::max() / 2;  // tp_rank * num_heads alone overflows
    CHECK_THROWS_WITH(validate_scenario(s), Contains("32-bit"));
    s.block_sparse.tp_rank = 0;
    s.block_sparse.head_sliding_step = std::numeric_limits<int>::min();  // -step would overflow
    CHECK_THROWS_WITH(validate_scenario(s), Contains("blocksparse_head_sliding_step") && Contains("out of range"));
  }
  SECTION("a negative sliding step counts kv heads") {
    s.block_sparse.head_sliding_step = -3;
    CHECK_NOTHROW(validate_scenario(s));
  }
}

TEST_CASE("dense attention ignores the other block-sparse fields, as upstream's kernel does", "[scenario][sparse]") {
  for (int vert_stride : {0, 1}) {
    Scenario s;
    s.block_sparse = {.local_blocks = 0, .vert_stride = vert_stride, .block_size = 24, .head_sliding_step = 5, .tp_rank = 3};
    CHECK(scenario_problems(s).empty());
    CHECK_FALSE(s.block_sparse.enabled());
  }
}

TEST_CASE("the buffer estimate counts fp8 caches at one byte per element", "[scenario][fp8]") {
  Scenario s;
  s.num_blocks = 100;
  const std::int64_t fp16_bytes = estimated_buffer_bytes(s);
  s.kv_cache_dtype = KvCacheDtype::fp8_e4m3;
  CHECK(s.kv_cache_element_size() == 1);
  // K and V: 2 * 100 blocks * 2 kv heads * 64 * 16 tokens, one byte less each.
  CHECK(fp16_bytes - estimated_buffer_bytes(s) == 2 * 100 * 2 * 64 * 16 * 1);
}

TEST_CASE("the fp8 and block-sparse fields are read from JSON in snake_case", "[scenario][json]") {
  const Scenario s = scenario_from_json(json{{"kv_cache_dtype", "fp8"},
                                             {"k_scale", 0.5},
                                             {"v_scale", 2},
                                             {"blocksparse_local_blocks", 16},
                                             {"blocksparse_vert_stride", 8},
                                             {"blocksparse_block_size", 64},
                                             {"blocksparse_head_sliding_step", -1},
                                             {"tp_rank", 3}});
  CHECK(s.kv_cache_dtype == KvCacheDtype::fp8_e4m3);
  CHECK(s.k_scale == 0.5f);
  CHECK(s.v_scale == 2.0f);
  CHECK(s.block_sparse ==
        BlockSparseParams{.local_blocks = 16, .vert_stride = 8, .block_size = 64, .head_sliding_step = -1, .tp_rank = 3});
  CHECK(scenario_to_json(s)["kv_cache_dtype"] == "fp8_e4m3");

  CHECK_THROWS_WITH(scenario_from_json(json{{"kv_cache_dtype", "int8"}}),
                    Contains("'kv_cache_dtype'") && Contains("\"fp8_e5m2\""));
  CHECK_THROWS_WITH(scenario_from_json(json{{"k_scale", "half"}}), Contains("'k_scale' must be a number"));
  CHECK_THROWS_WITH(scenario_from_json(json{{"tp_rank", 1.5}}), Contains("'tp_rank' must be an integer"));
  const Scenario huge = scenario_from_json(json{{"kv_cache_dtype", "fp8_e5m2"}, {"v_scale", 1e300}});
  CHECK_THROWS_WITH(validate_scenario(huge), Contains("v_scale = inf"));
}

TEST_CASE("files from before fp8 name the query dtype as the cache dtype, which reads as auto", "[scenario][json]") {
  const Scenario s = scenario_from_json(json{{"dtype", "bf16"}, {"kv_cache_dtype", "bf16"}});
  CHECK(s.kv_cache_dtype == KvCacheDtype::automatic);
  Scenario base;
  base.dtype = DType::fp32;
  CHECK(scenario_from_json(json{{"kv_cache_dtype", "fp32"}}, base).kv_cache_dtype == KvCacheDtype::automatic);
  CHECK_THROWS_WITH(scenario_from_json(json{{"dtype", "fp16"}, {"kv_cache_dtype", "fp32"}}),
                    Contains("'kv_cache_dtype' = \"fp32\" differs from dtype = \"fp16\""));
}
