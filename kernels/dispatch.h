// The one place where runtime (dtype, head_size, block_size) become template arguments.
//
// Templates are used only for what sizes registers or shared memory; everything else is a runtime
// argument. The supported values are upstream's (see core/scenario.h), and anything else is
// refused here with the list of what would work.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include "core/dtype.h"
#include "core/scenario.h"

namespace pal {

template <int N> using IntConstant = std::integral_constant<int, N>;

// Calls fn(IntConstant<HEAD_SIZE>{}) for a supported head size.
template <typename Fn>
decltype(auto) dispatch_head_size(int head_size, Fn&& fn) {
  switch (head_size) {
    case 32: return fn(IntConstant<32>{});
    case 64: return fn(IntConstant<64>{});
    case 80: return fn(IntConstant<80>{});
    case 96: return fn(IntConstant<96>{});
    case 112: return fn(IntConstant<112>{});
    case 120: return fn(IntConstant<120>{});
    case 128: return fn(IntConstant<128>{});
    case 192: return fn(IntConstant<192>{});
    case 256: return fn(IntConstant<256>{});
    default: break;
  }
  throw ScenarioError("head_size = " + std::to_string(head_size) +
                      " is not supported by the kernel; supported head sizes are 32, 64, 80, 96, "
                      "112, 120, 128, 192 and 256 (each is a separate compiled kernel)");
}

// Calls fn(IntConstant<BLOCK_SIZE>{}) for a supported kv_block size.
template <typename Fn>
decltype(auto) dispatch_block_size(int block_size, Fn&& fn) {
  switch (block_size) {
    case 8: return fn(IntConstant<8>{});
    case 16: return fn(IntConstant<16>{});
    case 32: return fn(IntConstant<32>{});
    default: break;
  }
  throw ScenarioError("block_size = " + std::to_string(block_size) +
                      " is not supported by the kernel; supported block sizes are 8, 16 and 32 "
                      "(one warp must cover one kv_block)");
}

// Calls fn(scalar_t{}, IntConstant<HEAD_SIZE>{}, IntConstant<BLOCK_SIZE>{}).
template <typename Fn>
decltype(auto) dispatch_kernel_config(DType dtype, int head_size, int block_size, Fn&& fn) {
  return visit_dtype(dtype, [&](auto scalar) -> decltype(auto) {
    return dispatch_head_size(head_size, [&](auto head) -> decltype(auto) {
      return dispatch_block_size(block_size, [&](auto block) -> decltype(auto) { return fn(scalar, head, block); });
    });
  });
}

// ---- the kernel's variants: what the cache stores, and block sparsity ------------------------------

template <KvCacheDtype V> using KvCacheDtypeConstant = std::integral_constant<KvCacheDtype, V>;
template <bool B> using BoolConstant = std::bool_constant<B>;

// Calls fn(cache_t{}, KvCacheDtypeConstant<KV_DTYPE>{}) for the query type scalar_t, as upstream's
// DISPATCH_BY_KV_CACHE_DTYPE maps them: auto stores scalar_t itself, both fp8 formats one-byte codes.
template <typename scalar_t, typename Fn>
decltype(auto) dispatch_kv_cache_dtype(KvCacheDtype kv_cache_dtype, Fn&& fn) {
  switch (kv_cache_dtype) {
    case KvCacheDtype::automatic: return fn(scalar_t{}, KvCacheDtypeConstant<KvCacheDtype::automatic>{});
    case KvCacheDtype::fp8_e4m3: return fn(std::uint8_t{}, KvCacheDtypeConstant<KvCacheDtype::fp8_e4m3>{});
    case KvCacheDtype::fp8_e5m2: return fn(std::uint8_t{}, KvCacheDtypeConstant<KvCacheDtype::fp8_e5m2>{});
  }
  throw ScenarioError("kv_cache_dtype " + std::to_string(int(kv_cache_dtype)) + " is unknown; use auto, fp8_e4m3 or fp8_e5m2");
}

// One instantiation of the main kernel, as the template arguments that the scenario decides:
// fn(scalar_t{}, cache_t{}, KvCacheDtypeConstant<KV_DTYPE>{}, IntConstant<HEAD_SIZE>{},
//    IntConstant<BLOCK_SIZE>{}, BoolConstant<IS_BLOCK_SPARSE>{}).
// Every combination upstream dispatches is spelled here; which ones a build compiled is each
// backend's business (see kernels/CMakeLists.txt, PAL_CUDA_INSTANTIATIONS / PAL_EMULATOR_INSTANTIATIONS).
template <typename Fn>
decltype(auto) dispatch_kernel_variant(DType dtype, KvCacheDtype kv_cache_dtype, int head_size, int block_size,
                                       bool block_sparse, Fn&& fn) {
  return dispatch_kernel_config(dtype, head_size, block_size, [&](auto scalar, auto head, auto block) -> decltype(auto) {
    return dispatch_kv_cache_dtype<decltype(scalar)>(kv_cache_dtype, [&](auto cache, auto kv) -> decltype(auto) {
      if (block_sparse) return fn(scalar, cache, kv, head, block, BoolConstant<true>{});
      return fn(scalar, cache, kv, head, block, BoolConstant<false>{});
    });
  });
}

// The build option that decides a backend's set, for the messages that refuse a configuration.
std::string describe_kernel_variant(DType dtype, KvCacheDtype kv_cache_dtype, int head_size, int block_size,
                                    bool block_sparse);

// The configurations every backend instantiates, for explicit instantiation lists.
#define PAL_FOR_EACH_HEAD_SIZE(M, ...) \
  M(__VA_ARGS__, 32) M(__VA_ARGS__, 64) M(__VA_ARGS__, 80) M(__VA_ARGS__, 96) M(__VA_ARGS__, 112) \
  M(__VA_ARGS__, 120) M(__VA_ARGS__, 128) M(__VA_ARGS__, 192) M(__VA_ARGS__, 256)

}  // namespace pal
