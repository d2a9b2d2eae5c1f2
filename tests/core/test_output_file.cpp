// Tests of core/output_file.h: a write that fails at any step leaves the old file exactly as it
// was, says why, and leaves no temporary behind; a committed write replaces the file whole and
// keeps its permissions. Disk-full conditions come from the test seam (ScopedOutputFault), since
// no small filesystem can be mounted here.
#include <catch2/catch.hpp>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include <sys/stat.h>

#include "core/output_file.h"
#include "core/safetensors.h"
#include "core/scenario.h"
#include "scratch_dir.h"

using namespace pal;
using pal::testing::OutputStep;
using pal::testing::ScopedOutputFault;
using pal::test::scratch;
using pal::test::scratch_dir;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

std::string error_of_write(const std::string& path, const std::string& contents) {
  try {
    write_output_file(path, contents);
  } catch (const ScenarioError& e) {
    return e.what();
  }
  return "";
}

// Files in the scratch folder whose name mentions `name` other than `name` itself: temporaries.
int leftovers_of(const std::string& name) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(scratch_dir())) {
    const std::string file = entry.path().filename().string();
    if (file != name && file.find(name) != std::string::npos) ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("a committed write replaces the whole file and leaves no temporary", "[output]") {
  const std::string path = scratch("replace.txt");
  write_output_file(path, "a much longer first version of the file");
  write_output_file(path, "second");
  CHECK(read_text(path) == "second");
  CHECK(leftovers_of("replace.txt") == 0);
}

TEST_CASE("a write that fails at any step leaves the old file as it was and says why", "[output]") {
  const std::string path = scratch("precious.txt");
  write_output_file(path, "old contents");
  const std::string big(1 << 20, 'n');

  SECTION("the disk fills up part way (ENOSPC after 4096 bytes)") {
    const ScopedOutputFault full_disk(OutputStep::write, ENOSPC, 4096);
    const std::string message = error_of_write(path, big);
    CHECK_THAT(message, Contains("precious.txt") && Contains("No space left on device") &&
                            Contains("after 4096 bytes") && Contains("unchanged"));
  }
  SECTION("the disk is full from the first byte") {
    const ScopedOutputFault full_disk(OutputStep::write, ENOSPC, 0);
    CHECK_THAT(error_of_write(path, big), Contains("No space left on device"));
  }
  SECTION("fsync reports an I/O error") {
    const ScopedOutputFault failing_device(OutputStep::fsync, EIO);
    CHECK_THAT(error_of_write(path, big), Contains("fsync") && Contains("Input/output error"));
  }
  SECTION("close reports a late error (as NFS can)") {
    const ScopedOutputFault late_error(OutputStep::close, EDQUOT);
    CHECK_THAT(error_of_write(path, big), Contains("closing") && Contains("quota"));
  }
  SECTION("the rename fails") {
    const ScopedOutputFault no_rename(OutputStep::rename, EXDEV);
    CHECK_THAT(error_of_write(path, big), Contains("renaming"));
  }
  CHECK(read_text(path) == "old contents");
  CHECK(leftovers_of("precious.txt") == 0);
}

TEST_CASE("a failed first write creates no file", "[output]") {
  const std::string path = scratch("never.txt");
  fs::remove(path);
  const ScopedOutputFault full_disk(OutputStep::write, ENOSPC, 10);
  CHECK_THAT(error_of_write(path, "0123456789abcdef"), Contains("no file was created"));
  CHECK_FALSE(fs::exists(path));
  CHECK(leftovers_of("never.txt") == 0);
}

TEST_CASE("a failed scenario save or safetensors write leaves the old file untouched", "[output]") {
  const std::string scenario_path = scratch("kept.json");
  save_scenario_file(Scenario{}, scenario_path);
  const std::string before = read_text(scenario_path);
  Scenario changed;
  changed.num_heads = 8;
  {
    const ScopedOutputFault full_disk(OutputStep::write, ENOSPC, 20);
    CHECK_THROWS_WITH(save_scenario_file(changed, scenario_path), Contains("No space left on device"));
  }
  CHECK(read_text(scenario_path) == before);

  const std::string tensors_path = scratch("kept.safetensors");
  SafetensorsFile contents;
  contents.tensors["t"] = Tensor(ElementType::f32, {1024});
  write_safetensors(tensors_path, contents);
  const std::string tensors_before = read_text(tensors_path);
  contents.tensors["u"] = Tensor(ElementType::f32, {2048});
  {
    const ScopedOutputFault full_disk(OutputStep::write, ENOSPC, 100);
    CHECK_THROWS_WITH(write_safetensors(tensors_path, contents), Contains("No space left on device"));
  }
  CHECK(read_text(tensors_path) == tensors_before);
  CHECK(leftovers_of("kept.json") == 0);
  CHECK(leftovers_of("kept.safetensors") == 0);
}

TEST_CASE("a replaced file keeps its permission bits; a new one follows the umask", "[output]") {
  const std::string path = scratch("mode.txt");
  write_output_file(path, "first");
  REQUIRE(::chmod(path.c_str(), 0640) == 0);
  write_output_file(path, "second");
  struct stat status{};
  REQUIRE(::stat(path.c_str(), &status) == 0);
  CHECK((status.st_mode & 07777) == 0640);

  const std::string fresh = scratch("fresh.txt");
  fs::remove(fresh);
  const mode_t mask = ::umask(022);
  write_output_file(fresh, "new");
  ::umask(mask);
  REQUIRE(::stat(fresh.c_str(), &status) == 0);
  CHECK((status.st_mode & 07777) == 0644);
}

TEST_CASE("an output in a folder that does not exist is refused with the folder's name", "[output]") {
  CHECK_THAT(error_of_write(scratch("no_such_folder/out.txt"), "x"), Contains("no_such_folder") && Contains("does not exist"));
}

TEST_CASE("an output path naming a folder is refused", "[output]") {
  CHECK_THAT(error_of_write(scratch_dir().string(), "x"), Contains("folder"));
  CHECK_THAT(error_of_write(scratch_dir().string() + "/", "x"), Contains("folder"));
}

TEST_CASE("many writers of one path at once each leave a whole file, never a mixture", "[output]") {
  const std::string path = scratch("many.txt");
  std::vector<std::string> versions;
  for (int i = 0; i < 8; ++i) versions.push_back(std::string(std::size_t(64 << 10) + std::size_t(i), char('a' + i)));
  for (int round = 0; round < 10; ++round) {
    std::vector<std::thread> writers;
    for (const std::string& version : versions) writers.emplace_back([&] { write_output_file(path, version); });
    for (std::thread& writer : writers) writer.join();
    const std::string result = read_text(path);
    CHECK(std::find(versions.begin(), versions.end(), result) != versions.end());
  }
  CHECK(leftovers_of("many.txt") == 0);
}

TEST_CASE("check_output_path refuses a missing folder or a file in place of the folder, creating nothing", "[output]") {
  const std::string missing = scratch("no_such_folder_either/out.png");
  CHECK_THROWS_WITH(check_output_path(missing), Contains("no_such_folder_either") && Contains("does not exist"));
  CHECK_FALSE(fs::exists(scratch("no_such_folder_either")));
  const std::string plain = scratch("plain_file_as_folder");
  write_output_file(plain, "x");
  CHECK_THROWS_WITH(check_output_path(plain + "/out.png"), Contains("plain_file_as_folder"));
  CHECK_NOTHROW(check_output_path(scratch("a_new_file.png")));
  CHECK_FALSE(fs::exists(scratch("a_new_file.png")));
}
