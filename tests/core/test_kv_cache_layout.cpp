// Tests of core/kv_cache_layout.h: the K and V offset functions cover each tensor exactly once,
// invert through the coordinates, keep x a parameter, and split the key offset the way the kernel
// adds it (a token part and a dim part).
#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "core/kv_cache_layout.h"

using namespace pal;

namespace {

// Every (block, kv_head, dim, slot) of a small pool, for each combination the kernel supports and
// for x = 16 (an fp8 cache under an fp16 query), which no query dtype gives.
std::vector<KvCacheLayout> layouts() {
  std::vector<KvCacheLayout> result;
  for (int x : {4, 8, 16})
    for (int head_size : {32, 80, 128})
      for (int block_size : {8, 16, 32})
        if (head_size % x == 0) result.push_back({3, head_size, block_size, x});
  return result;
}

}  // namespace

TEST_CASE("the K and V offsets visit every element of their tensors exactly once", "[kv_cache_layout]") {
  constexpr std::int64_t kNumBlocks = 3;
  for (const KvCacheLayout& layout : layouts()) {
    const std::int64_t numel = kNumBlocks * layout.kv_block_stride();
    std::vector<int> key_hits(std::size_t(numel), 0), value_hits(std::size_t(numel), 0);
    for (std::int64_t block = 0; block < kNumBlocks; ++block)
      for (int kv_head = 0; kv_head < layout.num_kv_heads; ++kv_head)
        for (int dim = 0; dim < layout.head_size; ++dim)
          for (int slot = 0; slot < layout.block_size; ++slot) {
            const std::int64_t key = layout.key_offset(block, kv_head, dim, slot);
            const std::int64_t value = layout.value_offset(block, kv_head, dim, slot);
            REQUIRE(key >= 0);
            REQUIRE(key < numel);
            REQUIRE(value >= 0);
            REQUIRE(value < numel);
            ++key_hits[std::size_t(key)];
            ++value_hits[std::size_t(value)];
          }
    INFO("head_size " << layout.head_size << ", block_size " << layout.block_size << ", x " << layout.x);
    CHECK(std::count(key_hits.begin(), key_hits.end(), 1) == numel);
    CHECK(std::count(value_hits.begin(), value_hits.end(), 1) == numel);
    const auto key_shape = layout.key_shape(kNumBlocks);
    CHECK(key_shape[0] * key_shape[1] * key_shape[2] * key_shape[3] * key_shape[4] == numel);
    CHECK(key_shape[2] * key_shape[4] == layout.head_size);
  }
}

TEST_CASE("the coordinates of an element invert its offset", "[kv_cache_layout]") {
  for (const KvCacheLayout& layout : layouts())
    for (std::int64_t block : {0, 2})
      for (int kv_head = 0; kv_head < layout.num_kv_heads; ++kv_head)
        for (int dim = 0; dim < layout.head_size; dim += 3)
          for (int slot = 0; slot < layout.block_size; ++slot) {
            const KvCacheCoordinates k = layout.key_coordinates(layout.key_offset(block, kv_head, dim, slot));
            const KvCacheCoordinates v = layout.value_coordinates(layout.value_offset(block, kv_head, dim, slot));
            INFO("x " << layout.x << " block " << block << " kv_head " << kv_head << " dim " << dim << " slot " << slot);
            CHECK((k.physical_block == block && k.kv_head == kv_head && k.dim == dim && k.block_offset == slot));
            CHECK((v.physical_block == block && v.kv_head == kv_head && v.dim == dim && v.block_offset == slot));
          }
}

TEST_CASE("a key offset is the slice base plus a token part plus a dim part, as the kernel adds them",
          "[kv_cache_layout]") {
  for (const KvCacheLayout& layout : layouts())
    for (int dim = 0; dim < layout.head_size; ++dim)
      for (int slot = 0; slot < layout.block_size; ++slot) {
        const std::int64_t base = kv_head_base(2, 1, layout.kv_block_stride(), layout.kv_head_stride());
        CHECK(layout.key_offset(2, 1, dim, slot) ==
              base + key_token_offset(slot, layout.x) + key_dim_offset(dim, layout.block_size, layout.x));
        CHECK(layout.value_offset(2, 1, dim, slot) == base + value_offset_in_kv_head(dim, slot, layout.block_size));
      }
}

TEST_CASE("x elements of one key chunk are contiguous and a chunk is 16 bytes", "[kv_cache_layout]") {
  CHECK(key_x_for(2) == 8);
  CHECK(key_x_for(4) == 4);
  CHECK(key_x_for(1) == 16);
  const KvCacheLayout layout{2, 64, 16, 8};
  for (int dim = 0; dim + 1 < layout.head_size; ++dim)
    if ((dim + 1) % layout.x != 0) CHECK(layout.key_offset(1, 1, dim + 1, 5) == layout.key_offset(1, 1, dim, 5) + 1);
  // Consecutive tokens' chunks are x elements apart: what makes a warp's chunk reads coalesce.
  CHECK(layout.key_offset(1, 1, 0, 6) == layout.key_offset(1, 1, 0, 5) + layout.x);
}
