// A run's dump: one safetensors file holding a kernel run's inputs, outputs and, when recorded,
// every recorded array next to the reference's matching stages. numpy and PyTorch read it with the
// `safetensors` package; pal-viz --dump reopens it.
//
// Names:
//   query, key_cache, value_cache, block_tables, seq_lens, [alibi_slopes]   the inputs (upstream's names)
//   output                                    [num_seqs, num_heads, head_size]   the kernel's result
//   tmp_out, exp_sums, max_logits             v2's intermediate tensors (upstream's names)
//   reference.output                          the scalar reference's result
//   kernel.<dump name>                        every array of kernels/record_schema.h that the run's
//       variant records, in the schema's shape, under its dump name (a stage's headline array under
//       the stage's dump name from the registry, e.g. kernel.qk_max); a record struct becomes one
//       tensor per field (kernel.token_warp, ..., kernel.load_element_offset, ...)
//   reference.<stage dump name>               the reference's value of those stages, same shape, NaN
//       where a slot has no token; plus reference.exp_values and reference.thread_block_output
//   kernel.recording_buffer                   the raw debug buffer (U8), to rebuild the recording exactly
// Metadata: scale, scenario (JSON), version, backend, device, record_dims (JSON).
#pragma once

#include <map>
#include <cstdint>
#include <optional>
#include <string>

#include "core/inputs.h"
#include "kernels/launch.h"
#include "reference/paged_reference.h"

namespace pal {

void write_run_dump(const std::string& path, const Inputs& inputs, const KernelRun& run,
                    const ReferenceRun* reference);

// The tensors a dump of this run holds besides the inputs (output, v2's tensors, kernel.<name>,
// reference.<name>, as listed above), and its metadata besides the scenario and scale: what
// write_run_dump writes, for a front end that hands them over without a file (the Python module).
struct RunDumpContents {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};
RunDumpContents run_dump_contents(const KernelRun& run, const ReferenceRun* reference);
// The memory write_run_dump allocates for a recording with these dims (the dump's copy of every
// recorded array, one tensor per record field, the raw buffer, and with a reference its stages):
// what pal-run --output adds to a recorded run, counted before the run (run/recorded_run.h).
std::uint64_t run_dump_recording_bytes(const RecordDims& dims, bool with_reference);

struct LoadedDump {
  CheckedInputs inputs;          // the scenario and inputs, validated
  std::optional<KernelRun> run;  // present when the file holds an output (a dump, not just inputs)
};
// Reads a dump (or a plain inputs file: then `run` is empty). Everything read is checked: the
// inputs, the output's shape, the recording's size against its dims, the shape and type of every
// kernel.<name> tensor the schema declares, and every recorded index a reader follows (load
// addresses and counts, token slots). A recording larger than `max_recording_bytes` is refused
// before it is copied out of the file's tensor, as a run's would be before launch. The file is read
// once. Throws ScenarioError with what is wrong.
LoadedDump read_run_dump(const std::string& path, std::size_t max_recording_bytes = kDefaultMaxRecordingBytes);

// The recorded values that readers use as indices (load counts, load kinds, addresses and vecs),
// checked against the scenario and the tensors: what makes a recording from a file safe to walk.
// Throws ScenarioError naming the first bad record.
void check_recorded_indices(const Recording& recording, const Scenario& scenario, const Inputs& inputs);

}  // namespace pal
