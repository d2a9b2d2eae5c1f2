// A per-process scratch directory for tests that write files. It lives in $TMPDIR when that is
// set, else in /dev/shm when writable (the corruption tests write thousands of small files, which
// is slow on a busy disk), else in the system temporary directory; it is removed at exit.
#pragma once

#include <filesystem>
#include <string>
#include <cstdlib>
#include <system_error>

#include <unistd.h>

namespace pal::test {

inline const std::filesystem::path& scratch_dir() {
  struct Directory {
    std::filesystem::path path;
    Directory() {
      std::filesystem::path base = std::filesystem::temp_directory_path();
      if (std::getenv("TMPDIR") == nullptr && ::access("/dev/shm", W_OK) == 0) base = "/dev/shm";
      path = base / ("pal_test_" + std::to_string(::getpid()));
      std::filesystem::create_directories(path);
    }
    ~Directory() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static const Directory directory;
  return directory.path;
}

inline std::string scratch(const std::string& name) { return (scratch_dir() / name).string(); }

}  // namespace pal::test
