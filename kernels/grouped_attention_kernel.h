// The grouped decode kernel: one source for the GPU (nvcc) and the CPU emulator (host C++).
//
// Where v1/v2 give every query head its own thread_block (so a KV head shared by a group of query
// heads is read once per query head), this kernel gives one thread_block to a (KV head, sequence,
// split): it copies each kv_block of its range ONCE into shared memory, through a multi-stage
// cp.async pipeline, and every query head of the group computes on that copy. Each warp keeps an
// online softmax state (running max, sum, unnormalised output) per query head over its share of the
// tokens, FlashAttention-2 style; the warps are merged in shared memory at the end, and the splits
// of a sequence by the split_merge kernel (at the end of this file).
//
// Two math paths share everything but the two products (template parameter MATH, see
// kernels/grouped_geometry.h): tensor cores (mma.sync m16n8k16, the group's query heads as the 16
// rows of A, fp16/bf16 in, fp32 accumulate), and CUDA cores (fp32 FMAs; the path for fp32).
//
// What is upstream's and what is ours: the inputs are upstream vLLM's (its paged K/V layouts,
// block tables, seq_lens, ALiBi, scale), and the probabilities are rounded to scalar_t before P.V as
// upstream's kernel does. Reading each KV head once per group with a cp.async pipeline, the query
// heads as mma rows, the FA2 register reuse (QK's C fragment is P.V's A fragment) and the split-KV
// merge are the techniques of FlashInfer, FlashAttention and TensorRT-LLM's XQA
// (../shared/gqa-decode-facts.md); the code, the tiling and the names are this project's.
// fp8 caches (E4M3, E5M2 with per-tensor k_scale / v_scale, core/fp8.h): the tile copy moves the
// raw one-byte codes (16 per cp.async; the K layout's x is 16, core/kv_cache_layout.h), so a tile
// holds twice the tokens' worth of bytes it would in fp16 and the copy moves half the bytes. Each
// code is dequantised where a tile element is read from shared memory into registers (the B
// fragments of the two mma products, or the CUDA-core path's floats): on CUDA cores per element by
// the function v1/v2's load_kv_vec calls (dequantize_fp8: code -> fp16 exactly -> fp32, times the
// scale, rounded once to scalar_t); on tensor cores two codes at a time, the two codes of one B
// register, by dequantize_fp8_pair (one pair conversion, the same arithmetic per element), so all
// three versions compute with bit-identical K and V. Upstream's
// paged kernel dequantises in registers right after each global load. FlashInfer's CUDA-core
// decode keeps its shared-memory tiles in the cache's type too (k_smem / v_smem are DTypeKV arrays
// filled by cp.async) and converts on the read back (the cast_load of its float vec_t, in
// compute_qk and update_local_state, include/flashinfer/attention/decode.cuh at 00b57feb),
// applying no scale there. Where this kernel gains over v1/v2: each code is converted once per
// row tile, i.e. once for up to 16 query heads of the group (8 on CUDA cores), where v1/v2 convert
// it once per head.
//
// Numerically this kernel differs from v1/v2 by design: exp(logit - running max) instead of
// exp(logit - final max), rounded to scalar_t at that point, and no 1e-6 epsilon in the final
// division (the sum is >= 1: the token with the final maximum contributes exp(0)).
//
// Conventions: shapes in brackets, outermost first; [begin, end) ranges are half-open; _idx is a
// position, num_ a count; all accumulation is fp32. The stages are delimited by `//! [name]`
// markers that the docs will quote; each calls the probe (kernels/grouped_probe.h).
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "core/dtype.h"
#include "core/fp8.h"
#include "core/softmax_state.h"
#include "kernels/geometry.h"
#include "kernels/grouped_geometry.h"
#include "core/softmax_merge.h"
#include "kernels/access_site.h"
#include "kernels/grouped_probe.h"
#include "kernels/simt/fragments.h"
#include "kernels/simt/simt.h"
#include "kernels/simt/vec.h"

namespace pal {

// Arguments of the main kernel. Pointers are device memory on the GPU, host memory in the emulator.
// cache_t is the K/V cache's element type: scalar_t for an auto cache, std::uint8_t codes for fp8.
template <typename scalar_t, typename cache_t>
struct GroupedArgs {
  scalar_t* out;                 // [num_seqs, num_heads, head_size]
  float* partial_out;            // [num_seqs, num_heads, num_splits, head_size]  normalised, per split; null: one split
  float* max_logits;             // [num_seqs, num_heads, num_splits]  each split's state; null: not kept
  float* exp_sums;               // [num_seqs, num_heads, num_splits]
  const scalar_t* q;             // [num_seqs, num_heads, head_size]
  const cache_t* k_cache;        // [num_blocks, num_kv_heads, head_size/x, block_size, x]
  const cache_t* v_cache;        // [num_blocks, num_kv_heads, head_size, block_size]
  const int* block_tables;       // [num_seqs, max_num_blocks_per_seq]
  const int* seq_lens;           // [num_seqs]
  const float* alibi_slopes;     // [num_heads] or null
  int num_heads;
  int num_kv_heads;
  int max_num_blocks_per_seq;
  float scale;
  std::int64_t q_stride;         // elements between two sequences' queries
  std::int64_t kv_block_stride;  // elements between two physical kv_blocks (same for K and V)
  std::int64_t kv_head_stride;   // elements between two kv heads inside a kv_block
  // fp8 caches: a cached key is decode(code) * k_scale, a value decode(code) * v_scale (as v1/v2's
  // AttentionArgs, values rather than upstream's device pointers).
  float k_scale;
  float v_scale;
  // The launch plan (kernels/split_planner.h).
  int num_head_chunks;           // thread_blocks per query group (1 unless the group exceeds 4 row tiles)
  int heads_per_chunk;
  int row_tiles;                 // 1, 2 or 4
  int kv_blocks_per_split;       // a multiple of the tile's kv_blocks
  int num_splits;                // gridDim.z
};

// Arguments of the split_merge kernel.
template <typename scalar_t>
struct SplitMergeArgs {
  scalar_t* out;                 // [num_seqs, num_heads, head_size]
  const float* partial_out;      // [num_seqs, num_heads, num_splits, head_size]
  const float* max_logits;       // [num_seqs, num_heads, num_splits]
  const float* exp_sums;         // [num_seqs, num_heads, num_splits]
  const int* seq_lens;           // [num_seqs]
  int block_size;
  int kv_blocks_per_split;
  int num_splits;
};

// The derived constants of one instantiation (kernels/grouped_geometry.h says what each counts).
template <typename scalar_t, typename cache_t, KvCacheDtype KV_DTYPE, int HEAD_SIZE, int BLOCK_SIZE, GroupedMath MATH>
struct GroupedConstants {
  static constexpr GroupedGeometry geometry{int(sizeof(scalar_t)), HEAD_SIZE, BLOCK_SIZE, MATH, int(sizeof(cache_t))};
  static constexpr bool FP8 = is_fp8(KV_DTYPE);
  static constexpr int ROWS_PER_WARP = geometry.rows_per_warp();
  static constexpr int X = geometry.unit_elements();  // elements per 16-byte unit (the K layout's x)
  static constexpr int NUM_KEY_UNITS = geometry.num_key_units();
  static constexpr int KV_BLOCK_UNITS = geometry.kv_block_units();
  static constexpr int KV_BLOCK_ELEMENTS = HEAD_SIZE * BLOCK_SIZE;  // of K (or V) of one KV head
  static constexpr int VALUE_ROW_RUN = geometry.value_row_run();
  // With an fp8 cache and fp32 queries, how many codes one conversion takes decides whether the
  // product is rounded through fp16 (core/fp8.h). This kernel converts element by element but
  // passes v1/v2's widths (a key load's VEC_SIZE, a value load's V_VEC_SIZE), so that the three
  // versions see the same dequantised K and V and the reference's gathers serve all of them.
  // (The thread count does not enter the vec widths; v1/v2 have 128 threads as well.)
  static constexpr KernelGeometry v1_loads{int(sizeof(scalar_t)), HEAD_SIZE, BLOCK_SIZE, kGroupedNumThreads,
                                           int(sizeof(cache_t))};
  static constexpr int KEY_CODES_PER_CONVERSION = v1_loads.vec_size();
  static constexpr int VALUE_CODES_PER_CONVERSION = v1_loads.v_vec_size();
  static constexpr int TILE_TOKENS = geometry.tile_tokens();
  static constexpr int TILE_BLOCKS = geometry.tile_blocks();
  static constexpr int TILE_BYTES = geometry.tile_bytes();
  static constexpr int STEPS_PER_TILE = geometry.steps_per_tile();
  static constexpr int NUM_STAGES = geometry.num_stages();
  static constexpr int THREADS_PER_KV_BLOCK = geometry.threads_per_kv_block();
  static constexpr int COPIES_PER_THREAD = geometry.copies_per_thread();
  static constexpr int NUM_K_STEPS = geometry.num_k_steps();
  static constexpr bool HAS_HALF_K_STEP = geometry.has_half_k_step();
  static constexpr int NUM_DIM_TILES = geometry.num_dim_tiles();
  static constexpr int QUERY_ROW_ELEMENTS = geometry.query_row_elements();
  static constexpr int DIMS_PER_LANE = geometry.dims_per_lane();
  static constexpr int KV_OR_MERGE_BYTES = geometry.kv_or_merge_bytes();
  static constexpr int QUERY_BYTES_PER_ROW_TILE = geometry.query_bytes(1);
  // Up to head 128 the query's A fragments stay in registers (4 per k-step); above, the 128 fp32
  // accumulators of head 256 leave no room for 64 more, and each k-step reloads them by ldmatrix.
  static constexpr bool QUERY_IN_REGISTERS = HEAD_SIZE <= 128;

