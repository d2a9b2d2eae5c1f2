// Opening and reading a user's file (see input_file.h).
#include "core/input_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/scenario.h"  // ScenarioError

namespace pal {

namespace {

std::string describe_open_error(int error) {
  switch (error) {
    case ENOENT: return "does not exist";
    case ELOOP: return "is a loop of symbolic links (or a chain of more than the system allows)";
    case EACCES: return "cannot be read: permission denied";
    case ENOTDIR: return "does not exist (a part of its path is not a folder)";
    case ENAMETOOLONG: return "cannot be opened: the name is too long";
    default: return std::string("cannot be opened: ") + std::strerror(error);
  }
}

std::string describe_file_type(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a plain file";
}

}  // namespace

std::string describe_file_size(std::uint64_t bytes) {
  char text[48];
  if (bytes >= (std::uint64_t{1} << 20))
    std::snprintf(text, sizeof text, "%.3g MiB", static_cast<double>(bytes) / double(1 << 20));
  else if (bytes >= (std::uint64_t{1} << 10))
    std::snprintf(text, sizeof text, "%.3g KiB", static_cast<double>(bytes) / double(1 << 10));
  else
    std::snprintf(text, sizeof text, "%llu bytes", static_cast<unsigned long long>(bytes));
  return text;
}

InputFile::InputFile(const std::string& path, const std::string& what) : path_(path), what_(what) {
  const std::string name = what_ + " '" + path_ + "' ";
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd_ < 0) throw ScenarioError(name + describe_open_error(errno));
  struct stat status{};
  if (::fstat(fd_, &status) != 0) {
    const int error = errno;
    ::close(fd_);
    throw ScenarioError(name + "cannot be examined: " + std::strerror(error));
  }
  if (!S_ISREG(status.st_mode)) {
    ::close(fd_);
    throw ScenarioError(name + "is " + describe_file_type(status.st_mode) + ", not a regular file");
  }
  size_ = static_cast<std::uint64_t>(status.st_size);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

void InputFile::read_at(std::uint64_t offset, void* buffer, std::size_t bytes) const {
  auto* out = static_cast<char*>(buffer);
  std::size_t done = 0;
  while (done < bytes) {
    const ssize_t got = ::pread(fd_, out + done, bytes - done, static_cast<off_t>(offset + done));
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got < 0)
      throw ScenarioError(what_ + " '" + path_ + "' cannot be read at byte " + std::to_string(offset + done) + ": " +
                          std::strerror(errno));
    if (got == 0)
      throw ScenarioError(what_ + " '" + path_ + "' ended at byte " + std::to_string(offset + done) +
                          " while being read (it was " + std::to_string(size_) + " bytes when opened)");
    done += static_cast<std::size_t>(got);
  }
}

std::string InputFile::read_all(std::uint64_t max_bytes, const std::string& limit_reason) const {
  if (size_ > max_bytes)
    throw ScenarioError(what_ + " '" + path_ + "' is " + describe_file_size(size_) + ", more than the " +
                        describe_file_size(max_bytes) + " limit (" + limit_reason + ")");
  std::string contents(static_cast<std::size_t>(size_), '\0');
  read_at(0, contents.data(), contents.size());
  return contents;
}

}  // namespace pal
