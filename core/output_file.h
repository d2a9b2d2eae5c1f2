// Every file this project writes (scenario files, safetensors inputs and dumps; PNG, SVG and CSV
// outputs as they move over) goes through OutputFile, so that a failed or concurrent write never
// leaves a half-written or mixed file, and no path that is not a regular file is ever replaced.
//
// How a write happens:
//   1. the target is examined without following a link (lstat): a FIFO, a device node (/dev/full),
//      a socket or a folder is refused, and so is a symbolic link (see below); a missing target or
//      a regular file is fine;
//   2. a temporary file with a unique name (".<name>.<random>.partial", created with O_EXCL as
//      mkstemp does) is created in the target's folder, so the final rename stays on one
//      filesystem and two writers of the same path never share a temporary;
//   3. every write is checked (short writes resumed, EINTR retried), then fsync and close are
//      checked too (NFS and full disks report late);
//   4. rename() replaces the target in one step, and the folder is fsynced so the new name
//      survives a crash.
// Any failure before step 4 removes the temporary and leaves the old file exactly as it was; the
// error (a ScenarioError, exit code 2 in the tools) names the path, the step and the system's
// reason ("No space left on device").
//
// Symbolic links are refused, not followed: replacing the link itself would silently turn it
// into a plain file, and writing through it would replace a file elsewhere that the user did not
// name (the classic attack on shared folders). The message names the link's target, so the user
// can give that path instead.
//
// A replaced file keeps its permission bits; a new one gets 0666 minus the umask, as with any
// program that creates files. A replaced file that had several hard links loses them (the name
// now points to the new file), as with any editor that saves through a rename. A process killed
// during a write leaves its temporary behind under the dot-name above; the target is untouched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pal {

class OutputFile {
 public:
  // Checks the target and creates the temporary. Throws ScenarioError.
  explicit OutputFile(std::string path);
  // Without commit(): removes the temporary; the target is as it was.
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void write(const void* data, std::size_t bytes);  // throws ScenarioError
  void write(std::string_view text) { write(text.data(), text.size()); }
  // fsync, close, rename over the target, fsync the folder. Throws ScenarioError.
  void commit();

  const std::string& path() const { return path_; }

 private:
  [[noreturn]] void fail(const std::string& step, int error);
  void discard() noexcept;

  std::string path_;
  std::string folder_;
  std::string temporary_;
  int fd_ = -1;
  std::uint64_t bytes_written_ = 0;
  bool replaces_existing_ = false;
};

// The whole of `contents` into `path` through an OutputFile.
void write_output_file(const std::string& path, std::string_view contents);

// The checks of step 1 alone, and that a new file's folder exists (no file is created): a tool calls it before long work whose result
// goes to `path`, so that a FIFO, device or link is refused before the work, not after it.
void check_output_path(const std::string& path);

// Test seam: make the next OutputFile steps fail as a full disk or a broken device would, without
// needing one. Process-wide; for tests only.
namespace testing {

enum class OutputStep : std::uint8_t { write, fsync, close, rename };

class ScopedOutputFault {
 public:
  // `step` fails with `error` (an errno value such as ENOSPC); for `write`, once `after_bytes`
  // bytes of the file have been written.
  ScopedOutputFault(OutputStep step, int error, std::uint64_t after_bytes = 0);
  ~ScopedOutputFault();
  ScopedOutputFault(const ScopedOutputFault&) = delete;
  ScopedOutputFault& operator=(const ScopedOutputFault&) = delete;
};

}  // namespace testing

}  // namespace pal
