// The dump fuzz target's work (see exercise.h): bytes -> run layer -> visualizer model.
#include "exercise.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "core/scenario.h"
#include "run/run_dump.h"
#include "visualizer/model/derived.h"
#include "visualizer/model/view_model.h"

namespace pal::fuzz {

namespace {

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz finding: %s\n", what.c_str());
  std::abort();
}

// The bytes as a file the tools can open by name: an anonymous in-memory file (memfd), named
// through /proc/self/fd. pal-viz --dump then reads it exactly as it reads a user's file, with no
// second, in-memory reader that the fuzzer would test instead of the real one.
class MemoryFile {
 public:
  explicit MemoryFile(std::string_view bytes) {
    fd_ = ::memfd_create("pal_fuzz_dump", MFD_CLOEXEC);
    if (fd_ < 0) finding("memfd_create failed");
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t written = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (written <= 0) finding("writing the memfd failed");
      done += static_cast<std::size_t>(written);
    }
  }
  ~MemoryFile() { ::close(fd_); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_ = -1;
};

// Re-runs of dumps without a recording are kept to this many (token, head) pairs.
constexpr std::int64_t kMaxRerunTokenHeads = 1 << 14;

// (seq, head) pairs walked per dump: enough to reach every code path, few enough to stay fast.
constexpr int kMaxFocusSeqs = 3;
constexpr int kMaxFocusHeads = 2;

// Everything the panels ask of the model for the focused (seq, head), the way they ask it.
void walk_focus(viz::ViewModel& model) {
  const viz::Session& session = model.session();
  const viz::Timeline& timeline = model.timeline();
  for (int step = 0; step < timeline.size(); ++step) {
    (void)model.step(step);
    (void)model.partition_of_step(step);
    (void)model.tb_of_step(step);
  }
  const int seq = model.seq_idx(), head = model.head_idx();
  const KernelGeometry g = session.geometry();
  const RecordDims& d = session.dims();
  const int kv_iterations = divide_round_up(d.tokens_per_thread_block / std::max(d.block_size, 1), g.num_warps());
  for (int partition = 0; partition < session.num_partitions(seq); ++partition) {
    const std::int64_t tb = session.tb_index(seq, head, partition);
    for (int iteration = -1; iteration <= kv_iterations; ++iteration)
      (void)viz::accs_after_v_iteration(session, seq, head, partition, iteration);
    (void)viz::lv_butterfly(session, tb);
    for (int level = 0; level <= d.num_acc_levels; ++level) (void)viz::out_smem_at_tree_level(session, tb, level);
  }
  // Every element each load brought in, described as the memory panel's hover does.
  for (const viz::Loader& load : model.load_index().loads()) {
    (void)viz::step_of_load(timeline, load);
    for (int e = 0; e < load.num_elements; ++e)
      (void)viz::describe_element(session, model.load_index(), timeline, viz::tensor_of(load.kind),
                                  load.first_element + e, load.partition_idx);
  }
  (void)viz::totals_of(model.warp_loads(), LoadKind::none);
}

}  // namespace

bool exercise_dump(std::string_view bytes) {
  const MemoryFile file(bytes);
  viz::ViewModel model;
  try {
    // A dump without a recording is re-run on the emulator. A few KB of block table can describe a
    // long run (every entry naming the same kv_block); that is a slow input, not a wrong one, so
    // only small re-runs go on: the fuzzer's time limit would otherwise report it as a hang.
    const LoadedDump dump = read_run_dump(file.path());
    if (!dump.run || !dump.run->recording) {
      const Scenario& scenario = dump.inputs.scenario();
      std::int64_t tokens = 0;
      for (const int seq_len : scenario.seq_lens) tokens += seq_len;
      if (tokens * scenario.num_heads > kMaxRerunTokenHeads) return false;
    }
    model.open_dump(file.path(), Backend::emulator);
  } catch (const ScenarioError&) {
    return false;  // the clear refusal every bad input should get
  } catch (const std::exception& error) {
    finding(std::string("opening a dump threw something other than ScenarioError: ") + error.what());
  }
  // Accepted: every view of every (seq, head) in reach must work without an error.
  try {
    const Scenario& scenario = model.session().scenario();
    for (int seq = 0; seq < std::min(scenario.num_seqs, kMaxFocusSeqs); ++seq)
      for (int head = 0; head < std::min(scenario.num_heads, kMaxFocusHeads); ++head) {
        model.set_focus(seq, head);
        walk_focus(model);
      }
  } catch (const std::exception& error) {
    finding(std::string("a view of an accepted dump threw: ") + error.what());
  }
  return true;
}

}  // namespace pal::fuzz
