// Tests of core/inputs.h: the generator's determinism and layouts, ALiBi slopes, SplitMix64, and
// every check of validate_inputs.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/inputs.h"

using namespace pal;
using Catch::Contains;

namespace {

Scenario scenario_with(DType dtype, int head_size, int block_size, std::vector<int> seq_lens) {
  Scenario s;
  s.dtype = dtype;
  s.head_size = head_size;
  s.block_size = block_size;
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.num_seqs = static_cast<int>(seq_lens.size());
  s.seq_lens = std::move(seq_lens);
  return s;
}

bool same_bytes(const Inputs& a, const Inputs& b) {
  return a.query.bytes == b.query.bytes && a.key_cache.bytes == b.key_cache.bytes &&
         a.value_cache.bytes == b.value_cache.bytes && a.block_tables.bytes == b.block_tables.bytes &&
         a.seq_lens.bytes == b.seq_lens.bytes && a.alibi_slopes.bytes == b.alibi_slopes.bytes && a.scale == b.scale;
}

}  // namespace

TEST_CASE("SplitMix64 produces the published sequence", "[inputs][random]") {
  // First outputs for seed 0 of the reference splitmix64 (Steele, Lea, Flood; Vigna's C version).
  SplitMix64 random(0);
  CHECK(random.next() == 0xe220a8397b1dcdafull);
  CHECK(random.next() == 0x6e789e6aa1b965f4ull);
  CHECK(random.next() == 0x06c45d188009454full);
}

TEST_CASE("SplitMix64 helpers stay in their ranges", "[inputs][random]") {
  SplitMix64 random(42);
  for (int i = 0; i < 100000; ++i) {
    const float value = random.uniform(-0.5f, 0.25f);
    REQUIRE(value >= -0.5f);
    REQUIRE(value < 0.25f);
    REQUIRE(random.below(7) < 7u);
  }
  CHECK(random.below(1) == 0u);
  // Every residue shows up: a biased or stuck generator would miss some.
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(random.below(10));
  CHECK(seen.size() == 10);
}

TEST_CASE("ALiBi slopes are the geometric sequence of the ALiBi paper", "[inputs][alibi]") {
  const std::vector<float> eight = alibi_slopes_for(8);
  REQUIRE(eight.size() == 8);
  for (int i = 0; i < 8; ++i) CHECK(eight[static_cast<std::size_t>(i)] == static_cast<float>(std::ldexp(1.0, -(i + 1))));
  // 12 heads: the 8-head slopes, then every other slope of the 16-head sequence 2^-0.5, 2^-1.5, ...
  const std::vector<float> twelve = alibi_slopes_for(12);
  REQUIRE(twelve.size() == 12);
  for (int i = 0; i < 8; ++i) CHECK(twelve[static_cast<std::size_t>(i)] == eight[static_cast<std::size_t>(i)]);
  for (int i = 0; i < 4; ++i)
    CHECK(twelve[static_cast<std::size_t>(8 + i)] == Approx(std::exp2(-0.5 - i)).epsilon(1e-6));
  CHECK(alibi_slopes_for(1) == std::vector<float>{std::exp2(-8.0f)});
  CHECK(alibi_slopes_for(0).empty());
}

TEST_CASE("the same seed gives the same bytes, another seed other bytes", "[inputs]") {
  Scenario s;
  s.alibi = true;
  const Inputs first = generate_inputs(s);
  const Inputs second = generate_inputs(s);
  CHECK(same_bytes(first, second));
  s.seed = 1;
  const Inputs other = generate_inputs(s);
  CHECK(first.query.bytes != other.query.bytes);
  CHECK(first.key_cache.bytes != other.key_cache.bytes);
  CHECK(first.value_cache.bytes != other.value_cache.bytes);
  CHECK(first.block_tables.bytes != other.block_tables.bytes);
}

