#include "run/recorded_run.h"

#include "core/cancellation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>
#include <sstream>
#include <utility>

#include "run/paged_lookups.h"
#include "run/run_dump.h"

namespace pal {

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

}  // namespace

RecordedRun::RecordedRun(CheckedInputs checked, Scenario requested, KernelRun kernel, std::string origin,
                         ProbabilityPrecision precision, double kernel_ms)
    : checked_(std::move(checked)),
      requested_(std::move(requested)),
      kernel_(std::move(kernel)),
      origin_(std::move(origin)),
      kernel_ms_(kernel_ms) {
  const auto start = std::chrono::steady_clock::now();
  if (kernel_.version == KernelVersion::grouped) {
    // The grouped reference rounds each probability as the kernel does (against the running max);
    // `precision` is a choice of the paged reference only.
    grouped_reference_ = pal::grouped_reference(scenario(), inputs(), kernel_.grouped_plan);
    const DenseOutput oracle = dense_attention_oracle(inputs());
    reference_ms_ = milliseconds_since(start);
    report_ = compare_grouped_with_reference(kernel_, *grouped_reference_, oracle, inputs());
  } else {
    reference_ = reference_attention(checked_, kernel_.version, precision);
    reference_ms_ = milliseconds_since(start);
    report_ = compare_with_reference(kernel_, reference_, inputs());
  }
  kv_layout_ = kv_cache_layout(scenario());
  block_owners_ = read_block_table_backwards(scenario(), inputs());
}

namespace {

RunOptions kernel_options(const RecordedRunOptions& options) {
  RunOptions run_options;
  run_options.backend = options.backend;
  run_options.record = options.record;
  run_options.max_recording_bytes = options.max_recording_bytes;
  return run_options;
}

}  // namespace

void check_run_fits(const Scenario& scenario, const RecordedRunOptions& options) {
  validate_scenario(scenario);  // first: plan_run sizes the launch from the scenario's fields
  const RunPlan plan = plan_run(scenario, kernel_options(options));
  // The reference keeps every thread_block's stages: with many query heads per kv_head they can
  // outgrow the tensors, so they count against the same host-memory limit.
  const auto tensors = static_cast<std::uint64_t>(estimated_buffer_bytes(scenario));
  const std::uint64_t reference = reference_run_bytes(scenario, plan.version);
  if (tensors + reference > static_cast<std::uint64_t>(kMaxBufferBytes))
    throw ScenarioError("the run's tensors take " + describe_memory(tensors) + " and the reference's stages (every " +
                        "thread_block's logits, exp values and probabilities) " + describe_memory(reference) + ": " +
                        describe_memory(tensors + reference) + " in all, more than the host-memory limit of " +
                        describe_memory(static_cast<std::uint64_t>(kMaxBufferBytes)) + "; shrink num_seqs, num_heads or seq_lens");
  if (!plan.recording || !options.writes_dump) return;
  const std::uint64_t recording = plan.recording->total_bytes;
  const std::uint64_t dump = run_dump_recording_bytes(plan.recording->dims, true);
  if (recording + dump <= options.max_recording_bytes) return;
  throw ScenarioError("recording this scenario needs a debug buffer of " + describe_memory(recording) +
                      ", and writing it to --output another " + describe_memory(dump) + " for the dump's tensors: " +
                      describe_memory(recording + dump) + " in all, more than the recording limit of " +
                      describe_memory(options.max_recording_bytes) +
                      "; record a smaller scenario (fewer num_seqs or num_heads, shorter seq_lens), leave out "
                      "--output or --record, or raise --max-recording-mib if the memory is there");
}

RecordedRun RecordedRun::run_checked(CheckedInputs checked, const RecordedRunOptions& options, std::string origin) {
  check_run_fits(checked.scenario(), options);
  const RunOptions run_options = kernel_options(options);
  const auto start = std::chrono::steady_clock::now();
  KernelRun kernel = run_kernel(checked, run_options);
  const double kernel_ms = milliseconds_since(start);
  throw_if_cancelled("after the kernel, before the reference");  // core/cancellation.h
  Scenario requested = checked.scenario();
  return RecordedRun(std::move(checked), std::move(requested), std::move(kernel), std::move(origin), options.precision,
                     kernel_ms);
}

RecordedRun RecordedRun::from_scenario(const Scenario& scenario, const RecordedRunOptions& options) {
  check_run_fits(scenario, options);  // before the inputs are generated: they can take gigabytes
  return run_checked(CheckedInputs::generate(scenario), options,
                     "scenario (inputs generated from seed " + std::to_string(scenario.seed) + ")");
}

RecordedRun RecordedRun::from_inputs(const Scenario& scenario, Inputs inputs, const RecordedRunOptions& options,
                                     std::string origin) {
  return run_checked(CheckedInputs::check(scenario, std::move(inputs)), options, std::move(origin));
}

