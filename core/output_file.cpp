// Writing a file through a unique temporary and a rename (see output_file.h).
#include "core/output_file.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/scenario.h"  // ScenarioError

namespace pal {

namespace {

// The injected fault of testing::ScopedOutputFault; `active` is false outside tests.
struct Fault {
  std::atomic<bool> active{false};
  testing::OutputStep step = testing::OutputStep::write;
  int error = 0;
  std::uint64_t after_bytes = 0;
};
Fault& fault() {
  static Fault instance;
  return instance;
}
bool fault_at(testing::OutputStep step) { return fault().active.load() && fault().step == step; }

std::string describe_type(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device (like /dev/full or /dev/null)";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// Random bits for the temporary's name; O_EXCL makes the name unique whatever they are.
std::uint64_t random_suffix() {
  static std::atomic<std::uint64_t> counter{0};
  std::uint64_t value = 0;
  if (::getrandom(&value, sizeof value, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof value))
    value = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
            (static_cast<std::uint64_t>(::getpid()) << 32);
  return value ^ (counter.fetch_add(1) * 0x9e3779b97f4a7c15ull);
}

// Step 1 of output_file.h: what is at `path` now. Returns whether a regular file is there (its
// status in *existing); throws for anything that must not be replaced.
bool examine_target(const std::string& path, struct stat* existing) {
  const std::filesystem::path target(path);
  const std::string name = target.filename().string();
  if (name.empty() || name == "." || name == "..")
    throw ScenarioError("cannot write '" + path + "': it names a folder, not a file");
  if (::lstat(path.c_str(), existing) != 0) {
    if (errno == ENOENT) return false;
    throw ScenarioError("cannot write '" + path + "': " + std::strerror(errno));
  }
  if (S_ISLNK(existing->st_mode)) {
    std::error_code ignored;
    const std::string link_target = std::filesystem::read_symlink(target, ignored).string();
    throw ScenarioError("cannot write '" + path + "': it is a symbolic link (to '" + link_target +
                        "'); outputs are never written through a link, so that neither the link nor a file "
                        "elsewhere is replaced by surprise: give the target's path, or remove the link");
  }
  if (!S_ISREG(existing->st_mode))
    throw ScenarioError("cannot write '" + path + "': it is " + describe_type(existing->st_mode) +
                        ", not a regular file, and is left as it is; give the path of a regular file to create or "
                        "replace");
  return true;
}

}  // namespace

void check_output_path(const std::string& path) {
  struct stat existing{};
  if (examine_target(path, &existing)) return;
  // A new file: its folder must exist, or the work before the write would be wasted.
  const std::filesystem::path target(path);
  const std::string folder = target.has_parent_path() ? target.parent_path().string() : ".";
  struct stat folder_status{};
  if (::stat(folder.c_str(), &folder_status) != 0) {
    const int error = errno;
    if (error == ENOENT || error == ENOTDIR)
      throw ScenarioError("cannot write '" + path + "': its folder '" + folder + "' does not exist");
    throw ScenarioError("cannot write '" + path + "': its folder '" + folder + "' cannot be examined: " +
                        std::strerror(error));
  }
  if (!S_ISDIR(folder_status.st_mode))
    throw ScenarioError("cannot write '" + path + "': '" + folder + "' is not a folder");
}

OutputFile::OutputFile(std::string path) : path_(std::move(path)) {
  const std::filesystem::path target(path_);
  const std::string name = target.filename().string();
  folder_ = target.has_parent_path() ? target.parent_path().string() : ".";
  struct stat status{};
  replaces_existing_ = examine_target(path_, &status);

  // ".<name>.<16 hex digits>.partial", the name shortened so the whole stays within NAME_MAX.
  for (int attempt = 0; attempt < 64; ++attempt) {
    char suffix[24];
    std::snprintf(suffix, sizeof suffix, ".%016llx", static_cast<unsigned long long>(random_suffix()));
    temporary_ = (std::filesystem::path(folder_) / ("." + name.substr(0, 200) + suffix + ".partial")).string();
    fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd_ >= 0 || errno != EEXIST) break;
  }
  if (fd_ < 0) {
    const int error = errno;
    if (error == ENOENT || error == ENOTDIR)
      throw ScenarioError("cannot write '" + path_ + "': its folder '" + folder_ + "' does not exist");
    throw ScenarioError("cannot write '" + path_ + "': cannot create a file in '" + folder_ + "': " +
                        std::strerror(error));
  }
  if (replaces_existing_ && ::fchmod(fd_, status.st_mode & 07777) != 0) fail("keeping the permissions", errno);
}

OutputFile::~OutputFile() { discard(); }

void OutputFile::discard() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temporary_.empty()) ::unlink(temporary_.c_str());
  temporary_.clear();
}

