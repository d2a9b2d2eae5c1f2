// Where an element of the paged KV cache lives: upstream's two layouts as element-offset functions.
//
//   k_cache [num_blocks, num_kv_heads, head_size/x, block_size, x]
//   v_cache [num_blocks, num_kv_heads, head_size, block_size]
//
// x is the number of elements in 16 bytes of the cache's own element type, and it is a parameter
// here, not a function of the query's dtype: an fp8 cache has x = 16 while the query stays fp16.
// K splits each token's key into x-element chunks and interleaves the chunks of a kv_block's tokens,
// so that consecutive lanes reading chunk c of consecutive tokens touch consecutive 16-byte pieces;
// V keeps one head-dim row of a kv_block's tokens contiguous, so a lane reads 16 bytes of tokens.
//
// Offsets are in elements from the tensor's base pointer. The kernel, the input generator, the
// launch plan and the visualizer's memory look-ups use these functions. The scalar reference does
// not: it keeps its own gather (reference/paged_reference.cpp), so that a wrong formula here shows
// up as a disagreement instead of being repeated on both sides.
#pragma once

#include <array>
#include <cstdint>

#include "core/host_device.h"

namespace pal {

// Bytes of one x-chunk of the key layout (and of one lane's V load).
inline constexpr int kKvChunkBytes = 16;

// x: elements per 16-byte chunk for a cache element of `element_size_bytes`.
PAL_HOST_DEVICE constexpr int key_x_for(int element_size_bytes) { return kKvChunkBytes / element_size_bytes; }

// Offsets inside one (physical block, kv head) slice, the kernel's 32-bit offsets from its 64-bit
// slice pointer. A key element splits into a part that depends only on the token slot and a part
// that depends only on the head dim, so the kernel adds the token's part once per token.
PAL_HOST_DEVICE constexpr int key_token_offset(int block_offset, int x) { return block_offset * x; }
PAL_HOST_DEVICE constexpr int key_dim_offset(int dim, int block_size, int x) {
  return (dim / x) * block_size * x + dim % x;  // chunk dim / x, element dim % x of that chunk
}
PAL_HOST_DEVICE constexpr int value_offset_in_kv_head(int dim, int block_offset, int block_size) {
  return dim * block_size + block_offset;  // row dim holds the kv_block's tokens contiguously
}

// Offset of the first element of (physical block, kv head), from the strides a launch passes (the
// same for K and V). 64-bit: physical_block * kv_block_stride overflows int32 on large pools.
PAL_HOST_DEVICE constexpr std::int64_t kv_head_base(std::int64_t physical_block, int kv_head,
                                                    std::int64_t kv_block_stride, std::int64_t kv_head_stride) {
  return physical_block * kv_block_stride + std::int64_t(kv_head) * kv_head_stride;
}

// Where an element of the cache is: the inverse of the offset functions below.
struct KvCacheCoordinates {
  std::int64_t physical_block;
  int kv_head;
  int dim;           // head dim
  int block_offset;  // token slot inside the kv_block
};

// The whole layout of one cache pool.
struct KvCacheLayout {
  int num_kv_heads = 0;
  int head_size = 0;
  int block_size = 0;  // tokens per kv_block
  int x = 0;           // elements per 16-byte chunk of the key layout's innermost dimension

  // Elements between two kv heads inside a kv_block, and between two physical kv_blocks.
  PAL_HOST_DEVICE constexpr std::int64_t kv_head_stride() const { return std::int64_t(head_size) * block_size; }
  PAL_HOST_DEVICE constexpr std::int64_t kv_block_stride() const { return kv_head_stride() * num_kv_heads; }

  PAL_HOST_DEVICE constexpr std::int64_t key_offset(std::int64_t physical_block, int kv_head, int dim,
                                                    int block_offset) const {
    return kv_head_base(physical_block, kv_head, kv_block_stride(), kv_head_stride()) +
           key_token_offset(block_offset, x) + key_dim_offset(dim, block_size, x);
  }
  PAL_HOST_DEVICE constexpr std::int64_t value_offset(std::int64_t physical_block, int kv_head, int dim,
                                                      int block_offset) const {
    return kv_head_base(physical_block, kv_head, kv_block_stride(), kv_head_stride()) +
           value_offset_in_kv_head(dim, block_offset, block_size);
  }

  PAL_HOST_DEVICE constexpr KvCacheCoordinates key_coordinates(std::int64_t element) const {
    const std::int64_t in_head = element % kv_head_stride();
    const int chunk = int(in_head / (std::int64_t(block_size) * x));
    return {element / kv_block_stride(), int((element / kv_head_stride()) % num_kv_heads),
            chunk * x + int(in_head % x), int((in_head / x) % block_size)};
  }
  PAL_HOST_DEVICE constexpr KvCacheCoordinates value_coordinates(std::int64_t element) const {
    const std::int64_t in_head = element % kv_head_stride();
    return {element / kv_block_stride(), int((element / kv_head_stride()) % num_kv_heads), int(in_head / block_size),
            int(in_head % block_size)};
  }

  // The tensors' shapes for a pool of num_blocks kv_blocks.
  constexpr std::array<std::int64_t, 5> key_shape(std::int64_t num_blocks) const {
    return {num_blocks, num_kv_heads, head_size / x, block_size, x};
  }
  constexpr std::array<std::int64_t, 4> value_shape(std::int64_t num_blocks) const {
    return {num_blocks, num_kv_heads, head_size, block_size};
  }
};

}  // namespace pal
