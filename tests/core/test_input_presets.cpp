// Tests of the input presets (core/scenario.h InputPreset, shaped in core/inputs.cpp): each preset's
// attention pattern, computed here from the generated tensors, and uniform's bytes, which every dump
// and baseline depends on.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/inputs.h"

using namespace pal;

namespace {

// FNV-1a over every generated tensor's bytes, in a fixed order.
std::uint64_t hash_of_inputs(const Inputs& in) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (const Tensor* tensor : {&in.query, &in.key_cache, &in.value_cache, &in.block_tables, &in.seq_lens, &in.alibi_slopes})
    for (auto byte : tensor->bytes) {
      hash ^= static_cast<std::uint8_t>(byte);
      hash *= 0x100000001b3ull;
    }
  return hash;
}

Scenario preset_scenario(InputPreset preset, std::vector<int> seq_lens, DType dtype = DType::fp16, int head_size = 64,
                         std::uint64_t seed = 0) {
  Scenario s;
  s.input_preset = preset;
  s.dtype = dtype;
  s.head_size = head_size;
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.num_seqs = static_cast<int>(seq_lens.size());
  s.seq_lens = std::move(seq_lens);
  s.seed = seed;
  return s;
}

// The softmax probabilities of one (sequence, head) over its tokens, in double, at the scenario's scale.
std::vector<double> probabilities(const Scenario& s, const Inputs& in, int seq, int head) {
  const KvCacheLayout layout = kv_cache_layout(s);
  const int kv_head = head / (s.num_heads / s.num_kv_heads);
  const int seq_len = s.seq_lens[static_cast<std::size_t>(seq)];
  std::vector<double> logits(static_cast<std::size_t>(seq_len));
  for (int token = 0; token < seq_len; ++token) {
    const std::int64_t physical = in.block_tables.data<std::int32_t>()[seq * in.block_tables.shape[1] + token / s.block_size];
    double dot = 0.0;
    for (int dim = 0; dim < s.head_size; ++dim)
      dot += double(in.query.get_float((std::int64_t{seq} * s.num_heads + head) * s.head_size + dim)) *
             double(in.key_cache.get_float(layout.key_offset(physical, kv_head, dim, token % s.block_size)) * in.k_scale);
    logits[static_cast<std::size_t>(token)] = double(in.scale) * dot;
  }
  const double max = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (double& logit : logits) sum += (logit = std::exp(logit - max));
  for (double& p : logits) p /= sum;
  return logits;
}

// Every (seq, head) of a scenario.
template <typename Check>
void for_every_head(const Scenario& s, Check&& check) {
  const Inputs in = generate_inputs(s);
  for (int seq = 0; seq < s.num_seqs; ++seq)
    for (int head = 0; head < s.num_heads; ++head) {
      INFO("preset " << input_preset_name(s.input_preset) << " " << dtype_name(s.dtype) << " head_size " << s.head_size
                     << " seed " << s.seed << " seq " << seq << " (seq_len " << s.seq_lens[std::size_t(seq)]
                     << ") head " << head);
      check(seq, probabilities(s, in, seq, head));
    }
}

}  // namespace

TEST_CASE("the uniform preset generates the same bytes as before presets existed", "[inputs][presets]") {
  // Hashes of generate_inputs at the commit before the presets (df9fea4): dumps, baselines and the
  // kernel tests hold these bytes, so the uniform draws must never change.
  Scenario plain;
  CHECK(plain.input_preset == InputPreset::uniform);
  CHECK(hash_of_inputs(generate_inputs(plain)) == 0xe09f053fcee1d87full);

  Scenario fp8;
  fp8.dtype = DType::bf16;
  fp8.kv_cache_dtype = KvCacheDtype::fp8_e4m3;
  fp8.head_size = 128;
  fp8.seq_lens = {5, 300, 17};
  fp8.num_seqs = 3;
  fp8.seed = 42;
  fp8.alibi = true;
  CHECK(hash_of_inputs(generate_inputs(fp8)) == 0x3d0db39476cb5d1bull);

  Scenario mqa;
  mqa.dtype = DType::fp32;
  mqa.head_size = 32;
  mqa.num_heads = 8;
  mqa.num_kv_heads = 1;
  mqa.seq_lens = {1000};
  mqa.num_seqs = 1;
  mqa.seed = 7;
  CHECK(hash_of_inputs(generate_inputs(mqa)) == 0x03aadc72b859d637ull);
}

TEST_CASE("uniform inputs give an almost flat softmax at the true scale, the problem the presets solve", "[inputs][presets]") {
  const Scenario s = preset_scenario(InputPreset::uniform, {100});
  for_every_head(s, [](int, const std::vector<double>& p) {
    CHECK(*std::max_element(p.begin(), p.end()) < 1.1 / 100.0);
  });
}

TEST_CASE("every preset is deterministic from the seed and shapes only queries and keys", "[inputs][presets]") {
  for (InputPreset preset : kInputPresets) {
    INFO("preset " << input_preset_name(preset));
    const Scenario s = preset_scenario(preset, {37, 100});
    const Inputs a = generate_inputs(s), b = generate_inputs(s);
    CHECK(hash_of_inputs(a) == hash_of_inputs(b));
    // The values and the block table are uniform's, whatever the preset.
    const Inputs uniform = generate_inputs(preset_scenario(InputPreset::uniform, {37, 100}));
    CHECK(a.value_cache.bytes == uniform.value_cache.bytes);
    CHECK(a.block_tables.bytes == uniform.block_tables.bytes);
    if (preset != InputPreset::uniform) {
      CHECK(a.query.bytes != uniform.query.bytes);
      CHECK(a.key_cache.bytes != uniform.key_cache.bytes);
    }
    Scenario other_seed = s;
    other_seed.seed = 1;
    CHECK(hash_of_inputs(generate_inputs(other_seed)) != hash_of_inputs(a));
  }
}

