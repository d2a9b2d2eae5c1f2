#include "visualizer/model/session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>
#include <sstream>
#include <utility>

#include "tools/run_dump.h"

namespace pal::viz {

namespace {

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

std::vector<BlockOwner> read_block_table_backwards(const Scenario& scenario, const Inputs& inputs) {
  const int num_blocks = static_cast<int>(inputs.key_cache.shape.at(0));
  std::vector<BlockOwner> owners(static_cast<std::size_t>(num_blocks));
  const int columns = static_cast<int>(inputs.block_tables.shape.at(1));
  const auto table = inputs.block_tables.span<const std::int32_t>();
  const auto seq_lens = inputs.seq_lens.span<const std::int32_t>();
  for (int seq = 0; seq < scenario.num_seqs; ++seq) {
    const int seq_len = seq_lens[static_cast<std::size_t>(seq)];
    const int used = divide_round_up(seq_len, scenario.block_size);
    for (int logical = 0; logical < used && logical < columns; ++logical) {
      const int physical = table[static_cast<std::size_t>(seq) * columns + logical];
      if (physical < 0 || physical >= num_blocks) continue;  // validate_inputs has refused these already
      BlockOwner& owner = owners[static_cast<std::size_t>(physical)];
      if (owner.seq_idx >= 0) continue;  // shared blocks: the first owner is shown
      owner.seq_idx = seq;
      owner.logical_block_idx = logical;
      owner.num_valid_tokens = std::min(scenario.block_size, seq_len - logical * scenario.block_size);
    }
  }
  return owners;
}

// A dump that holds the kernel's output lets us check the re-run reproduces it bit for bit.
std::string compare_outputs(const Tensor& dumped, const Tensor& rerun_output) {
  if (dumped.type != rerun_output.type || dumped.shape != rerun_output.shape)
    return "the dump's 'output' is " + std::string(element_type_name(dumped.type)) + " " + dumped.shape_string() +
           " but the re-run gives " + std::string(element_type_name(rerun_output.type)) + " " +
           rerun_output.shape_string() + ": not compared";
  std::int64_t differing = 0;
  double largest = 0.0;
  for (std::int64_t i = 0; i < dumped.numel(); ++i) {
    const float a = dumped.get_float(i);
    const float b = rerun_output.get_float(i);
    if (std::memcmp(&a, &b, sizeof a) != 0 && !(std::isnan(a) && std::isnan(b))) {
      ++differing;
      largest = std::max(largest, double(std::fabs(a - b)));
    }
  }
  std::ostringstream text;
  if (differing == 0)
    text << "the re-run reproduces the dump's 'output' exactly (" << dumped.numel() << " elements)";
  else
    text << differing << " of " << dumped.numel() << " output elements differ from the dump's 'output' (largest |diff| "
         << largest << "): the dump was probably written by another backend or build";
  return text.str();
}

void fill_derived(Session& session) {
  const Scenario& scenario = session.scenario;
  auto start = std::chrono::steady_clock::now();
  session.reference = reference_attention(scenario, session.inputs, session.run.version);
  session.reference_ms = milliseconds_since(start);
  session.block_owners = read_block_table_backwards(scenario, session.inputs);
  session.strides.q_stride = std::int64_t(scenario.num_heads) * scenario.head_size;
  session.strides.kv_head_stride = std::int64_t(scenario.head_size) * scenario.block_size;
  session.strides.kv_block_stride = std::int64_t(scenario.num_kv_heads) * session.strides.kv_head_stride;
  session.strides.x = key_x(scenario);
}

}  // namespace

KernelGeometry Session::geometry() const {
  return KernelGeometry{dtype_size_bytes(scenario.dtype), scenario.head_size, scenario.block_size, scenario.num_threads};
}

int Session::seq_len(int seq_idx) const { return inputs.seq_lens.data<std::int32_t>()[seq_idx]; }

int Session::kv_head_of(int head_idx) const { return head_idx / (scenario.num_heads / scenario.num_kv_heads); }

int Session::num_partitions(int seq_idx) const {
  return is_v2() ? divide_round_up(seq_len(seq_idx), scenario.partition_size) : 1;
}

TokenRange Session::range(int seq_idx, int partition_idx) const {
  return token_range(seq_len(seq_idx), scenario.block_size, is_v2() ? scenario.partition_size : 0, partition_idx);
}

std::int64_t Session::tb_index(int seq_idx, int head_idx, int partition_idx) const {
  return dims().tb_index(seq_idx, head_idx, partition_idx);
}

int Session::physical_block(int seq_idx, int logical_block_idx) const {
  const std::int64_t columns = inputs.block_tables.shape.at(1);
  return inputs.block_tables.data<std::int32_t>()[seq_idx * columns + logical_block_idx];
}

Session make_session(const Scenario& scenario, Inputs inputs, Backend backend, std::string origin) {
  validate_scenario(scenario);
  validate_inputs(scenario, inputs);
  Session session;
  session.scenario = scenario;
  session.inputs = std::move(inputs);
  session.origin = std::move(origin);
  const auto start = std::chrono::steady_clock::now();
  session.run = run_kernel(session.scenario, session.inputs, RunOptions{backend, true, kDefaultMaxRecordingBytes});
  session.run_ms = milliseconds_since(start);
  fill_derived(session);
  return session;
}

Session make_session(const Scenario& scenario, Inputs inputs, KernelRun run, std::string origin) {
  validate_scenario(scenario);
  validate_inputs(scenario, inputs);
  if (!run.recording) throw ScenarioError(origin + ": the run holds no recording to show");
  Session session;
  session.scenario = scenario;
  session.inputs = std::move(inputs);
  session.origin = std::move(origin);
  session.run = std::move(run);
  fill_derived(session);
  return session;
}

Session make_session(const Scenario& scenario, Backend backend) {
  validate_scenario(scenario);
  return make_session(scenario, generate_inputs(scenario), backend,
                      "scenario (inputs generated from seed " + std::to_string(scenario.seed) + ")");
}

Session session_from_dump(const std::string& path, Backend backend) {
  LoadedDump dump = read_run_dump(path);
  if (dump.run && dump.run->recording) {
    const std::string recorded_on = dump.run->device_name.empty() ? std::string(backend_name(dump.run->backend))
                                                                  : dump.run->device_name;
    Session session = make_session(dump.scenario, std::move(dump.inputs), std::move(*dump.run),
                                   "dump file " + path + " (recorded on " + recorded_on + ")");
    session.dump_path = path;
    session.dump_check = "showing the recording stored in the dump, as recorded on " + recorded_on + "; nothing was re-run";
    return session;
  }
  std::optional<Tensor> stored_output;
  if (dump.run) stored_output = dump.run->output;
  Session session = make_session(dump.scenario, std::move(dump.inputs), backend,
                                 "dump file " + path + " (inputs re-run here with the recording probe)");
  session.dump_path = path;
  session.rerun_from_dump = true;
  session.dump_check = stored_output ? "the dump holds no recording, so its inputs were re-run here; " +
                                           compare_outputs(*stored_output, session.run.output)
                                     : "the dump holds inputs only (no output, no recording): its inputs were re-run here";
  return session;
}

}  // namespace pal::viz
