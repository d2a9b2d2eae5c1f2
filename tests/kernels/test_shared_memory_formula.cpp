// The static shared memory the launch plan assumes (LaunchShape::main_static_shared_memory_bytes,
// which decides whether a v1 launch fits a device and which version auto picks) against what ptxas
// allocates for the compiled kernel: nvcc -Xptxas -v reports "N bytes smem" per entry function,
// the figure cudaFuncGetAttributes(...).sharedSizeBytes returns on a GPU. Needs nvcc, no GPU.
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>

#include "kernels/launch_plan.h"

using namespace pal;

namespace {

struct Config {
  const char* scalar_t;
  DType dtype;
  int head_size;
  int block_size;
};

// What `command` prints on stdout and stderr, and its exit status.
std::pair<std::string, int> run(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((command + " 2>&1").c_str(), "r"), pclose);
  REQUIRE(pipe);
  std::string output;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), int(buffer.size()), pipe.get())) output += buffer.data();
  const int status = pclose(pipe.release());
  return {output, status};
}

}  // namespace

TEST_CASE("the static shared memory of the main kernel is what ptxas allocates for v1 and v2") {
  const auto config = GENERATE(Config{"fp16_t", DType::fp16, 128, 16}, Config{"bf16_t", DType::bf16, 80, 8},
                               Config{"float", DType::fp32, 256, 32});
  INFO(config.scalar_t << " head " << config.head_size << " block " << config.block_size);
  const auto dir = std::filesystem::temp_directory_path() /
                   ("pal_smem_" + std::string(config.scalar_t) + "_" + std::to_string(config.head_size));
  std::filesystem::create_directories(dir);
  const auto source = dir / "kernel.cu";
  std::ofstream(source) << "#include \"kernels/gpu_kernels.cuh\"\nnamespace pal {\n"
                        << "template __global__ void paged_attention_kernel<" << config.scalar_t << ", "
                        << config.scalar_t << ", " << config.head_size << ", " << config.block_size
                        << ", KvCacheDtype::automatic, false, 0, NoopProbe>(AttentionArgs<" << config.scalar_t << ", "
                        << config.scalar_t << ">, BlockSparseParams, NoopProbe);\n"
                        << "template __global__ void paged_attention_kernel<" << config.scalar_t << ", "
                        << config.scalar_t << ", " << config.head_size << ", " << config.block_size
                        << ", KvCacheDtype::automatic, false, " << kPartitionSize << ", NoopProbe>(AttentionArgs<"
                        << config.scalar_t << ", " << config.scalar_t << ">, BlockSparseParams, NoopProbe);\n}\n";
  const auto [output, status] =
      run(std::string(PAL_NVCC) + " -std=c++20 -O3 -arch=sm_90 --expt-relaxed-constexpr -I" + PAL_SOURCE_DIR +
          " -cubin -Xptxas -v -o " + (dir / "kernel.cubin").string() + " " + source.string());
  INFO(output);
  REQUIRE(status == 0);

  LaunchShape shape;
  shape.dtype = config.dtype;
  shape.head_size = config.head_size;
  shape.block_size = config.block_size;
  const std::size_t formula = shape.main_static_shared_memory_bytes();
  // "Compiling entry function '<name>' for 'sm_90'" ... "Used 64 registers, used 1 barriers, 288 bytes smem"
  const std::regex entry(R"(Compiling entry function '([^']+)')");
  const std::regex smem(R"(Used \d+ registers.*?(\d+) bytes smem)");
  int entries = 0;
  std::string current;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (std::regex_search(line, match, entry)) current = match[1];
    if (std::regex_search(line, match, smem)) {
      INFO(current);
      CHECK(std::stoul(match[1]) == formula);
      ++entries;
    }
  }
  CHECK(entries == 2);  // v1 and v2 were both compiled and read
  std::filesystem::remove_all(dir);
}