void OutputFile::fail(const std::string& step, int error) {
  discard();
  throw ScenarioError("cannot write '" + path_ + "': " + step + " failed after " + std::to_string(bytes_written_) +
                      " bytes: " + std::strerror(error) + "; " +
                      (replaces_existing_ ? "the file that was there is unchanged" : "no file was created"));
}

void OutputFile::write(const void* data, std::size_t bytes) {
  if (fd_ < 0) throw ScenarioError("cannot write '" + path_ + "': the file is already closed");
  const auto* next = static_cast<const char*>(data);
  while (bytes > 0) {
    std::size_t chunk = bytes;
    if (fault_at(testing::OutputStep::write)) {
      if (bytes_written_ >= fault().after_bytes) fail("writing", fault().error);
      chunk = std::min<std::uint64_t>(chunk, fault().after_bytes - bytes_written_);
    }
    const ssize_t written = ::write(fd_, next, chunk);
    if (written < 0) {
      if (errno == EINTR) continue;
      fail("writing", errno);
    }
    next += written;
    bytes -= static_cast<std::size_t>(written);
    bytes_written_ += static_cast<std::uint64_t>(written);
  }
}

void OutputFile::commit() {
  if (fd_ < 0) throw ScenarioError("cannot write '" + path_ + "': the file is already closed");
  if (fault_at(testing::OutputStep::fsync)) fail("flushing to disk (fsync)", fault().error);
  if (::fsync(fd_) != 0) fail("flushing to disk (fsync)", errno);
  const int fd = fd_;
  fd_ = -1;
  if (fault_at(testing::OutputStep::close)) {
    ::close(fd);
    fail("closing", fault().error);
  }
  if (::close(fd) != 0) fail("closing", errno);
  if (fault_at(testing::OutputStep::rename)) fail("renaming the temporary into place", fault().error);
  if (::rename(temporary_.c_str(), path_.c_str()) != 0) fail("renaming the temporary into place", errno);
  temporary_.clear();

  // The rename is durable once the folder is flushed; filesystems that cannot flush a folder say
  // EINVAL, and then there is nothing more to do.
  const int folder = ::open(folder_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder >= 0) {
    const int result = ::fsync(folder);
    const int error = errno;
    ::close(folder);
    if (result != 0 && error != EINVAL && error != ENOTSUP && error != EROFS)
      throw ScenarioError("wrote '" + path_ + "', but its folder could not be flushed to disk: " +
                          std::strerror(error));
  }
}

void write_output_file(const std::string& path, std::string_view contents) {
  OutputFile file(path);
  file.write(contents);
  file.commit();
}

namespace testing {

ScopedOutputFault::ScopedOutputFault(OutputStep step, int error, std::uint64_t after_bytes) {
  fault().step = step;
  fault().error = error;
  fault().after_bytes = after_bytes;
  fault().active.store(true);
}

ScopedOutputFault::~ScopedOutputFault() { fault().active.store(false); }

}  // namespace testing

}  // namespace pal
