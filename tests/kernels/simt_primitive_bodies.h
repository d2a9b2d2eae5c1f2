// Small kernel bodies that exercise one SIMT primitive each, written once and compiled twice: by
// nvcc for the GPU (tests/kernels/simt_primitives_gpu.cu) and by the host compiler for the CPU
// emulator (tests/kernels/test_simt_primitives.cpp and the GPU comparison test), so that both
// backends run the same code on the same data and their outputs can be compared element by element.
//
// Every body runs as one thread_block; pointers are device memory on the GPU, host memory in the
// emulator. Shapes are in the notation of the kernel: [outermost, ..., innermost].
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/host_device.h"
#include "kernels/simt/fragments.h"
#include "kernels/simt/simt.h"
#include "kernels/simt/vec.h"

namespace pal::test {

// ---- ldmatrix -----------------------------------------------------------------------------------------
// Four 8x8 matrices of 16-bit elements are staged in shared memory with their rows scattered (row r
// of matrix m at a row slot given by a permutation, 48 bytes apart), so that the addresses each lane
// gives really select the rows. Each lane then runs every ldmatrix variant and writes what it got.
inline constexpr int kLdmatrixVariants = 6;  // x1, x2, x4, x1.trans, x2.trans, x4.trans
inline constexpr int kLdmatrixRowStrideBytes = 48;
inline constexpr int kLdmatrixSharedBytes = 32 * kLdmatrixRowStrideBytes;

PAL_HOST_DEVICE constexpr int ldmatrix_row_slot(int matrix, int row) { return (matrix * 8 + row) * 13 % 32; }

PAL_DEVICE inline void ldmatrix_body(const std::uint16_t* matrices,  // [4, 8, 8]
                                     std::uint32_t* out) {           // [32 lanes, kLdmatrixVariants, 4]
  unsigned char* shared = simt::dynamic_shared<unsigned char>();
  const int lane = simt::thread_idx();
  {
    // Lane l stages row l (matrix l / 8, row l % 8) into its slot.
    const Vec<std::uint16_t, 8> row = load_vec<Vec<std::uint16_t, 8>>(matrices + lane * 8);
    *reinterpret_cast<Vec<std::uint16_t, 8>*>(shared + ldmatrix_row_slot(lane / 8, lane % 8) * kLdmatrixRowStrideBytes) = row;
  }
  simt::sync_threads();
  const unsigned char* my_row = shared + ldmatrix_row_slot(lane / 8, lane % 8) * kLdmatrixRowStrideBytes;
  std::uint32_t* mine = out + lane * kLdmatrixVariants * 4;
  for (int i = 0; i < kLdmatrixVariants * 4; ++i) mine[i] = 0;
  std::uint32_t r1[1], r2[2], r4[4];
  simt::ldmatrix<1, false>(r1, my_row);
  mine[0 * 4] = r1[0];
  simt::ldmatrix<2, false>(r2, my_row);
  for (int i = 0; i < 2; ++i) mine[1 * 4 + i] = r2[i];
  simt::ldmatrix<4, false>(r4, my_row);
  for (int i = 0; i < 4; ++i) mine[2 * 4 + i] = r4[i];
  simt::ldmatrix<1, true>(r1, my_row);
  mine[3 * 4] = r1[0];
  simt::ldmatrix<2, true>(r2, my_row);
  for (int i = 0; i < 2; ++i) mine[4 * 4 + i] = r2[i];
  simt::ldmatrix<4, true>(r4, my_row);
  for (int i = 0; i < 4; ++i) mine[5 * 4 + i] = r4[i];
}

// ---- mma ----------------------------------------------------------------------------------------------
// D = A * B + C for one m16n8k16 (K = 16) or m16n8k8 (K = 8) with 16-bit inputs T. Each lane builds
// its fragments from the row-major matrices through kernels/simt/fragments.h and writes its four D
// elements back to their (row, col) places.
template <typename T, int K>
PAL_DEVICE void mma_body(const std::uint16_t* a,  // [16, K]  bits of T
                         const std::uint16_t* b,  // [K, 8]   bits of T
                         const float* c,          // [16, 8]
                         float* d) {              // [16, 8]
  static_assert(K == 16 || K == 8, "m16n8k16 or m16n8k8");
  constexpr int kA = K == 16 ? 4 : 2;
  constexpr int kB = K == 16 ? 2 : 1;
  const int lane = simt::thread_idx();
  std::uint32_t a_regs[kA], b_regs[kB];
  for (int r = 0; r < kA; ++r) {
    const int row = fragment::a_row(lane, r), col = fragment::a_col(lane, r);
    a_regs[r] = std::uint32_t(a[row * K + col]) | (std::uint32_t(a[row * K + col + 1]) << 16);
  }
  for (int r = 0; r < kB; ++r) {
    const int row = fragment::b_row(lane, r), col = fragment::b_col(lane);
    b_regs[r] = std::uint32_t(b[row * 8 + col]) | (std::uint32_t(b[(row + 1) * 8 + col]) << 16);
  }
  float c_regs[4], d_regs[4];
  for (int e = 0; e < 4; ++e) c_regs[e] = c[fragment::c_row(lane, e) * 8 + fragment::c_col(lane, e)];
  if constexpr (K == 16)
    simt::mma_m16n8k16<T>(d_regs, a_regs, b_regs, c_regs);
  else
    simt::mma_m16n8k8<T>(d_regs, a_regs, b_regs, c_regs);
  for (int e = 0; e < 4; ++e) d[fragment::c_row(lane, e) * 8 + fragment::c_col(lane, e)] = d_regs[e];
}

// ---- cp.async ------------------------------------------------------------------------------------------
// 64 threads each copy two 16-byte chunks, the first in group 0 and the second in group 1, with a
// src-size that varies by thread (0..16 bytes, the rest zero-filled). `before_wait` gets what chunk 0
// looked like right after it was issued (the emulator's poison; not compared with the GPU, where it
// is unspecified), `after_wait1` chunk 0 after cp.async.wait_group 1, `after_all` both chunks after
// wait_group 0 and a barrier, read by another thread than the one that copied them.
inline constexpr int kCopyThreads = 64;
inline constexpr int kCopySharedBytes = kCopyThreads * 2 * 16;

PAL_HOST_DEVICE constexpr int copy_src_bytes(int thread, int chunk) { return (thread * 5 + chunk * 3) % 17; }

PAL_DEVICE inline void cp_async_body(const unsigned char* source,  // [kCopyThreads, 2, 16]
                                     unsigned char* before_wait,   // [kCopyThreads, 16]
                                     unsigned char* after_wait1,   // [kCopyThreads, 16]
                                     unsigned char* after_all) {   // [kCopyThreads, 2, 16]
  unsigned char* shared = simt::dynamic_shared<unsigned char>();
  const int t = simt::thread_idx();
  simt::cp_async_16(shared + (t * 2 + 0) * 16, source + (t * 2 + 0) * 16, copy_src_bytes(t, 0));
  for (int i = 0; i < 16; ++i) before_wait[t * 16 + i] = shared[(t * 2 + 0) * 16 + i];
  simt::cp_async_commit();
  simt::cp_async_16(shared + (t * 2 + 1) * 16, source + (t * 2 + 1) * 16, copy_src_bytes(t, 1));
  simt::cp_async_commit();
  simt::cp_async_wait<1>();  // group 0 (chunk 0) has landed; group 1 may still be in flight
  for (int i = 0; i < 16; ++i) after_wait1[t * 16 + i] = shared[(t * 2 + 0) * 16 + i];
  simt::cp_async_wait<0>();
  simt::sync_threads();
  const int other = (t + 1) % kCopyThreads;  // read a neighbour's chunks: needs the barrier
  for (int i = 0; i < 32; ++i) after_all[other * 32 + i] = shared[other * 32 + i];
}

// ---- integer shuffles and sync_warp --------------------------------------------------------------------
// Bits go through unchanged (a NaN payload included); `out` gets, per lane, shfl_xor(bits, 3) and
// shfl(bits, 7) of the value bits_in[lane].
PAL_DEVICE inline void integer_shuffle_body(const std::uint32_t* bits_in,  // [32]
                                            std::uint32_t* out) {          // [32, 2]
  const int lane = simt::thread_idx();
  const std::uint32_t mine = bits_in[lane];
  simt::sync_warp();
  out[lane * 2 + 0] = simt::shfl_xor(mine, 3);
  out[lane * 2 + 1] = simt::shfl(mine, 7);
}

}  // namespace pal::test