TEST_CASE("generated inputs have upstream's layouts, with NaN in exactly the unused cache slots", "[inputs][layout]") {
  const DType dtype = GENERATE(DType::fp32, DType::fp16, DType::bf16);
  const int block_size = GENERATE(8, 16, 32);
  const int head_size = GENERATE(32, 80);
  const int b = block_size;
  const Scenario s = scenario_with(dtype, head_size, block_size, {1, b - 1, b, b + 1, 3 * b + 5});
  INFO("dtype " << dtype_name(dtype) << " block_size " << block_size << " head_size " << head_size);
  const Inputs in = generate_inputs(s);
  REQUIRE_NOTHROW(validate_inputs(s, in));

  const int x = 16 / dtype_size_bytes(dtype);
  const std::int64_t num_blocks = s.effective_num_blocks();
  const std::int64_t width = s.max_num_blocks_per_seq();
  CHECK(in.query.shape == std::vector<std::int64_t>{s.num_seqs, 4, head_size});
  CHECK(in.key_cache.shape == std::vector<std::int64_t>{num_blocks, 2, head_size / x, block_size, x});
  CHECK(in.value_cache.shape == std::vector<std::int64_t>{num_blocks, 2, head_size, block_size});
  CHECK(in.block_tables.shape == std::vector<std::int64_t>{s.num_seqs, width});
  CHECK(in.seq_lens.shape == std::vector<std::int64_t>{s.num_seqs});
  CHECK(in.alibi_slopes.numel() == 0);
  CHECK(in.scale == s.effective_scale());
  CHECK(num_blocks > s.num_blocks_needed());  // spare blocks exist to be poisoned

  // Block table: used entries are distinct pool indices, the rest is -1.
  std::set<std::int32_t> used_blocks;
  std::vector<int> valid_tokens(static_cast<std::size_t>(num_blocks), 0);  // tokens stored in each block
  bool any_moved = false;
  const std::int32_t* table = in.block_tables.data<std::int32_t>();
  for (int seq = 0; seq < s.num_seqs; ++seq) {
    const int seq_len = s.seq_lens[static_cast<std::size_t>(seq)];
    const int num_seq_blocks = (seq_len + block_size - 1) / block_size;
    CHECK(in.seq_lens.data<std::int32_t>()[seq] == seq_len);
    for (int logical = 0; logical < width; ++logical) {
      const std::int32_t physical = table[seq * width + logical];
      if (logical >= num_seq_blocks) {
        CHECK(physical == -1);
        continue;
      }
      REQUIRE(physical >= 0);
      REQUIRE(physical < num_blocks);
      CHECK(used_blocks.insert(physical).second);  // no block handed out twice
      valid_tokens[static_cast<std::size_t>(physical)] = std::min(block_size, seq_len - logical * block_size);
      if (physical != logical) any_moved = true;
    }
  }
  CHECK(static_cast<int>(used_blocks.size()) == s.num_blocks_needed());
  CHECK(any_moved);  // the pool is shuffled: logical block i is not physical block i

  // Every slot: NaN exactly where no token lives; elsewhere a value in range, exact in the dtype.
  // Values are drawn in [-r, r) and then rounded to the dtype, which may round up to just past r.
  const float range = round_to_dtype(1.0f / std::sqrt(static_cast<float>(head_size)), dtype);
  auto check_slot = [&](float value, std::int64_t block, int offset, const char* cache) {
    const bool used = offset < valid_tokens[static_cast<std::size_t>(block)];
    if (used != !std::isnan(value))
      FAIL(cache << " block " << block << " offset " << offset << (used ? " is NaN but holds a token" : " is unused but not NaN"));
    if (used && (std::fabs(value) > range || round_to_dtype(value, dtype) != value))
      FAIL(cache << " value " << value << " is out of range or not exact in the dtype");
  };
  for (std::int64_t block = 0; block < num_blocks; ++block)
    for (int kv_head = 0; kv_head < 2; ++kv_head)
      for (int dim = 0; dim < head_size; ++dim)
        for (int offset = 0; offset < block_size; ++offset) {
          // key_cache[block][kv_head][dim / x][offset][dim % x]
          const std::int64_t key_index =
              (((block * 2 + kv_head) * (head_size / x) + dim / x) * block_size + offset) * x + dim % x;
          // value_cache[block][kv_head][dim][offset]
          const std::int64_t value_index = ((block * 2 + kv_head) * head_size + dim) * block_size + offset;
          check_slot(in.key_cache.get_float(key_index), block, offset, "key_cache");
          check_slot(in.value_cache.get_float(value_index), block, offset, "value_cache");
        }
  for (std::int64_t i = 0; i < in.query.numel(); ++i) {
    const float value = in.query.get_float(i);
    REQUIRE(std::fabs(value) <= range);
    REQUIRE(round_to_dtype(value, dtype) == value);
  }
}

TEST_CASE("ALiBi inputs carry one slope per query head", "[inputs][alibi]") {
  Scenario s;
  s.alibi = true;
  const Inputs in = generate_inputs(s);
  REQUIRE(in.alibi_slopes.shape == std::vector<std::int64_t>{4});
  CHECK(std::vector<float>(in.alibi_slopes.data<float>(), in.alibi_slopes.data<float>() + 4) == alibi_slopes_for(4));
}

TEST_CASE("the generator refuses an invalid scenario", "[inputs]") {
  Scenario s;
  s.head_size = 100;
  CHECK_THROWS_WITH(generate_inputs(s), Contains("head_size = 100"));
}

