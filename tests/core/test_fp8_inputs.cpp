// Tests of fp8 KV caches in core/inputs.h and core/safetensors.h: what the generator stores, what
// quantisation did to it, and dumps that carry the codes as safetensors' own F8 dtypes with every
// field a reader needs to dequantise them.
#include <catch2/catch.hpp>

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/inputs.h"
#include "core/safetensors.h"
#include "scratch_dir.h"

using namespace pal;
using pal::test::scratch;
using Catch::Contains;

namespace {

Scenario fp8_scenario(KvCacheDtype cache, DType dtype, float k_scale, float v_scale) {
  Scenario s;  // 2 sequences {37, 100}, block_size 16, head_size 64, 4 / 2 heads
  s.dtype = dtype;
  s.kv_cache_dtype = cache;
  s.k_scale = k_scale;
  s.v_scale = v_scale;
  s.seed = 5;
  return s;
}

// Compares every slot of an fp8 cache with the same slot of the auto cache generated from the same
// draws: the code must be the quantised value, the unused slots the NaN code. Returns the counts
// the generator should have reported.
Fp8QuantizationCounts check_quantised_cache(const Tensor& fp8_cache, const Tensor& auto_cache, float scale,
                                            Fp8Format format) {
  REQUIRE(fp8_cache.numel() == auto_cache.numel());
  Fp8QuantizationCounts expected;
  const std::uint8_t* codes = fp8_cache.data<std::uint8_t>();
  std::int64_t mismatches = 0;
  for (std::int64_t i = 0; i < auto_cache.numel(); ++i) {
    const float value = auto_cache.get_float(i);
    if (std::isnan(value)) {
      mismatches += codes[i] != kFp8NanCode;
      continue;
    }
    const std::uint8_t want = quantize_fp8(value, scale, format);
    mismatches += codes[i] != want;
    expected.add(value, scale, want, format);
  }
  CHECK(mismatches == 0);
  return expected;
}

}  // namespace

TEST_CASE("an fp8 cache holds the quantised codes of exactly the values an auto cache holds", "[inputs][fp8]") {
  const KvCacheDtype cache = GENERATE(KvCacheDtype::fp8_e4m3, KvCacheDtype::fp8_e5m2);
  const DType dtype = GENERATE(DType::fp32, DType::fp16, DType::bf16);
  const auto scales = GENERATE(std::pair{1.0f, 1.0f}, std::pair{0.5f, 0.0123f}, std::pair{0.0004f, 0.25f});
  const Scenario s = fp8_scenario(cache, dtype, scales.first, scales.second);
  Scenario unquantised = s;
  unquantised.kv_cache_dtype = KvCacheDtype::automatic;
  unquantised.k_scale = unquantised.v_scale = 1.0f;
  INFO(scenario_summary(s));

  QuantizationReport report;
  const Inputs in = generate_inputs(s, &report);
  const Inputs reference = generate_inputs(unquantised);
  REQUIRE_NOTHROW(validate_inputs(s, in));
  const Fp8Format format = fp8_format_of(cache);

  CHECK(in.key_cache.type == element_type_of(format));
  CHECK(in.key_cache.shape == std::vector<std::int64_t>{s.effective_num_blocks(), 2, 64 / 16, 16, 16});  // x = 16
  CHECK(in.value_cache.shape == reference.value_cache.shape);
  CHECK(in.query.bytes == reference.query.bytes);  // the draws do not depend on the cache
  CHECK(in.block_tables.bytes == reference.block_tables.bytes);
  CHECK(in.k_scale == s.k_scale);
  CHECK(in.v_scale == s.v_scale);

  // The auto key cache has x = 8 (or 4): compare key by key through the logical layout.
  Tensor auto_keys_as_fp8_layout(reference.value_cache.type, in.key_cache.shape);
  const int auto_x = static_cast<int>(reference.key_cache.shape[4]);
  for (std::int64_t i = 0; i < in.key_cache.numel(); ++i) {
    // i = (((block * kv_heads + head) * (64 / 16) + chunk) * 16 + offset) * 16 + lane, dim = chunk * 16 + lane
    const std::int64_t lane = i % 16, offset = (i / 16) % 16, chunk = (i / 256) % 4, block_head = i / 1024;
    const std::int64_t dim = chunk * 16 + lane;
    const std::int64_t auto_index = ((block_head * (64 / auto_x) + dim / auto_x) * 16 + offset) * auto_x + dim % auto_x;
    auto_keys_as_fp8_layout.set_float(i, reference.key_cache.get_float(auto_index));
  }
  const Fp8QuantizationCounts key_counts = check_quantised_cache(in.key_cache, auto_keys_as_fp8_layout, s.k_scale, format);
  const Fp8QuantizationCounts value_counts = check_quantised_cache(in.value_cache, reference.value_cache, s.v_scale, format);

  // The report counts exactly the used slots: 137 tokens * 2 kv heads * 64 dims per cache.
  CHECK(report.key.num_values == 137 * 2 * 64);
  CHECK(report.value.num_values == 137 * 2 * 64);
  for (const auto& [got, want] : {std::pair{report.key, key_counts}, std::pair{report.value, value_counts}}) {
    CHECK(got.num_values == want.num_values);
    CHECK(got.num_subnormal == want.num_subnormal);
    CHECK(got.num_flushed_to_zero == want.num_flushed_to_zero);
    CHECK(got.num_saturated == want.num_saturated);
  }
}

