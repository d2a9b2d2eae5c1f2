// A run's dump: one safetensors file holding a kernel run's inputs, outputs and, when recorded,
// every recorded stage next to the reference's matching stage, under stage names. numpy and
// PyTorch read it with the `safetensors` package; pal-viz --dump reopens it.
//
// Names (shapes as in kernels/recording.h; tb = thread block, sh = (seq, head)):
//   query, key_cache, value_cache, block_tables, seq_lens, [alibi_slopes]   the inputs (upstream's names)
//   output                                    [num_seqs, num_heads, head_size]   the kernel's result
//   tmp_out, exp_sums, max_logits             v2's intermediate tensors (upstream's names)
//   reference.output                          the scalar reference's result
//   kernel.<stage> / reference.<stage>        per-thread-block stages: query_load [tb, head_size],
//       qk_logits [tb, tokens], qk_max [tb], exp_values [tb, tokens], exp_sum [tb],
//       softmax [tb, tokens], output [tb, head_size]
//   kernel.<record>                           everything else the probe records: qk_max_warp,
//       red_smem_max, qk_max_cross_warp, exp_sum_warp, red_smem_sum, exp_sum_cross_warp, accs,
//       partition_max_logit, partition_exp_sum, reduce_max_logit, reduce_rescaled_exp_sums,
//       reduce_global_exp_sum, token_warp, token_thread_group, token_lane, token_iteration,
//       token_physical_block, token_block_offset, token_idx, token_masked, load_element_offset,
//       load_iteration, load_kind, load_vec_idx, load_count
//   kernel.recording_buffer                   the raw debug buffer (U8), to rebuild the recording exactly
// Metadata: scale, scenario (JSON), version, backend, device, record_dims (JSON).
#pragma once

#include <optional>
#include <string>

#include "core/inputs.h"
#include "kernels/launch.h"
#include "reference/paged_reference.h"

namespace pal {

void write_run_dump(const std::string& path, const Inputs& inputs, const KernelRun& run,
                    const ReferenceRun* reference);

struct LoadedDump {
  Scenario scenario;
  Inputs inputs;
  std::optional<KernelRun> run;  // present when the file holds an output (a dump, not just inputs)
};
// Reads a dump (or a plain inputs file: then `run` is empty). Throws ScenarioError with what is wrong.
LoadedDump read_run_dump(const std::string& path);

}  // namespace pal