TEST_CASE("validate_inputs names the tensor, what it holds and what was expected", "[inputs][validation]") {
  Scenario s;  // fp16, 2 seqs {37, 100}, 4 heads, 2 kv heads, head 64, block 16, 12 blocks
  Inputs in = generate_inputs(s);
  REQUIRE_NOTHROW(validate_inputs(s, in));

  SECTION("query of the wrong dtype") {
    in.query = Tensor(ElementType::f32, {2, 4, 64});
    CHECK_THROWS_WITH(validate_inputs(s, in), Contains("query holds F32") && Contains("expected F16"));
  }
  SECTION("query of the wrong shape") {
    in.query = Tensor(ElementType::f16, {2, 4, 32});
    CHECK_THROWS_WITH(validate_inputs(s, in), Contains("query has shape [2, 4, 32]") && Contains("expected [2, 4, 64]") &&
                                                  Contains("[num_seqs, num_heads, head_size]"));
  }
  SECTION("key cache with another pool size") {
    in.key_cache = Tensor(ElementType::f16, {13, 2, 8, 16, 8});
    CHECK_THROWS_WITH(validate_inputs(s, in), Contains("key_cache has shape [13, 2, 8, 16, 8]") &&
                                                  Contains("expected [12, 2, 8, 16, 8]") && Contains("x = 8"));
  }
  SECTION("value cache in the key layout") {
    in.value_cache = Tensor(ElementType::f16, {12, 2, 8, 16, 8});
    CHECK_THROWS_WITH(validate_inputs(s, in), Contains("value_cache has shape") &&
                                                  Contains("[num_blocks, num_kv_heads, head_size, block_size]"));
  }
  SECTION("bytes that do not match the shape") {
    in.query.bytes.pop_back();
    CHECK_THROWS_WITH(validate_inputs(s, in), Contains("query holds 1023 bytes") && Contains("needs 1024"));
  }
  SECTION("block table entry outside the pool") {
    in.block_tables.data<std::int32_t>()[1 * 7 + 2] = 99;  // sequence 1, logical block 2
    CHECK_THROWS_WITH(validate_inputs(s, in), Contains("block_tables[1][2] = 99") && Contains("[0, 12)") &&
                                                  Contains("logical blocks 0..6"));
  }
  SECTION("padding entry in a block the sequence uses") {
    in.block_tables.data<std::int32_t>()[0 * 7 + 2] = -1;  // sequence 0 (37 tokens) uses blocks 0..2
    CHECK_THROWS_WITH(validate_inputs(s, in), Contains("block_tables[0][2] = -1"));
  }
  SECTION("padding past a sequence's blocks is never checked") {
    in.block_tables.data<std::int32_t>()[0 * 7 + 3] = 12345;
    CHECK_NOTHROW(validate_inputs(s, in));
  }
  SECTION("two sequences sharing a physical block is allowed, as upstream allows it") {
    in.block_tables.data<std::int32_t>()[1 * 7 + 0] = in.block_tables.data<std::int32_t>()[0];
    CHECK_NOTHROW(validate_inputs(s, in));
  }
  SECTION("a wider block table is accepted, a narrower one is not") {
    Tensor wider(ElementType::i32, {2, 9});
    for (int seq = 0; seq < 2; ++seq)
      for (int col = 0; col < 9; ++col)
        wider.data<std::int32_t>()[seq * 9 + col] = col < 7 ? in.block_tables.data<std::int32_t>()[seq * 7 + col] : -1;
    in.block_tables = wider;
    CHECK_NOTHROW(validate_inputs(s, in));
    in.block_tables = Tensor(ElementType::i32, {2, 6});
    CHECK_THROWS_WITH(validate_inputs(s, in), Contains("block_tables has shape [2, 6]") && Contains("[2, >= 7]"));
  }
  SECTION("block table of int64") {
    in.block_tables = Tensor(ElementType::i64, {2, 7});
    CHECK_THROWS_WITH(validate_inputs(s, in), Contains("block_tables holds I64") && Contains("expected I32"));
  }
  SECTION("seq_lens that disagree with the scenario") {
    in.seq_lens.data<std::int32_t>()[1] = 99;
    CHECK_THROWS_WITH(validate_inputs(s, in), Contains("seq_lens[1] holds 99") && Contains("scenario says 100"));
  }
  SECTION("seq_lens of the wrong shape") {
    in.seq_lens = Tensor(ElementType::i32, {3});
    CHECK_THROWS_WITH(validate_inputs(s, in), Contains("seq_lens has shape [3]") && Contains("expected [2]"));
  }
  SECTION("ALiBi slopes when ALiBi is off") {
    in.alibi_slopes = Tensor(ElementType::f32, {4});
    CHECK_THROWS_WITH(validate_inputs(s, in), Contains("alibi_slopes has shape [4]") && Contains("ALiBi is off"));
  }
  SECTION("no ALiBi slopes when ALiBi is on") {
    s.alibi = true;
    CHECK_THROWS_WITH(validate_inputs(s, in), Contains("alibi_slopes has shape [0]") && Contains("expected [4]"));
  }
  SECTION("a NaN ALiBi slope") {
    s.alibi = true;
    in.alibi_slopes = Tensor(ElementType::f32, {4});
    in.alibi_slopes.data<float>()[3] = std::nanf("");
    CHECK_THROWS_WITH(validate_inputs(s, in), Contains("alibi_slopes[3] is not finite"));
  }
  SECTION("a scale that differs from the scenario's") {
    in.scale = 0.2f;
    CHECK_THROWS_WITH(validate_inputs(s, in), Contains("scale 0.2") && Contains("scenario's scale 0.125"));
  }
  SECTION("an invalid scale") {
    in.scale = -1.0f;
    CHECK_THROWS_WITH(validate_inputs(s, in), Contains("scale = -1") && Contains("finite number > 0"));
  }
  SECTION("an invalid scenario") {
    s.block_size = 12;
    CHECK_THROWS_WITH(validate_inputs(s, in), Contains("block_size = 12"));
  }
}