RecordedRun RecordedRun::from_checked(CheckedInputs checked, const RecordedRunOptions& options, std::string origin) {
  return run_checked(std::move(checked), options, std::move(origin));
}

RecordedRun RecordedRun::from_dump(const std::string& path, const RecordedRunOptions& options) {
  LoadedDump dump = read_run_dump(path, options.max_recording_bytes);
  if (dump.run && dump.run->recording) {
    const std::string recorded_on = dump.run->device_name.empty() ? std::string(backend_name(dump.run->backend))
                                                                  : dump.run->device_name;
    Scenario requested = dump.inputs.scenario();
    RecordedRun run(std::move(dump.inputs), std::move(requested), std::move(*dump.run),
                    "dump file " + path + " (recorded on " + recorded_on + ")", options.precision, 0.0);
    run.dump_path_ = path;
    run.dump_check_ = "showing the recording stored in the dump, as recorded on " + recorded_on + "; nothing was re-run";
    return run;
  }
  std::optional<Tensor> stored_output;
  if (dump.run) stored_output = dump.run->output;
  RecordedRun run = run_checked(std::move(dump.inputs), options,
                                "dump file " + path + " (inputs re-run here with the recording probe)");
  run.dump_path_ = path;
  run.rerun_from_dump_ = true;
  run.dump_check_ = stored_output ? "the dump holds no recording, so its inputs were re-run here; " +
                                        compare_outputs(*stored_output, run.kernel().output)
                                  : "the dump holds inputs only (no output, no recording): its inputs were re-run here";
  return run;
}

const Recording& RecordedRun::recording() const {
  if (!kernel_.recording)
    throw ScenarioError(origin_ + ": this run was not recorded; run it with the recording probe (--record)");
  return *kernel_.recording;
}

KernelGeometry RecordedRun::geometry() const {
  const Scenario& s = scenario();
  return KernelGeometry{dtype_size_bytes(s.dtype), s.head_size, s.block_size, s.num_threads, s.kv_cache_element_size()};
}

int RecordedRun::seq_len(int seq_idx) const { return inputs().seq_lens.data<std::int32_t>()[seq_idx]; }

int RecordedRun::kv_head_of(int head_idx) const {
  return kv_head_for(head_idx, scenario().num_heads, scenario().num_kv_heads);
}

int RecordedRun::physical_block(int seq_idx, int logical_block_idx) const {
  const std::int64_t columns = inputs().block_tables.shape.at(1);
  return inputs().block_tables.data<std::int32_t>()[seq_idx * columns + logical_block_idx];
}

PagedLookups RecordedRun::paged() const { return PagedLookups(*this); }

const GroupedReferenceRun& RecordedRun::grouped_reference() const {
  if (!grouped_reference_)
    throw ScenarioError("the run is " + std::string(version_name(version())) + ", not grouped: it has no grouped reference");
  return *grouped_reference_;
}

// ---- PagedLookups ------------------------------------------------------------------------------

PagedLookups::PagedLookups(const RecordedRun& run) : run_(run) {
  if (run.version() != KernelVersion::v1 && run.version() != KernelVersion::v2)
    throw ScenarioError("this view shows the v1/v2 kernel, but the run is " + std::string(version_name(run.version())));
}

int PagedLookups::num_partitions(int seq_idx) const {
  return is_v2() ? divide_round_up(run_.seq_len(seq_idx), partition_size()) : 1;
}

TokenRange PagedLookups::range(int seq_idx, int partition_idx) const {
  return token_range(run_.seq_len(seq_idx), run_.scenario().block_size, partition_size(), partition_idx);
}

std::int64_t PagedLookups::tb_index(int seq_idx, int head_idx, int partition_idx) const {
  return sh_index(seq_idx, head_idx) * max_num_partitions() + partition_idx;
}

std::int64_t PagedLookups::sh_index(int seq_idx, int head_idx) const {
  return std::int64_t(seq_idx) * run_.scenario().num_heads + head_idx;
}

ThreadBlockRecord PagedLookups::thread_block(int seq_idx, int head_idx, int partition_idx) const {
  return ThreadBlockRecord(run_.recording(), tb_index(seq_idx, head_idx, partition_idx));
}

ThreadBlockRecord PagedLookups::thread_block(std::int64_t tb) const { return ThreadBlockRecord(run_.recording(), tb); }

ReduceRecord PagedLookups::reduce(int seq_idx, int head_idx) const {
  return ReduceRecord(run_.recording(), sh_index(seq_idx, head_idx));
}

const ThreadBlockStages& PagedLookups::reference(int seq_idx, int head_idx, int partition_idx) const {
  return run_.reference().thread_block(seq_idx, head_idx, partition_idx);
}

}  // namespace pal