TEST_CASE("the quantisation report shows subnormals at scale 1 and saturation at a tiny scale", "[inputs][fp8]") {
  // Values are uniform in +-1/8 (head_size 64); E4M3's smallest normal is 2^-6 = 1/64, so about an
  // eighth of them land among the subnormals at scale 1. At scale 1e-4, |v| / scale exceeds 448
  // for |v| > 0.0448: about 64% saturate.
  QuantizationReport report;
  generate_inputs(fp8_scenario(KvCacheDtype::fp8_e4m3, DType::fp16, 1.0f, 1e-4f), &report);
  const auto fraction = [](std::int64_t n, const Fp8QuantizationCounts& c) { return double(n) / double(c.num_values); };
  CHECK(fraction(report.key.num_subnormal, report.key) == Approx(0.125).margin(0.02));
  CHECK(report.key.num_saturated == 0);
  CHECK(fraction(report.value.num_saturated, report.value) == Approx(1.0 - 0.0448 / 0.125).margin(0.03));
  const std::string summary = quantization_summary(report);
  CHECK_THAT(summary, Contains("key_cache: 17536 values quantised") && Contains("value_cache: 17536 values quantised") &&
                          Contains("saturated"));
  QuantizationReport none;
  generate_inputs(Scenario{}, &none);
  CHECK(none.key.num_values == 0);  // an auto cache quantises nothing
}

TEST_CASE("validate_inputs refuses fp8 inputs that disagree with the scenario", "[inputs][fp8][validation]") {
  const Scenario s = fp8_scenario(KvCacheDtype::fp8_e4m3, DType::fp16, 0.5f, 1.0f);
  Inputs in = generate_inputs(s);
  Scenario as_auto = s;
  as_auto.kv_cache_dtype = KvCacheDtype::automatic;
  as_auto.k_scale = 1.0f;
  CHECK_THROWS_WITH(validate_inputs(as_auto, in), Contains("key_cache holds F8_E4M3 elements; expected F16"));
  Scenario other_format = s;
  other_format.kv_cache_dtype = KvCacheDtype::fp8_e5m2;
  CHECK_THROWS_WITH(validate_inputs(other_format, in), Contains("expected F8_E5M2"));
  in.k_scale = 0.25f;
  CHECK_THROWS_WITH(validate_inputs(s, in), Contains("k_scale 0.25") && Contains("0.5"));
  in.k_scale = 0.5f;
  in.block_sparse.vert_stride = 4;
  CHECK_THROWS_WITH(validate_inputs(s, in), Contains("block-sparse"));
}

TEST_CASE("an fp8 dump stores its caches as F8_E4M3 / F8_E5M2 with every field to dequantise them", "[safetensors][fp8]") {
  Scenario s = fp8_scenario(GENERATE(KvCacheDtype::fp8_e4m3, KvCacheDtype::fp8_e5m2), DType::bf16, 0.125f, 0.75f);
  s.block_sparse = {.local_blocks = 1, .vert_stride = 2, .block_size = 32, .head_sliding_step = -1, .tp_rank = 1};
  const Inputs in = generate_inputs(s);
  save_inputs(scratch("fp8.safetensors"), s, in);

  const SafetensorsFile raw = read_safetensors(scratch("fp8.safetensors"));
  const ElementType fp8_type = element_type_of(fp8_format_of(s.kv_cache_dtype));
  CHECK(raw.tensors.at("key_cache").type == fp8_type);
  CHECK(raw.tensors.at("value_cache").type == fp8_type);
  const nlohmann::json meta = nlohmann::json::parse(raw.metadata.at("scenario"));
  for (const char* key : {"kv_cache_dtype", "k_scale", "v_scale", "blocksparse_local_blocks", "blocksparse_vert_stride",
                          "blocksparse_block_size", "blocksparse_head_sliding_step", "tp_rank"})
    CHECK(meta.contains(key));
  CHECK(meta["k_scale"] == 0.125);

  const auto [s_back, in_back] = load_inputs(scratch("fp8.safetensors"));
  CHECK(scenario_to_json(s_back) == scenario_to_json(s));
  CHECK(in_back.key_cache.bytes == in.key_cache.bytes);
  CHECK(in_back.value_cache.bytes == in.value_cache.bytes);
  CHECK(in_back.k_scale == 0.125f);
  CHECK(in_back.v_scale == 0.75f);
  CHECK(in_back.block_sparse == s.block_sparse);

  SECTION("without our metadata the cache dtype follows from the F8 tensors") {
    SafetensorsFile foreign = raw;
    foreign.metadata.clear();
    write_safetensors(scratch("fp8_foreign.safetensors"), foreign);
    const auto [derived, loaded] = load_inputs(scratch("fp8_foreign.safetensors"));
    CHECK(derived.kv_cache_dtype == s.kv_cache_dtype);
    CHECK(derived.k_scale == 1.0f);  // nothing in the tensors says otherwise
    CHECK_FALSE(derived.block_sparse.enabled());
    CHECK(loaded.key_cache.bytes == in.key_cache.bytes);
  }
  SECTION("a cache of another float dtype than the query's is refused") {
    SafetensorsFile foreign = raw;
    foreign.metadata.clear();
    const Inputs plain = generate_inputs(Scenario{});  // fp16 caches for the bf16 query above
    foreign.tensors["key_cache"] = plain.key_cache;
    foreign.tensors["value_cache"] = plain.value_cache;
    write_safetensors(scratch("fp8_mixed.safetensors"), foreign);
    CHECK_THROWS_WITH(load_inputs(scratch("fp8_mixed.safetensors")),
                      Contains("'key_cache' holds F16 elements but 'query' holds BF16"));
  }
}