TEST_CASE("the peaked preset puts many times the uniform probability on its top token", "[inputs][presets]") {
  for (DType dtype : {DType::fp16, DType::bf16, DType::fp32})
    for (int head_size : {32, 128})
      for (std::uint64_t seed : {0u, 5u}) {
        const Scenario s = preset_scenario(InputPreset::peaked, {37, 100, 500}, dtype, head_size, seed);
        for_every_head(s, [&](int seq, const std::vector<double>& p) {
          const double uniform = 1.0 / double(s.seq_lens[std::size_t(seq)]);
          CHECK(*std::max_element(p.begin(), p.end()) > 5.0 * uniform);
        });
      }
}

TEST_CASE("the sink preset gives each of the first tokens more mass than any later token", "[inputs][presets]") {
  for (DType dtype : {DType::fp16, DType::bf16})
    for (int head_size : {32, 128}) {
      const Scenario s = preset_scenario(InputPreset::sink, {5, 100, 700}, dtype, head_size, 3);
      for_every_head(s, [](int, const std::vector<double>& p) {
        const std::size_t num_sinks = std::min<std::size_t>(4, p.size());
        const double least_sink = *std::min_element(p.begin(), p.begin() + std::ptrdiff_t(num_sinks));
        if (p.size() > num_sinks) CHECK(least_sink > *std::max_element(p.begin() + std::ptrdiff_t(num_sinks), p.end()));
        // And together they hold more than the rest of a 100-token context.
        if (p.size() <= 100) CHECK(std::accumulate(p.begin(), p.begin() + std::ptrdiff_t(num_sinks), 0.0) > 0.5);
      });
    }
}

TEST_CASE("the recency preset gives each quarter of the context more mass than the one before", "[inputs][presets]") {
  for (int head_size : {32, 128}) {
    const Scenario s = preset_scenario(InputPreset::recency, {40, 100, 1000}, DType::fp16, head_size, 9);
    for_every_head(s, [](int, const std::vector<double>& p) {
      double previous = -1.0;
      for (int quarter = 0; quarter < 4; ++quarter) {
        const auto begin = p.begin() + std::ptrdiff_t(p.size() * std::size_t(quarter) / 4);
        const auto end = p.begin() + std::ptrdiff_t(p.size() * std::size_t(quarter + 1) / 4);
        const double mass = std::accumulate(begin, end, 0.0);
        CHECK(mass > previous);
        previous = mass;
      }
      CHECK(p.back() > 10.0 * p.front());
    });
  }
}

TEST_CASE("the needle preset makes the planted token every head's argmax", "[inputs][presets]") {
  for (DType dtype : {DType::fp16, DType::bf16})
    for (std::uint64_t seed : {0u, 1u, 2u, 3u}) {
      Scenario s = preset_scenario(InputPreset::needle, {1, 37, 100, 2000}, dtype, 64, seed);
      for_every_head(s, [&](int seq, const std::vector<double>& p) {
        const int needle = needle_token(s, seq);
        REQUIRE(needle >= 0);
        REQUIRE(needle < s.seq_lens[std::size_t(seq)]);
        CHECK(std::max_element(p.begin(), p.end()) - p.begin() == needle);
      });
    }
  // The planted position moves with the seed.
  std::vector<int> positions;
  for (std::uint64_t seed = 0; seed < 8; ++seed)
    positions.push_back(needle_token(preset_scenario(InputPreset::needle, {1000}, DType::fp16, 64, seed), 0));
  std::sort(positions.begin(), positions.end());
  CHECK(std::unique(positions.begin(), positions.end()) - positions.begin() > 4);
  CHECK(needle_token(preset_scenario(InputPreset::peaked, {1000}), 0) == -1);
}

TEST_CASE("the presets hold in an fp8 cache too", "[inputs][presets][fp8]") {
  for (KvCacheDtype cache : {KvCacheDtype::fp8_e4m3, KvCacheDtype::fp8_e5m2}) {
    Scenario s = preset_scenario(InputPreset::needle, {100}, DType::fp16, 64, 4);
    s.kv_cache_dtype = cache;
    QuantizationReport report;
    const Inputs in = generate_inputs(s, &report);
    CHECK(report.key.num_saturated == 0);
    for (int head = 0; head < s.num_heads; ++head) {
      const std::vector<double> p = probabilities(s, in, 0, head);
      CHECK(std::max_element(p.begin(), p.end()) - p.begin() == needle_token(s, 0));
    }
  }
}

TEST_CASE("the input preset travels through JSON and is validated", "[inputs][presets][scenario]") {
  for (InputPreset preset : kInputPresets) {
    Scenario s;
    s.input_preset = preset;
    const nlohmann::json json = scenario_to_json(s);
    CHECK(json.at("input_preset") == std::string(input_preset_name(preset)));
    CHECK(scenario_from_json(json).input_preset == preset);
    CHECK_THAT(scenario_summary(s), Catch::Contains(std::string("inputs=") + std::string(input_preset_name(preset))));
  }
  // A file written before presets existed reads as uniform: its bytes are the ones it was made with.
  nlohmann::json old = scenario_to_json(Scenario{});
  old.erase("input_preset");
  CHECK(scenario_from_json(old).input_preset == InputPreset::uniform);
  CHECK_THROWS_WITH(scenario_from_json(nlohmann::json{{"input_preset", "spiky"}}),
                    Catch::Contains("'input_preset'") && Catch::Contains("uniform, peaked, sink, recency, needle"));
  CHECK_THROWS_WITH(scenario_from_json(nlohmann::json{{"input_preset", 3}}), Catch::Contains("'input_preset'"));
}
