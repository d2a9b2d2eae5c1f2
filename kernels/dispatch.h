// The one place where runtime (dtype, head_size, block_size) become template arguments.
//
// Templates are used only for what sizes registers or shared memory; everything else is a runtime
// argument. The supported values are upstream's (see core/scenario.h), and anything else is
// refused here with the list of what would work.
#pragma once

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

// The configurations every backend instantiates, for explicit instantiation lists.
#define PAL_FOR_EACH_HEAD_SIZE(M, ...) \
  M(__VA_ARGS__, 32) M(__VA_ARGS__, 64) M(__VA_ARGS__, 80) M(__VA_ARGS__, 96) M(__VA_ARGS__, 112) \
  M(__VA_ARGS__, 120) M(__VA_ARGS__, 128) M(__VA_ARGS__, 192) M(__VA_ARGS__, 256)

}  // namespace pal
