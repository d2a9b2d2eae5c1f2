// Which elements of a warp-level matrix instruction each lane holds: the fragment layouts of the
// PTX ISA, written once. The emulator builds its mma.sync and ldmatrix from these functions, the
// grouped kernel uses them to know which (query head, token) or (query head, dim) a register holds,
// and the tests check them against hand-worked cases. Nothing else in the project spells a lane
// formula for a fragment.
//
// Source of the layouts: PTX ISA, "Warp-level matrix fragment" sections for mma.m16n8k16 and
// mma.m16n8k8 with .f16 / .bf16 inputs and .f32 accumulators, and for ldmatrix (.m8n8, .x1 / .x2 /
// .x4, with and without .trans, .shared.b16).
//
// Vocabulary: a warp's 32 lanes form 8 quads of 4 lanes. `quad` = lane / 4 (the PTX ISA calls it
// groupID), `quad_lane` = lane % 4 (threadID_in_group). A 32-bit register of an A or B fragment
// holds two 16-bit elements; the element with the smaller column (A) or row (B) index sits in the
// low 16 bits. Every function returns the index of the FIRST element of that pair.
//
//   A (m16 x k16, row-major), 4 registers per lane:
//     reg 0: row quad,     cols 2*quad_lane + {0,1}        reg 2: row quad,     cols 8 + 2*quad_lane + {0,1}
//     reg 1: row quad + 8, cols 2*quad_lane + {0,1}        reg 3: row quad + 8, cols 8 + 2*quad_lane + {0,1}
//     e.g. lane 5 (quad 1, quad_lane 1) holds A rows 1 and 9, columns 2-3 and 10-11.
//   B (k16 x n8, "col": consecutive k of one column in a register), 2 registers per lane:
//     reg 0: rows 2*quad_lane + {0,1}, col quad            reg 1: rows 8 + 2*quad_lane + {0,1}, col quad
//   C / D (m16 x n8, fp32), 4 floats per lane:
//     c0, c1: row quad, cols 2*quad_lane + {0,1}           c2, c3: row quad + 8, same cols
//   m16n8k8: A has regs 0 and 1 of the k16 layout (cols 0-7), B has reg 0, C is the same.
//   ldmatrix .m8n8 .b16: matrix i's row r is read from the 16 bytes at the address lane 8*i + r
//     gives; each lane receives, per matrix, row lane/4, elements 2*(lane%4) + {0,1} (with .trans:
//     column lane/4, rows 2*(lane%4) + {0,1}). .x1 uses the addresses of lanes 0-7, .x2 of lanes 0-15.
#pragma once

#include <cstdint>

#include "core/host_device.h"

namespace pal::fragment {

inline constexpr int kLanes = 32;
inline constexpr int kQuadSize = 4;

PAL_HOST_DEVICE constexpr int quad(int lane) { return lane / kQuadSize; }
PAL_HOST_DEVICE constexpr int quad_lane(int lane) { return lane % kQuadSize; }

// ---- mma.m16n8k16 (and m16n8k8: the first two A registers, the first B register) ----------------
inline constexpr int kMmaM = 16;
inline constexpr int kMmaN = 8;
inline constexpr int kMmaK = 16;
inline constexpr int kARegisters = 4;  // m16n8k16; m16n8k8 uses 2
inline constexpr int kBRegisters = 2;  // m16n8k16; m16n8k8 uses 1
inline constexpr int kCElements = 4;

PAL_HOST_DEVICE constexpr int a_row(int lane, int reg) { return quad(lane) + 8 * (reg & 1); }
PAL_HOST_DEVICE constexpr int a_col(int lane, int reg) { return 2 * quad_lane(lane) + 8 * (reg >> 1); }
PAL_HOST_DEVICE constexpr int b_row(int lane, int reg) { return 2 * quad_lane(lane) + 8 * reg; }
PAL_HOST_DEVICE constexpr int b_col(int lane) { return quad(lane); }
PAL_HOST_DEVICE constexpr int c_row(int lane, int element) { return quad(lane) + 8 * (element >> 1); }
PAL_HOST_DEVICE constexpr int c_col(int lane, int element) { return 2 * quad_lane(lane) + (element & 1); }

// ---- ldmatrix.m8n8.b16 -------------------------------------------------------------------------------
inline constexpr int kLdmatrixRows = 8;
inline constexpr int kLdmatrixRowBytes = 16;

// The lane whose address gives row `row` of matrix `matrix`.
PAL_HOST_DEVICE constexpr int ldmatrix_address_lane(int matrix, int row) { return kLdmatrixRows * matrix + row; }
// Without .trans: the row and first column a lane receives; with .trans the two are swapped (the
// lane receives column ldmatrix_row(lane), rows ldmatrix_col(lane) + {0,1}).
PAL_HOST_DEVICE constexpr int ldmatrix_row(int lane) { return lane / kQuadSize; }
PAL_HOST_DEVICE constexpr int ldmatrix_col(int lane) { return 2 * (lane % kQuadSize); }

}  // namespace pal::fragment