  static_assert(FP8 ? std::is_same_v<cache_t, std::uint8_t> : std::is_same_v<cache_t, scalar_t>,
                "an auto cache stores scalar_t, an fp8 cache one-byte codes");
  static_assert(!FP8 || HEAD_SIZE % 16 == 0, "an fp8 cache takes head sizes that are whole 16-code x-chunks");
  static_assert(TILE_TOKENS % BLOCK_SIZE == 0, "a tile is whole kv_blocks");
  static_assert(TILE_TOKENS % kGroupedWarpTokens == 0, "a tile is whole warp steps");
  static_assert(kGroupedNumThreads % TILE_BLOCKS == 0, "each kv_block of a tile has the same number of copying threads");
  static_assert((2 * KV_BLOCK_UNITS) % THREADS_PER_KV_BLOCK == 0, "K and V of a kv_block split evenly over its threads");
  static_assert(KV_BLOCK_UNITS % 8 == 0, "the swizzle permutes groups of 8 units inside a region");
  static_assert(BLOCK_SIZE % 8 == 0 && (BLOCK_SIZE % X == 0 || X % BLOCK_SIZE == 0),
                "a V unit holds part of one dim's row or whole rows, and an 8-token half step never "
                "straddles two kv_blocks");
  static_assert(HEAD_SIZE % X == 0, "a key is whole 16-byte units");
  static_assert(MATH == GroupedMath::cuda_cores || sizeof(scalar_t) == 2, "mma.sync takes 16-bit inputs");
  static_assert(MATH == GroupedMath::cuda_cores || FP8 || BLOCK_SIZE % X == 0,
                "ldmatrix reads 8 consecutive tokens of one V row from one unit");
  static_assert(MATH == GroupedMath::cuda_cores || HEAD_SIZE % 8 == 0, "P.V n-tiles are 8 dims");
  static_assert(NUM_STAGES >= 2, "the pipeline overlaps one tile's copy with another's compute");
  static_assert((2 + kGroupedNumWarps) * 4 <= QUERY_ROW_ELEMENTS * geometry.query_shared_element_size(),
                "a query row's bytes hold its head's merged state and one factor per token slice (output)");
};

// A cached K or V element as the math computes with it: an auto cache's as stored; an fp8 code
// dequantised with the tensor's scale by core/fp8.h's dequantize_fp8, the function v1/v2's
// load_kv_vec calls, with v1/v2's codes per conversion (GroupedConstants says why).
template <typename scalar_t, KvCacheDtype KV_DTYPE, int CODES_PER_CONVERSION, typename cache_t>
PAL_DEVICE PAL_FORCE_INLINE scalar_t cached_element(cache_t stored, float kv_scale) {
  if constexpr (is_fp8(KV_DTYPE)) {
    return dequantize_fp8<scalar_t>(stored, fp8_format_of(KV_DTYPE), kv_scale, CODES_PER_CONVERSION);
  } else {
    return stored;
  }
}

// Two fp8 codes as dequantize_fp8_pair takes them: the first in the low byte.
PAL_DEVICE PAL_FORCE_INLINE std::uint16_t code_pair(const Vec<std::uint8_t, 2>& codes) {
  return static_cast<std::uint16_t>(codes.elem[0] | (codes.elem[1] << 8));
}

// The 16-byte unit `unit` of a (swizzled) K or V region of a tile in shared memory.
PAL_DEVICE PAL_FORCE_INLINE const unsigned char* tile_unit(const unsigned char* region, int unit) {
  return region + swizzled_unit(unit) * kUnitBytes;
}

// Per-warp online softmax state of the tensor-core path: a lane holds rows quad and quad + 8 of the
// warp's 16 (index 0 and 1 here), and of every 8-dim n-tile of the output the four C elements.
template <int NUM_DIM_TILES>
struct TensorCoreWarpState {
  float acc[NUM_DIM_TILES][fragment::kCElements];  // unnormalised output, C fragments
  float max_logit[2];                              // running max of rows quad, quad + 8
  float exp_sum[2];                                // this lane's part of the running sum
};

// CUDA-core path: every lane holds every row of the warp, for its head dims lane, lane + 32, ...
template <int ROWS, int DIMS_PER_LANE>
struct CudaCoreWarpState {
  float acc[ROWS][DIMS_PER_LANE];
  float max_logit[ROWS];
  float exp_sum[ROWS];  // lanes 0-15: their token's part of the running sum; lanes 16-31: 0
};

// grid (num_kv_heads * num_head_chunks, num_seqs, num_splits), kGroupedNumThreads threads.
// Dynamic shared memory: GroupedGeometry::shared_bytes(row_tiles).
template <typename scalar_t, typename cache_t, KvCacheDtype KV_DTYPE, int HEAD_SIZE, int BLOCK_SIZE, GroupedMath MATH,
          typename Probe>
PAL_DEVICE void grouped_attention_body(const GroupedArgs<scalar_t, cache_t>& args, Probe probe) {
  using C = GroupedConstants<scalar_t, cache_t, KV_DTYPE, HEAD_SIZE, BLOCK_SIZE, MATH>;
  constexpr int ROWS = C::ROWS_PER_WARP;
  constexpr int X = C::X;
  constexpr int KV_BLOCK_UNITS = C::KV_BLOCK_UNITS;
  constexpr int NUM_STAGES = C::NUM_STAGES;
  constexpr bool TENSOR_CORES = MATH == GroupedMath::tensor_cores;
  using UnitVec = Vec<cache_t, X>;  // one 16-byte unit of K or V
  // K and V elements as the math uses them (identity for an auto cache).
  auto key_element = [&](cache_t stored) {
    return cached_element<scalar_t, KV_DTYPE, C::KEY_CODES_PER_CONVERSION>(stored, args.k_scale);
  };
  auto value_element = [&](cache_t stored) {
    return cached_element<scalar_t, KV_DTYPE, C::VALUE_CODES_PER_CONVERSION>(stored, args.v_scale);
  };

  //! [prologue]
  const int seq_idx = simt::block_idx_y();
  const int split_idx = simt::block_idx_z();
  // One chunk per query group is the usual plan (every group that fits one block's row tiles): that
  // case skips the runtime division and remainder, about 20 instructions each (run 36's machine code).
  const int kv_head_idx = args.num_head_chunks == 1 ? simt::block_idx_x() : simt::block_idx_x() / args.num_head_chunks;
  const int head_chunk_idx = args.num_head_chunks == 1 ? 0 : simt::block_idx_x() % args.num_head_chunks;
  // Launched with programmatic dependent launch, this grid may start while the stream's previous
  // kernel is still running (its launch and prologue overlap that kernel's tail); every input is
  // read after this wait, so it sees whatever that kernel wrote.
  simt::wait_for_prerequisite_grids();
  // The block-table entry of this thread's first copy, read before seq_len is known (any entry of
  // the sequence's row lies inside the table; it is used only if the kv_block is in the split), so
  // the two reads overlap instead of following each other.
  const int first_copy_block_idx = simt::block_idx_z() * args.kv_blocks_per_split + simt::thread_idx() / C::THREADS_PER_KV_BLOCK;
  const int first_table_entry = first_copy_block_idx < args.max_num_blocks_per_seq
                                    ? args.block_tables[std::int64_t(seq_idx) * args.max_num_blocks_per_seq + first_copy_block_idx]
                                    : 0;
  const int seq_len = args.seq_lens[seq_idx];
  const int num_seq_blocks = divide_round_up(seq_len, BLOCK_SIZE);
  // This split's kv_blocks [start, end) and tokens [start, end). A split that starts past the end
  // of a shorter sequence has nothing to do: it writes nothing, and split_merge never reads it.
  const int start_block_idx = split_idx * args.kv_blocks_per_split;
  if (start_block_idx >= num_seq_blocks) return;
  const int end_block_idx = min_of(start_block_idx + args.kv_blocks_per_split, num_seq_blocks);
  const int start_token_idx = start_block_idx * BLOCK_SIZE;
  const int end_token_idx = min_of(end_block_idx * BLOCK_SIZE, seq_len);
  const int num_tiles = divide_round_up(end_block_idx - start_block_idx, C::TILE_BLOCKS);
  // A sequence that fits in one split is finished here; split_merge skips it.
  const bool sequence_has_one_split = num_seq_blocks <= args.kv_blocks_per_split;

  // The query heads of this block: its chunk of the KV head's group (consecutive heads share a KV head).
  const int group_size = args.num_heads / args.num_kv_heads;
  const int first_head_idx = kv_head_idx * group_size + head_chunk_idx * args.heads_per_chunk;
  const int num_block_heads = min_of(args.heads_per_chunk, group_size - head_chunk_idx * args.heads_per_chunk);

  const int thread_idx = simt::thread_idx();
  const int warp_idx = thread_idx / kWarpSize;
  const int lane = thread_idx % kWarpSize;
  // Warps are laid out [token_slice][row_tile]: the warps of a row tile take turns over the steps.
  // row_tiles is 1, 2 or 4 (the planner rounds it up to a power of two; test_split_planner.cpp checks
  // every group size), so these are shifts and masks, not runtime divisions; the tile loop's slice
  // arithmetic below relies on it too.
  const int row_tile_bits = args.row_tiles >= 4 ? 2 : args.row_tiles - 1;  // log2(row_tiles)
  const int row_tile = warp_idx & (args.row_tiles - 1);
  const int token_slice = warp_idx >> row_tile_bits;
  const int num_token_slices = kGroupedNumWarps >> row_tile_bits;
  const int token_slice_mask = num_token_slices - 1;
  const int warp_first_row = row_tile * ROWS;  // the warp's first query head, counted in the block
  const int rows_in_warp = max_of(0, min_of(ROWS, num_block_heads - warp_first_row));

  // Dynamic shared memory (kernels/grouped_geometry.h): the K/V pipeline (later the merge area),
  // the query rows, and (CUDA cores) each warp's probabilities of a step.
  unsigned char* shared = simt::dynamic_shared<unsigned char>();
  auto key_stage = [&](int stage) { return shared + stage * C::TILE_BYTES; };  // [TILE_BLOCKS * KV_BLOCK_UNITS] units
  auto value_stage = [&](int stage) { return shared + stage * C::TILE_BYTES + C::TILE_BYTES / 2; };
  unsigned char* query_shared = shared + C::KV_OR_MERGE_BYTES;  // [row_tiles * ROWS, QUERY_ROW_ELEMENTS]
  float* probs_shared = reinterpret_cast<float*>(query_shared + C::QUERY_BYTES_PER_ROW_TILE * args.row_tiles);
                                                                 // [NUM_WARPS, ROWS, kGroupedWarpTokens]  CUDA cores
  probe.begin(GroupedBlockCoords{seq_idx, kv_head_idx, head_chunk_idx, split_idx, first_head_idx, num_block_heads,
                                 start_token_idx, end_token_idx},
              thread_idx);
  //! [prologue]

  //! [kv_tile_load]
  // Tile t of the split covers kv_blocks start_block_idx + t * TILE_BLOCKS + [0, TILE_BLOCKS). Each
  // kv_block's K (head_size * block_size elements, contiguous in k_cache for one KV head) and V
  // (likewise) are copied by THREADS_PER_KV_BLOCK threads in consecutive 16-byte units, so a warp's
  // copies read 512 contiguous bytes. Units past the split's end copy 0 source bytes (cp.async's
  // zero fill): slots past seq_len in the last kv_block, and whole kv_blocks past the split, become
  // zeros in shared memory and never bring the cache's unused slots (NaN in the tests) into the math.
  const int copy_block_in_tile = thread_idx / C::THREADS_PER_KV_BLOCK;
  const int copy_first_unit = thread_idx % C::THREADS_PER_KV_BLOCK;
  const int* block_table = args.block_tables + std::int64_t(seq_idx) * args.max_num_blocks_per_seq;
  auto block_table_entry = [&](int tile_idx) {
    const int logical_block_idx = start_block_idx + tile_idx * C::TILE_BLOCKS + copy_block_in_tile;
    return tile_idx < num_tiles && logical_block_idx < end_block_idx ? block_table[logical_block_idx] : 0;
  };
  // Each tile's block-table entry is read one tile ahead, so a copy never waits for two memory
  // round trips in a row (table, then cache).
  int next_physical_block = num_tiles > 0 && start_block_idx + copy_block_in_tile < end_block_idx ? first_table_entry : 0;
  auto issue_tile_copies = [&](int tile_idx) {
    if (tile_idx >= num_tiles) return;  // past the split: an empty group keeps the wait counts uniform
    const int logical_block_idx = start_block_idx + tile_idx * C::TILE_BLOCKS + copy_block_in_tile;
    // 64-bit from here on: physical_block_number * kv_block_stride overflows int32 on large pools.
    const std::int64_t physical_block_number = next_physical_block;
    next_physical_block = block_table_entry(tile_idx + 1);
    const bool block_in_split = logical_block_idx < end_block_idx;
    const int block_first_token = logical_block_idx * BLOCK_SIZE;
    const bool block_full = block_in_split && block_first_token + BLOCK_SIZE <= end_token_idx;
    // Out-of-split blocks copy nothing but still need a valid address: the cache's first block.
    const std::int64_t kv_offset =
        block_in_split ? physical_block_number * args.kv_block_stride + std::int64_t(kv_head_idx) * args.kv_head_stride : 0;
    unsigned char* key_dst = key_stage(tile_idx % NUM_STAGES);
    unsigned char* value_dst = value_stage(tile_idx % NUM_STAGES);
    PAL_UNROLL
    for (int i = 0; i < C::COPIES_PER_THREAD; ++i) {
      const int unit = copy_first_unit + i * C::THREADS_PER_KV_BLOCK;  // K's units, then V's
      const bool is_value = unit >= KV_BLOCK_UNITS;
      const int region_unit = is_value ? unit - KV_BLOCK_UNITS : unit;
      int src_bytes = kUnitBytes;
      if (!block_full) {
        // A K unit is one token's x dims ([head_size/x][block_size][x]); a V unit is X tokens of
        // one dim's row ([head_size][block_size]), or, when X > BLOCK_SIZE (fp8 at block size 8),
        // the whole rows of X / BLOCK_SIZE dims. Those rows cannot each be cut short by one copy:
        // such a unit is copied whole, and the slots past the split's end (NaN in the tests) are
        // replaced by zeros where V is read.
        constexpr int VALUE_UNITS_PER_ROW = max_of(1, BLOCK_SIZE / X);
        const int unit_first_token = block_first_token + (is_value ? (region_unit % VALUE_UNITS_PER_ROW) * X
                                                                   : region_unit % BLOCK_SIZE);
        const int valid_tokens = max_of(0, min_of(is_value ? C::VALUE_ROW_RUN : 1, end_token_idx - unit_first_token));
        if (!is_value) src_bytes = valid_tokens > 0 ? kUnitBytes : 0;
        else if (X > BLOCK_SIZE) src_bytes = block_in_split ? kUnitBytes : 0;
        else src_bytes = valid_tokens * int(sizeof(cache_t));
      }
      const std::int64_t source_element = kv_offset + std::int64_t(region_unit) * X;
      const cache_t* source = (is_value ? args.v_cache : args.k_cache) + source_element;
      unsigned char* region = is_value ? value_dst : key_dst;
      unsigned char* destination = region + swizzled_unit(copy_block_in_tile * KV_BLOCK_UNITS + region_unit) * kUnitBytes;
      simt::cp_async_16(destination, source, src_bytes);
      if (src_bytes > 0)
        probe.global_load(PAL_ACCESS_SITE("kv_tile_load", is_value ? "v_cache cp.async" : "k_cache cp.async"),
                          is_value ? args.v_cache : args.k_cache, source, src_bytes);
      probe.shared_store(PAL_ACCESS_SITE("kv_tile_load", "tile cp.async store"), destination, kUnitBytes);
      probe.kv_copy(tile_idx, unit + copy_block_in_tile * 2 * KV_BLOCK_UNITS, logical_block_idx, source_element, src_bytes);
    }
  };
  // Fill the pipeline: tiles 0 .. NUM_STAGES-2 are in flight before the first one is used.
  PAL_UNROLL
  for (int stage = 0; stage < NUM_STAGES - 1; ++stage) {
    issue_tile_copies(stage);
    simt::cp_async_commit();
  }
  //! [kv_tile_load]

  //! [query_load]
  // The block's query rows go to shared memory once (zeros for padding rows and dims), while the
  // first tiles are in flight. Tensor cores: rows of QUERY_ROW_ELEMENTS scalar_t, read back as A
  // fragments by ldmatrix; CUDA cores: rows of head_size floats, read by every lane.
  const scalar_t* q_block = args.q + std::int64_t(seq_idx) * args.q_stride + std::int64_t(first_head_idx) * HEAD_SIZE;
  const int num_query_rows = args.row_tiles * ROWS;
  if constexpr (TENSOR_CORES) {
    constexpr int QUERY_UNIT = kUnitBytes / int(sizeof(scalar_t));  // query elements per 16 bytes
    constexpr int UNITS_PER_ROW = C::QUERY_ROW_ELEMENTS / QUERY_UNIT;
    scalar_t* query_rows = reinterpret_cast<scalar_t*>(query_shared);
    for (int i = thread_idx; i < num_query_rows * UNITS_PER_ROW; i += kGroupedNumThreads) {
      const int row = i / UNITS_PER_ROW;
      const int unit = i % UNITS_PER_ROW;
      Vec<scalar_t, QUERY_UNIT> value;
      PAL_UNROLL
      for (int e = 0; e < QUERY_UNIT; ++e) value.elem[e] = from_float<scalar_t>(0.0f);
      if (row < num_block_heads && unit < HEAD_SIZE / QUERY_UNIT)
        value = load_vec<Vec<scalar_t, QUERY_UNIT>>(q_block + std::int64_t(row) * HEAD_SIZE + unit * QUERY_UNIT);
      *reinterpret_cast<Vec<scalar_t, QUERY_UNIT>*>(query_rows + row * C::QUERY_ROW_ELEMENTS + unit * QUERY_UNIT) = value;
    }
  } else {
    float* query_rows = reinterpret_cast<float*>(query_shared);
    for (int i = thread_idx; i < num_query_rows * HEAD_SIZE; i += kGroupedNumThreads) {
      const int row = i / HEAD_SIZE;
      const float value = row < num_block_heads ? to_float(q_block[std::int64_t(row) * HEAD_SIZE + i % HEAD_SIZE]) : 0.0f;
      query_rows[i] = value;
      probe.query_element(row, i % HEAD_SIZE, value);
    }
  }
  simt::sync_threads();  // the query rows are in shared memory before any warp reads them

  // Tensor cores: the A fragment of k-step `k_step` (dims 16 k_step + [0, 16) of the warp's 16 rows)
  // is four 8x8 matrices, loaded by one ldmatrix.x4: lanes 8m .. 8m+7 give the rows of matrix m,
  // which covers rows a_row(0, m) + [0, 8) and dims a_col(0, m) + [0, 8) of the fragment.
  auto load_query_fragment = [&](int k_step, std::uint32_t (&a)[fragment::kARegisters]) {
    const int matrix = lane / fragment::kLdmatrixRows;
    const int row = warp_first_row + lane % fragment::kLdmatrixRows + fragment::a_row(0, matrix);
    const int dim = k_step * fragment::kMmaK + fragment::a_col(0, matrix);
    simt::ldmatrix<4, false>(a, query_shared + (row * C::QUERY_ROW_ELEMENTS + dim) * int(sizeof(scalar_t)));
    probe.shared_load(PAL_ACCESS_SITE("query_load", "query ldmatrix.x4"),
                      query_shared + (row * C::QUERY_ROW_ELEMENTS + dim) * int(sizeof(scalar_t)), 16);
  };
  [[maybe_unused]] std::uint32_t query_fragments[C::QUERY_IN_REGISTERS ? C::NUM_K_STEPS : 1][fragment::kARegisters];
  if constexpr (TENSOR_CORES && C::QUERY_IN_REGISTERS) {
    PAL_UNROLL
    for (int k_step = 0; k_step < C::NUM_K_STEPS; ++k_step) {
      load_query_fragment(k_step, query_fragments[k_step]);
      PAL_UNROLL
      for (int reg = 0; reg < fragment::kARegisters; ++reg)
        probe.query_fragment(warp_idx, lane, k_step, reg, query_fragments[k_step][reg]);
    }
  }
  //! [query_load]

  // ALiBi slopes of the rows this lane computes (0 for padding rows and without ALiBi).
  auto alibi_slope_of_row = [&](int row) {  // row of the warp
    const int row_in_block = warp_first_row + row;
    return args.alibi_slopes != nullptr && row < rows_in_warp ? args.alibi_slopes[first_head_idx + row_in_block] : 0.0f;
  };
  // The logit as upstream computes it: scale * q.k, plus ALiBi's linear bias on the distance to the
  // newest token (0 for the last token); -inf past the split's end, so it gets probability 0.
  auto finish_logit = [&](float dot, float alibi_slope, int token_idx) {
    float logit = args.scale * dot;
    if (alibi_slope != 0.0f) logit += alibi_slope * float(token_idx - seq_len + 1);
    return token_idx < end_token_idx ? logit : -INFINITY;
  };

  using WarpState = std::conditional_t<TENSOR_CORES, TensorCoreWarpState<C::NUM_DIM_TILES>,
                                       CudaCoreWarpState<ROWS, C::DIMS_PER_LANE>>;
  WarpState state;
  float alibi_slopes[TENSOR_CORES ? 2 : ROWS];
  if constexpr (TENSOR_CORES) {
    PAL_UNROLL
    for (int nd = 0; nd < C::NUM_DIM_TILES; ++nd)
      PAL_UNROLL
      for (int e = 0; e < fragment::kCElements; ++e) state.acc[nd][e] = 0.0f;
    PAL_UNROLL
    for (int half = 0; half < 2; ++half) {
      state.max_logit[half] = -INFINITY;
      state.exp_sum[half] = 0.0f;
      alibi_slopes[half] = alibi_slope_of_row(fragment::c_row(lane, 2 * half));
    }
  } else {
    PAL_UNROLL
    for (int r = 0; r < ROWS; ++r) {
      PAL_UNROLL
      for (int j = 0; j < C::DIMS_PER_LANE; ++j) state.acc[r][j] = 0.0f;
      state.max_logit[r] = -INFINITY;
      state.exp_sum[r] = 0.0f;
      alibi_slopes[r] = alibi_slope_of_row(r);
    }
  }

  for (int tile_idx = 0; tile_idx < num_tiles; ++tile_idx) {
    //! [kv_tile_wait]
    // This thread's copies of tile `tile_idx` have landed once at most NUM_STAGES-2 newer groups are
    // pending; the barrier then makes every thread's copies visible, and also says that every warp
    // is done with tile_idx - 1, whose stage the next copies overwrite.
    simt::cp_async_wait<NUM_STAGES - 2>();
    simt::sync_threads();
    issue_tile_copies(tile_idx + NUM_STAGES - 1);
    simt::cp_async_commit();
    const unsigned char* key_tile = key_stage(tile_idx % NUM_STAGES);
    const unsigned char* value_tile = value_stage(tile_idx % NUM_STAGES);
    //! [kv_tile_wait]

    // Step s of the split goes to token slice s % num_token_slices; the first step of this tile
    // that is this warp's:
    const int first_step_of_tile = tile_idx * C::STEPS_PER_TILE;
    for (int step_in_tile = (token_slice - (first_step_of_tile & token_slice_mask) + num_token_slices) & token_slice_mask;
         step_in_tile < C::STEPS_PER_TILE; step_in_tile += num_token_slices) {
      const int step_idx = first_step_of_tile + step_in_tile;
      const int step_first_token = start_token_idx + step_idx * kGroupedWarpTokens;
      // Warp-uniform: a step past the split's end, or a warp without query heads, does nothing.
      if (step_first_token >= end_token_idx || rows_in_warp == 0) break;
      // The 16-byte unit holding token `token_in_step` of this step for `key_unit` (K: an x-chunk
      // of its key) or for dim `dim` (V: X consecutive tokens of the dim's row).
      auto key_unit_of = [&](int token_in_step, int key_unit) {
        const int token_in_tile = step_in_tile * kGroupedWarpTokens + token_in_step;
        return (token_in_tile / BLOCK_SIZE) * KV_BLOCK_UNITS + key_unit * BLOCK_SIZE + token_in_tile % BLOCK_SIZE;
      };
      [[maybe_unused]] auto value_unit_of = [&](int token_in_step, int dim) {  // when BLOCK_SIZE % X == 0
        const int token_in_tile = step_in_tile * kGroupedWarpTokens + token_in_step;
        return (token_in_tile / BLOCK_SIZE) * KV_BLOCK_UNITS + dim * (BLOCK_SIZE / X) + (token_in_tile % BLOCK_SIZE) / X;
      };
      // The shared-memory address of V element (token, dim) at any unit size: its element offset in
      // the tile's V region, then its unit (swizzled) and its place in the unit.
      [[maybe_unused]] auto value_address = [&](int token_in_step, int dim) {
        const int token_in_tile = step_in_tile * kGroupedWarpTokens + token_in_step;
        const int element = (token_in_tile / BLOCK_SIZE) * C::KV_BLOCK_ELEMENTS + dim * BLOCK_SIZE + token_in_tile % BLOCK_SIZE;
        return tile_unit(value_tile, element / X) + (element % X) * int(sizeof(cache_t));
      };
      // V element as the math uses it, and zero past the split's end where a V unit holds whole rows
      // (copied whole: its slots past the end hold whatever the cache has, NaN included, and
      // 0 * NaN = NaN in P.V); elsewhere the copy's zero fill already put zeros there.
      [[maybe_unused]] auto value_at = [&](cache_t stored, int token_in_step) {
        if constexpr (X > BLOCK_SIZE) {
          if (step_first_token + token_in_step >= end_token_idx) return from_float<scalar_t>(0.0f);
        }
        return value_element(stored);
      };

      // What the three stages of a step hand each other. Tensor cores: the step's 16 x 16 logits
      // (then probabilities) as two C fragments. CUDA cores: lane l's token l % 16 for every row of
      // the warp, lanes 0-15 and 16-31 each holding half of every dot product until they add up.
      [[maybe_unused]] float scores[2][fragment::kCElements];
      [[maybe_unused]] float logits[ROWS];
      [[maybe_unused]] const int lane_token = lane % kGroupedWarpTokens;  // CUDA cores: this lane's token of the step
      [[maybe_unused]] const int lane_half = lane / kGroupedWarpTokens;
      [[maybe_unused]] float* warp_probs = probs_shared + warp_idx * ROWS * kGroupedWarpTokens;  // [ROWS, kGroupedWarpTokens]

      //! [qk_logits]
      if constexpr (TENSOR_CORES) {
        // S = Q K^T for the step's 16 tokens as two 16x8 C fragments (n-tile nt: tokens 8 nt + [0, 8)).
        // B = K^T: an 8x8 ldmatrix matrix whose rows are 8 tokens and whose 16 bytes are 8
        // consecutive dims is exactly 8 rows of one x-chunk of upstream's K layout, so B needs no
        // transpose: lanes get B[k = dims][n = token] as the mma's "col" operand wants it.
        PAL_UNROLL
        for (int n_tile = 0; n_tile < 2; ++n_tile)
          PAL_UNROLL
          for (int e = 0; e < fragment::kCElements; ++e) scores[n_tile][e] = 0.0f;
        PAL_UNROLL
        for (int k_step = 0; k_step < C::NUM_K_STEPS; ++k_step) {
          std::uint32_t a[fragment::kARegisters];
          if constexpr (C::QUERY_IN_REGISTERS) {
            PAL_UNROLL
            for (int reg = 0; reg < fragment::kARegisters; ++reg) a[reg] = query_fragments[k_step][reg];
          } else {
            load_query_fragment(k_step, a);
          }
          [[maybe_unused]] const int matrix = lane / fragment::kLdmatrixRows;
          [[maybe_unused]] const int row_in_matrix = lane % fragment::kLdmatrixRows;
          if constexpr (C::FP8) {
            // fp8: a k-step's 16 dims of a token are one unit of codes. ldmatrix would hand each lane
            // 4 consecutive codes, not the pairs 2 quad_lane + {0, 1} and 8 + 2 quad_lane + {0, 1}
            // that its B registers hold, so each lane reads its two code pairs itself (two 2-byte
            // shared loads per n-tile; the 8 tokens of an n-tile are 8 consecutive units, no bank
            // conflict) and dequantises them into the pair of scalar_t the mma takes.
            PAL_UNROLL
            for (int n_tile = 0; n_tile < 2; ++n_tile) {
              const unsigned char* unit = tile_unit(key_tile, key_unit_of(8 * n_tile + fragment::b_col(lane), k_step));
              std::uint32_t b[fragment::kBRegisters];
              PAL_UNROLL
              for (int reg = 0; reg < fragment::kBRegisters; ++reg) {
                const Vec<std::uint8_t, 2> codes = load_vec<Vec<std::uint8_t, 2>>(unit + fragment::b_row(lane, reg));
                probe.shared_load(PAL_ACCESS_SITE("qk_logits", "key code pair read"), unit + fragment::b_row(lane, reg), 2);
                // Both codes in one conversion: the bits of key_element() of each (core/fp8.h).
                b[reg] = dequantize_fp8_pair<scalar_t>(code_pair(codes), fp8_format_of(KV_DTYPE), args.k_scale);
              }
              simt::mma_m16n8k16<scalar_t>(scores[n_tile], a, b, scores[n_tile]);
            }
          } else if (!(C::HAS_HALF_K_STEP && k_step == C::NUM_K_STEPS - 1)) {
            // Matrices: (n-tile 0, dims +0..7), (n-tile 0, dims +8..15), (n-tile 1, +0..7), (n-tile 1, +8..15).
            const int n_tile = matrix >> 1;
            const int key_unit = 2 * k_step + (matrix & 1);
            std::uint32_t k_regs[4];
            simt::ldmatrix<4, false>(k_regs, tile_unit(key_tile, key_unit_of(8 * n_tile + row_in_matrix, key_unit)));
            probe.shared_load(PAL_ACCESS_SITE("qk_logits", "key ldmatrix.x4"),
                              tile_unit(key_tile, key_unit_of(8 * n_tile + row_in_matrix, key_unit)), 16);
            const std::uint32_t b0[2] = {k_regs[0], k_regs[1]};
            const std::uint32_t b1[2] = {k_regs[2], k_regs[3]};
            simt::mma_m16n8k16<scalar_t>(scores[0], a, b0, scores[0]);
            simt::mma_m16n8k16<scalar_t>(scores[1], a, b1, scores[1]);
          } else {
            // The last k-step of a head that is not a multiple of 16 (120) has only dims +0..7: the
            // query's padding columns are zero, and so is the B register they would meet.
            const int n_tile = matrix & 1;
            std::uint32_t k_regs[2];
            simt::ldmatrix<2, false>(k_regs, tile_unit(key_tile, key_unit_of(8 * n_tile + row_in_matrix, 2 * k_step)));
            if (lane < 2 * fragment::kLdmatrixRows)  // x2 reads the row addresses of lanes 0-15 only
              probe.shared_load(PAL_ACCESS_SITE("qk_logits", "key ldmatrix.x2"),
                                tile_unit(key_tile, key_unit_of(8 * n_tile + row_in_matrix, 2 * k_step)), 16);
            const std::uint32_t b0[2] = {k_regs[0], 0u};
            const std::uint32_t b1[2] = {k_regs[1], 0u};
            simt::mma_m16n8k16<scalar_t>(scores[0], a, b0, scores[0]);
            simt::mma_m16n8k16<scalar_t>(scores[1], a, b1, scores[1]);
          }
        }
        PAL_UNROLL
        for (int n_tile = 0; n_tile < 2; ++n_tile)
          PAL_UNROLL
          for (int e = 0; e < fragment::kCElements; ++e) {
            const int token_in_step = 8 * n_tile + fragment::c_col(lane, e);
            scores[n_tile][e] = finish_logit(scores[n_tile][e], alibi_slopes[e >> 1], step_first_token + token_in_step);
            if (fragment::c_row(lane, e) < rows_in_warp)
              probe.logit(warp_idx, step_idx, fragment::c_row(lane, e), token_in_step, scores[n_tile][e]);
          }
      } else {
        // CUDA cores: lane l computes token l % 16 of the step over half of the key's units
        // (l < 16: even units, l >= 16: odd units), for every query head of the warp, then the two
        // halves add up with one shuffle. Lanes 0-7 read one unit of 8 consecutive tokens: 128
        // contiguous bytes of the tile, conflict-free.
        const float* query_rows = reinterpret_cast<const float*>(query_shared);
        PAL_UNROLL
        for (int r = 0; r < ROWS; ++r) logits[r] = 0.0f;
        PAL_UNROLL
        for (int i = 0; i < divide_round_up(C::NUM_KEY_UNITS, 2); ++i) {
          const int key_unit = 2 * i + lane_half;
          if (key_unit < C::NUM_KEY_UNITS) {
            const UnitVec k = load_vec<UnitVec>(tile_unit(key_tile, key_unit_of(lane_token, key_unit)));
            probe.shared_load(PAL_ACCESS_SITE("qk_logits", "key unit read"),
                              tile_unit(key_tile, key_unit_of(lane_token, key_unit)), int(sizeof(UnitVec)));
            float key[X];  // converted once (fp8: dequantised), used by every row
            PAL_UNROLL
            for (int e = 0; e < X; ++e) key[e] = to_float(key_element(k.elem[e]));
            PAL_UNROLL
            for (int r = 0; r < ROWS; ++r) {
              if (r >= rows_in_warp) break;
              const float* q_row = query_rows + (warp_first_row + r) * HEAD_SIZE + key_unit * X;
              PAL_UNROLL
              for (int e = 0; e < X; e += 4) {
                const Vec<float, 4> q = load_vec<Vec<float, 4>>(q_row + e);  // a broadcast read
                probe.shared_load(PAL_ACCESS_SITE("qk_logits", "query row read"), q_row + e, int(sizeof(q)));
                PAL_UNROLL
                for (int f = 0; f < 4; ++f) logits[r] += q.elem[f] * key[e + f];
              }
            }
          }
        }
        PAL_UNROLL
        for (int r = 0; r < ROWS; ++r) {
          if (r >= rows_in_warp) break;
          logits[r] += simt::shfl_xor(logits[r], kGroupedWarpTokens);
          logits[r] = finish_logit(logits[r], alibi_slopes[r], step_first_token + lane_token);
          if (lane_half == 0) probe.logit(warp_idx, step_idx, r, lane_token, logits[r]);
        }
      }
      //! [qk_logits]

      //! [online_softmax]
      if constexpr (TENSOR_CORES) {
        // Per row: the step's maximum over the quad's 4 lanes x 4 tokens, the new running maximum,
        // and the rescale of everything accumulated so far. The step has at least one token before
        // the split's end, so the new maximum is finite; exp(-inf - m) = 0 rescales the empty start.
        PAL_UNROLL
        for (int half = 0; half < 2; ++half) {  // row quad (C elements 0, 1), row quad + 8 (2, 3)
          float step_max = fmaxf(fmaxf(scores[0][2 * half], scores[0][2 * half + 1]),
                                 fmaxf(scores[1][2 * half], scores[1][2 * half + 1]));
          step_max = fmaxf(step_max, simt::shfl_xor(step_max, 1));
          step_max = fmaxf(step_max, simt::shfl_xor(step_max, 2));
          const float running_max = fmaxf(state.max_logit[half], step_max);
          const float rescale = simt::fast_exp(state.max_logit[half] - running_max);
          state.max_logit[half] = running_max;
          state.exp_sum[half] *= rescale;
          PAL_UNROLL
          for (int nd = 0; nd < C::NUM_DIM_TILES; ++nd) {
            state.acc[nd][2 * half] *= rescale;
            state.acc[nd][2 * half + 1] *= rescale;
          }
          PAL_UNROLL
          for (int n_tile = 0; n_tile < 2; ++n_tile)
            PAL_UNROLL
            for (int j = 0; j < 2; ++j) {
              const float p = simt::fast_exp(scores[n_tile][2 * half + j] - running_max);
              scores[n_tile][2 * half + j] = p;
              state.exp_sum[half] += p;  // the fp32 probability, as upstream's exp_sum
            }
          const int row = fragment::c_row(lane, 2 * half);
          if (fragment::quad_lane(lane) == 0 && row < rows_in_warp)
            probe.softmax_step(warp_idx, step_idx, row, step_max, running_max, rescale);
        }
      } else {
        // Per row: the step's maximum over the 16 tokens (both lane halves hold them all), the new
        // running maximum and the rescale; lanes 0-15 add their token's probability to the sum, and
        // put it, rounded to scalar_t, where every lane can read it for P.V.
        PAL_UNROLL
        for (int r = 0; r < ROWS; ++r) {
          if (r >= rows_in_warp) break;
          float step_max = logits[r];
          PAL_UNROLL
          for (int mask = kGroupedWarpTokens / 2; mask >= 1; mask /= 2)
            step_max = fmaxf(step_max, simt::shfl_xor(step_max, mask));
          const float running_max = fmaxf(state.max_logit[r], step_max);
          const float rescale = simt::fast_exp(state.max_logit[r] - running_max);
          state.max_logit[r] = running_max;
          const float p = simt::fast_exp(logits[r] - running_max);
          state.exp_sum[r] = state.exp_sum[r] * rescale + (lane_half == 0 ? p : 0.0f);
          PAL_UNROLL
          for (int j = 0; j < C::DIMS_PER_LANE; ++j) state.acc[r][j] *= rescale;
          if (lane_half == 0) {
            warp_probs[r * kGroupedWarpTokens + lane_token] = round_to<scalar_t>(p);
            probe.shared_store(PAL_ACCESS_SITE("online_softmax", "warp_probs store"),
                               &warp_probs[r * kGroupedWarpTokens + lane_token], int(sizeof(float)));
            probe.probability(warp_idx, step_idx, r, lane_token, round_to<scalar_t>(p));
          }
          if (lane == 0) probe.softmax_step(warp_idx, step_idx, r, step_max, running_max, rescale);
        }
        simt::sync_warp();  // the step's probabilities are in shared memory for every lane
      }
      //! [online_softmax]

      //! [value_accumulation]
      if constexpr (TENSOR_CORES) {
        // P as the A fragment of P.V: QK's C fragment of n-tile nt holds rows (quad, quad + 8) x
        // tokens 8 nt + 2 quad_lane + {0, 1}, which are A registers 2 nt (row quad) and 2 nt + 1
        // (row quad + 8) of a 16x16 A whose k is the step's tokens (FlashAttention-2's register
        // reuse; tests/kernels checks the two layouts agree). Each probability is rounded to scalar_t
        // here, as upstream rounds before its P.V product.
        std::uint32_t p_fragment[fragment::kARegisters];
        PAL_UNROLL
        for (int reg = 0; reg < fragment::kARegisters; ++reg) {
          const int n_tile = reg >> 1;
          const int element = 2 * (reg & 1);
          p_fragment[reg] = pack_pair<scalar_t>(scores[n_tile][element], scores[n_tile][element + 1]);
          PAL_UNROLL
          for (int j = 0; j < 2; ++j)
            if (fragment::a_row(lane, reg) < rows_in_warp)
              probe.probability(warp_idx, step_idx, fragment::a_row(lane, reg), fragment::a_col(lane, reg) + j,
                                pair_element<scalar_t>(p_fragment[reg], j));
        }
        // B = V: an 8x8 matrix whose rows are 8 head dims and whose 16 bytes are 8 consecutive
        // tokens is 8 rows of upstream's V layout ([head_size][block_size] per kv_block), again
        // with no transpose. One ldmatrix.x4 feeds two n-tiles: (dims nd, tokens 0-7), (nd, 8-15),
        // (nd + 1, 0-7), (nd + 1, 8-15).
        [[maybe_unused]] const int matrix = lane / fragment::kLdmatrixRows;
        [[maybe_unused]] const int row_in_matrix = lane % fragment::kLdmatrixRows;
        if constexpr (C::FP8) {
          // fp8: a V unit is 16 tokens of one dim (8 tokens of two dims at block size 8), and each
          // lane reads the two token pairs its B registers hold (tokens b_row(lane, reg) + {0, 1}
          // of dim b_col(lane) of the n-tile), dequantising them into the mma's scalar_t pairs.
          PAL_UNROLL
          for (int nd = 0; nd < C::NUM_DIM_TILES; ++nd) {
            const int dim = nd * 8 + fragment::b_col(lane);
            std::uint32_t b[fragment::kBRegisters];
            PAL_UNROLL
            for (int reg = 0; reg < fragment::kBRegisters; ++reg) {
              const int token_in_step = fragment::b_row(lane, reg);
              const Vec<std::uint8_t, 2> codes = load_vec<Vec<std::uint8_t, 2>>(value_address(token_in_step, dim));
              probe.shared_load(PAL_ACCESS_SITE("value_accumulation", "value code pair read"),
                                value_address(token_in_step, dim), 2);
              if constexpr (X > BLOCK_SIZE)  // whole rows copied: value_at zeroes the slots past the end
                b[reg] = pack_elements<scalar_t>(value_at(codes.elem[0], token_in_step),
                                                 value_at(codes.elem[1], token_in_step + 1));
              else
                b[reg] = dequantize_fp8_pair<scalar_t>(code_pair(codes), fp8_format_of(KV_DTYPE), args.v_scale);
            }
            simt::mma_m16n8k16<scalar_t>(state.acc[nd], p_fragment, b, state.acc[nd]);
          }
        } else {
          PAL_UNROLL
          for (int nd = 0; nd < C::NUM_DIM_TILES; nd += 2) {
            if (nd + 1 < C::NUM_DIM_TILES) {
              const int dim = (nd + (matrix >> 1)) * 8 + row_in_matrix;
              std::uint32_t v_regs[4];
              simt::ldmatrix<4, false>(v_regs, tile_unit(value_tile, value_unit_of(8 * (matrix & 1), dim)));
              probe.shared_load(PAL_ACCESS_SITE("value_accumulation", "value ldmatrix.x4"),
                                tile_unit(value_tile, value_unit_of(8 * (matrix & 1), dim)), 16);
              const std::uint32_t b0[2] = {v_regs[0], v_regs[1]};
              const std::uint32_t b1[2] = {v_regs[2], v_regs[3]};
              simt::mma_m16n8k16<scalar_t>(state.acc[nd], p_fragment, b0, state.acc[nd]);
              simt::mma_m16n8k16<scalar_t>(state.acc[nd + 1], p_fragment, b1, state.acc[nd + 1]);
            } else {  // an odd number of n-tiles (head 120): the last one alone
              const int dim = nd * 8 + row_in_matrix;
              std::uint32_t v_regs[2];
              simt::ldmatrix<2, false>(v_regs, tile_unit(value_tile, value_unit_of(8 * (matrix & 1), dim)));
              if (lane < 2 * fragment::kLdmatrixRows)  // x2 reads the row addresses of lanes 0-15 only
                probe.shared_load(PAL_ACCESS_SITE("value_accumulation", "value ldmatrix.x2"),
                                  tile_unit(value_tile, value_unit_of(8 * (matrix & 1), dim)), 16);
              simt::mma_m16n8k16<scalar_t>(state.acc[nd], p_fragment, v_regs, state.acc[nd]);
            }
          }
        }
      } else {
        // Lane l accumulates head dims l, l + 32, ...: it reads VALUE_ROW_RUN tokens of its dim's V
        // row at a time, a unit (or, fp8 at block size 8, the half of one that is its row; the
        // swizzle puts the 8 rows a quarter-warp reads in 8 different bank groups).
        constexpr int RUN = C::VALUE_ROW_RUN;
        using RunVec = Vec<cache_t, RUN>;
        PAL_UNROLL
        for (int j = 0; j < C::DIMS_PER_LANE; ++j) {
          const int dim = lane + j * kWarpSize;
          if (dim >= HEAD_SIZE) break;
          PAL_UNROLL
          for (int first = 0; first < kGroupedWarpTokens; first += RUN) {
            const RunVec v = load_vec<RunVec>(value_address(first, dim));
            probe.shared_load(PAL_ACCESS_SITE("value_accumulation", "value unit read"), value_address(first, dim),
                              int(sizeof(RunVec)));
            float value[RUN];  // converted once (fp8: dequantised), used by every row
            PAL_UNROLL
            for (int e = 0; e < RUN; ++e) value[e] = to_float(value_at(v.elem[e], first + e));
            PAL_UNROLL
            for (int r = 0; r < ROWS; ++r) {
              if (r >= rows_in_warp) break;
              PAL_UNROLL
              for (int e = 0; e < RUN; e += 4) {
                const Vec<float, 4> p = load_vec<Vec<float, 4>>(warp_probs + r * kGroupedWarpTokens + first + e);
                probe.shared_load(PAL_ACCESS_SITE("value_accumulation", "warp_probs read"),
                                  warp_probs + r * kGroupedWarpTokens + first + e, int(sizeof(p)));
                PAL_UNROLL
                for (int f = 0; f < 4; ++f) state.acc[r][j] += p.elem[f] * value[e + f];
              }
            }
          }
        }
        simt::sync_warp();  // every lane has read the probabilities before the next step writes them
      }
      //! [value_accumulation]
    }
  }

  //! [block_merge]
  // The warp's running sum is spread over its lanes: add it up (tensor cores: over the quad that
  // shares a row; CUDA cores: over all lanes, lanes 16-31 holding 0).
  if constexpr (TENSOR_CORES) {
    PAL_UNROLL
    for (int half = 0; half < 2; ++half) {
      state.exp_sum[half] += simt::shfl_xor(state.exp_sum[half], 1);
      state.exp_sum[half] += simt::shfl_xor(state.exp_sum[half], 2);
    }
  } else {
    PAL_UNROLL
    for (int r = 0; r < ROWS; ++r)
      PAL_UNROLL
      for (int mask = kWarpSize / 2; mask >= 1; mask /= 2) state.exp_sum[r] += simt::shfl_xor(state.exp_sum[r], mask);
  }
  // No copy is in flight (the groups after the last tile were empty), and after this barrier no
  // warp reads a tile: the pipeline's shared memory becomes the merge area. The dependent
  // split_merge grid may start launching now (it waits for this grid to finish before reading).
  simt::cp_async_wait<0>();
  simt::launch_dependents();
  simt::sync_threads();
  float* merge_max = reinterpret_cast<float*>(shared);           // [NUM_WARPS, ROWS]
  float* merge_sum = merge_max + kGroupedNumWarps * ROWS;        // [NUM_WARPS, ROWS]
  float* merge_acc = merge_sum + kGroupedNumWarps * ROWS;        // [NUM_WARPS, ROWS, HEAD_SIZE]
  if constexpr (TENSOR_CORES) {
    PAL_UNROLL
    for (int nd = 0; nd < C::NUM_DIM_TILES; ++nd)
      PAL_UNROLL
      for (int e = 0; e < fragment::kCElements; ++e) {
        const int row = fragment::c_row(lane, e);
        const int dim = nd * 8 + fragment::c_col(lane, e);
        merge_acc[(warp_idx * ROWS + row) * HEAD_SIZE + dim] = state.acc[nd][e];
        if (row < rows_in_warp) probe.accumulator(warp_idx, row, dim, state.acc[nd][e]);
      }
    if (fragment::quad_lane(lane) == 0) {
      PAL_UNROLL
      for (int half = 0; half < 2; ++half) {
        const int row = fragment::c_row(lane, 2 * half);
        merge_max[warp_idx * ROWS + row] = state.max_logit[half];
        merge_sum[warp_idx * ROWS + row] = state.exp_sum[half];
        if (row < rows_in_warp) probe.warp_state(warp_idx, row, state.max_logit[half], state.exp_sum[half]);
      }
    }
  } else {
    PAL_UNROLL
    for (int r = 0; r < ROWS; ++r) {
      PAL_UNROLL
      for (int j = 0; j < C::DIMS_PER_LANE; ++j) {
        const int dim = lane + j * kWarpSize;
        if (dim < HEAD_SIZE) {
          merge_acc[(warp_idx * ROWS + r) * HEAD_SIZE + dim] = state.acc[r][j];
          if (r < rows_in_warp) probe.accumulator(warp_idx, r, dim, state.acc[r][j]);
        }
      }
      if (lane == 0) {
        merge_max[warp_idx * ROWS + r] = state.max_logit[r];
        merge_sum[warp_idx * ROWS + r] = state.exp_sum[r];
        if (r < rows_in_warp) probe.warp_state(warp_idx, r, state.max_logit[r], state.exp_sum[r]);
      }
    }
  }
  simt::sync_threads();  // every warp's state and accumulators are in shared memory
  //! [block_merge]

  //! [output]
  // Each query head of the block merges the token slices of its row tile (core/softmax_merge.h)
  // once: its merged state and every slice's rescale factor, into the bytes where the query rows
  // were (read by no one after the main loop). Then each (query head, dim) weighs the slices'
  // accumulators by those factors and is written once: the output itself when the sequence has one
  // split, else the split's normalised partial output and state for split_merge. Consecutive
  // threads take consecutive dims. (Merging per (head, dim) instead repeated each head's merge for
  // every dim: half of a batch-1 block's instructions, run 30.)
  const int head_merge_stride = 2 + num_token_slices;  // max_logit, exp_sum, one factor per slice
  float* head_merge = reinterpret_cast<float*>(query_shared);  // [num_block_heads, head_merge_stride]
  for (int row_in_block = thread_idx; row_in_block < num_block_heads; row_in_block += kGroupedNumThreads) {
    const int tile_of_row = row_in_block / ROWS;
    const int row = row_in_block % ROWS;
    auto slice_state = [&](int slice) {
      const int w = tile_of_row + slice * args.row_tiles;
      return SoftmaxState{merge_max[w * ROWS + row], merge_sum[w * ROWS + row]};
    };
    const SoftmaxState merged = merge_softmax_states(num_token_slices, slice_state);
    float* mine = head_merge + row_in_block * head_merge_stride;
    mine[0] = merged.max_logit;
    mine[1] = merged.exp_sum;
    for (int slice = 0; slice < num_token_slices; ++slice) mine[2 + slice] = part_rescale(slice_state(slice), merged.max_logit);
  }
  simt::sync_threads();  // every head's merged state and factors are in shared memory
  const std::int64_t seq_head_base = std::int64_t(seq_idx) * args.num_heads + first_head_idx;
  for (int i = thread_idx; i < num_block_heads * HEAD_SIZE; i += kGroupedNumThreads) {
    const int row_in_block = i / HEAD_SIZE;
    const int dim = i % HEAD_SIZE;
    const int tile_of_row = row_in_block / ROWS;
    const int row = row_in_block % ROWS;
    const float* merged = head_merge + row_in_block * head_merge_stride;
    float acc = 0.0f;
    for (int slice = 0; slice < num_token_slices; ++slice) {
      const int w = tile_of_row + slice * args.row_tiles;
      acc += merge_acc[(w * ROWS + row) * HEAD_SIZE + dim] * merged[2 + slice];
    }
    const float value = acc / merged[1];
    const std::int64_t seq_head = seq_head_base + row_in_block;
    if (sequence_has_one_split) {
      const scalar_t stored = from_float<scalar_t>(value);
      args.out[seq_head * HEAD_SIZE + dim] = stored;
      probe.output(row_in_block, dim, to_float(stored));
    } else {
      args.partial_out[(seq_head * args.num_splits + split_idx) * HEAD_SIZE + dim] = value;
      probe.output(row_in_block, dim, value);
    }
    if (dim == 0) {
      if (args.max_logits != nullptr) {
        args.max_logits[seq_head * args.num_splits + split_idx] = merged[0];
        args.exp_sums[seq_head * args.num_splits + split_idx] = merged[1];
      }
      probe.block_state(row_in_block, merged[0], merged[1]);
    }
  }
  //! [output]
}

// The second kernel: grid (num_heads, num_seqs), kGroupedNumThreads threads, no shared memory.
// Merges the splits of each (sequence, query head) that has more than one; launched with
// programmatic dependent launch where the GPU supports it, so its launch overlaps the main kernel's
// tail and it waits here for the main kernel's results.
template <typename scalar_t, int HEAD_SIZE, typename Probe>
PAL_DEVICE void split_merge_body(const SplitMergeArgs<scalar_t>& args, Probe probe) {
  //! [split_merge]
  const int head_idx = simt::block_idx_x();
  const int seq_idx = simt::block_idx_y();
  const int num_heads = simt::grid_dim_x();
  const int thread_idx = simt::thread_idx();
  probe.merge_begin(seq_idx, head_idx, thread_idx);
  // The next kernel of the stream (the next attention call's main kernel) may start launching; it
  // waits for this grid to finish before it reads anything.
  simt::launch_dependents();
  simt::wait_for_prerequisite_grids();
  const int seq_len = args.seq_lens[seq_idx];
  const int num_active_splits = divide_round_up(divide_round_up(seq_len, args.block_size), args.kv_blocks_per_split);
  if (num_active_splits <= 1) return;  // the main kernel wrote this sequence's output itself
  const std::int64_t seq_head = std::int64_t(seq_idx) * num_heads + head_idx;
  const float* max_logits = args.max_logits + seq_head * args.num_splits;
  const float* exp_sums = args.exp_sums + seq_head * args.num_splits;
  auto split_state = [&](int split) { return SoftmaxState{max_logits[split], exp_sums[split]}; };
  // Every thread merges the (few) states itself: no shared memory, no barrier.
  const SoftmaxState merged = merge_softmax_states(num_active_splits, split_state);
  if (thread_idx == 0) probe.merge_state(merged.max_logit, merged.exp_sum);
  const float inv_merged_exp_sum = 1.0f / merged.exp_sum;
  const float* partial = args.partial_out + seq_head * args.num_splits * HEAD_SIZE;
  for (int dim = thread_idx; dim < HEAD_SIZE; dim += kGroupedNumThreads) {
    float value = 0.0f;
    // The splits' partial outputs and states are read kMergePrefetch at a time
    // (core/softmax_merge.h says why), then summed in split order.
    for (int first = 0; first < num_active_splits; first += kMergePrefetch) {
      float partials[kMergePrefetch];
      SoftmaxState states[kMergePrefetch];
      PAL_UNROLL
      for (int k = 0; k < kMergePrefetch; ++k) {
        const bool active = first + k < num_active_splits;
        partials[k] = active ? partial[(first + k) * HEAD_SIZE + dim] : 0.0f;
        states[k] = active ? split_state(first + k) : SoftmaxState::empty();
      }
      PAL_UNROLL
      for (int k = 0; k < kMergePrefetch; ++k)
        if (first + k < num_active_splits)
          value += split_weighted_output(partials[k], states[k], merged, inv_merged_exp_sum);
    }
    const scalar_t stored = from_float<scalar_t>(value);
    args.out[seq_head * HEAD_SIZE + dim] = stored;
    probe.merge_output(dim, to_float(stored));
  }
  //! [split_merge]
}

}  // namespace pal
