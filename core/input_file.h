// A file a user named for reading (a scenario, a safetensors file): opened once, checked to be a
// regular file of known size, then read at offsets.
//
// Checks happen on the opened descriptor (open, then fstat), so what is checked is what is read.
// A FIFO is opened without blocking and refused, never waited on. Each way a name can fail gets
// its own message: "does not exist", "is a loop of symbolic links", "cannot be read: Permission
// denied", "is a folder, not a regular file".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pal {

class InputFile {
 public:
  // Throws ScenarioError "<what> '<path>' <problem>", e.g. "scenario file 'a.json' does not exist".
  InputFile(const std::string& path, const std::string& what);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  std::uint64_t size() const { return size_; }
  // Reads exactly `bytes` bytes at `offset` (which the caller has checked against size()); throws
  // ScenarioError when the file is shorter than it was or a read fails.
  void read_at(std::uint64_t offset, void* buffer, std::size_t bytes) const;
  // The whole file, refused with the size and the limit before anything is read when it is larger
  // than `max_bytes` (`limit_reason` says why the limit is what it is).
  std::string read_all(std::uint64_t max_bytes, const std::string& limit_reason) const;

 private:
  std::string path_;
  std::string what_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

// "12.5 MiB", "200 MiB", "734 bytes": sizes in messages about files.
std::string describe_file_size(std::uint64_t bytes);

}  // namespace pal
