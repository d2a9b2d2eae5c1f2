// pal-viz as a program: bad files and flags give a clear message and a non-zero exit (never a
// crash), and under Xvfb every panel renders to a PNG that is not blank and changes with the step.
// The rendering cases need xvfb-run (Debian package xvfb); without it they are reported and skipped.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <stb_image.h>

namespace {

namespace fs = std::filesystem;

struct Result {
  int exit_code = -1;   // -1: killed by a signal (a crash)
  int signal = 0;
  std::string output;   // stdout and stderr together
};

fs::path scratch() {
  const fs::path dir = fs::temp_directory_path() / "pal_viz_app_test";
  fs::create_directories(dir);
  return dir;
}

Result run(const std::string& arguments, const std::string& prefix = "") {
  const fs::path log = scratch() / "output.txt";
  const std::string command = prefix + " '" + std::string(PAL_VIZ_EXECUTABLE) + "' " + arguments + " > '" + log.string() + "' 2>&1";
  const int status = std::system(command.c_str());
  Result result;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  result.output = text.str();
  return result;
}

bool have_xvfb() { return std::system("command -v xvfb-run > /dev/null 2>&1") == 0; }
const std::string kXvfb = "xvfb-run -a -s '-screen 0 1600x1000x24'";

struct Image {
  int width = 0, height = 0;
  std::vector<unsigned char> rgba;
};

Image load_png(const fs::path& path) {
  Image image;
  int channels = 0;
  unsigned char* data = stbi_load(path.string().c_str(), &image.width, &image.height, &channels, 4);
  REQUIRE(data != nullptr);
  image.rgba.assign(data, data + std::size_t(image.width) * std::size_t(image.height) * 4);
  stbi_image_free(data);
  return image;
}

// Not blank: many distinct colours, not one background with a few specks.
int distinct_colours(const Image& image) {
  std::set<std::uint32_t> colours;
  for (std::size_t i = 0; i + 3 < image.rgba.size() && colours.size() < 1000; i += 4 * 7)
    colours.insert(std::uint32_t(image.rgba[i]) << 16 | std::uint32_t(image.rgba[i + 1]) << 8 | image.rgba[i + 2]);
  return static_cast<int>(colours.size());
}

double fraction_differing(const Image& a, const Image& b) {
  if (a.rgba.size() != b.rgba.size()) return 1.0;
  std::size_t differing = 0;
  for (std::size_t i = 0; i < a.rgba.size(); i += 4)
    differing += a.rgba[i] != b.rgba[i] || a.rgba[i + 1] != b.rgba[i + 1] || a.rgba[i + 2] != b.rgba[i + 2];
  return double(differing) / double(a.rgba.size() / 4);
}

TEST_CASE("pal-viz refuses an invalid scenario file with the field's name and exit code 2") {
  const fs::path file = scratch() / "bad_scenario.json";
  std::ofstream(file) << R"({"head_size": 100, "seq_lens": [5]})";
  const Result result = run("--scenario '" + file.string() + "' --screenshot '" + (scratch() / "x.png").string() + "'");
  CHECK(result.signal == 0);
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.output, Catch::Contains("head_size"));
}

TEST_CASE("pal-viz refuses a scenario file that is not JSON, naming the file") {
  const fs::path file = scratch() / "not_json.json";
  std::ofstream(file) << "{ this is not json";
  const Result result = run("--scenario '" + file.string() + "'");
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.output, Catch::Contains("not_json.json"));
}

TEST_CASE("pal-viz refuses a corrupt dump, naming the file, without crashing") {
  const fs::path file = scratch() / "corrupt.safetensors";
  {
    std::ofstream out(file, std::ios::binary);
    const unsigned char header_length[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};
    out.write(reinterpret_cast<const char*>(header_length), 8);
    out << "{\"query\": ";
  }
  const Result result = run("--dump '" + file.string() + "' --screenshot '" + (scratch() / "x.png").string() + "'");
  CHECK(result.signal == 0);
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.output, Catch::Contains("corrupt.safetensors"));
}

TEST_CASE("pal-viz names the valid choices for an unknown panel, step or figure") {
  CHECK_THAT(run("--panel nope --screenshot x.png").output,
             Catch::Contains("is not a panel") && Catch::Contains("or app (the whole window)"));
  CHECK_THAT(run("--step 100000 --screenshot x.png").output, Catch::Contains("'last', or a stage name"));
  CHECK_THAT(run("--figure nope --screenshot x.png").output, Catch::Contains("k_vecs"));
}

TEST_CASE("pal-viz without a display says to use xvfb-run instead of crashing") {
  const Result result = run("--screenshot '" + (scratch() / "x.png").string() + "'", "env -u DISPLAY -u WAYLAND_DISPLAY");
  CHECK(result.signal == 0);
  CHECK(result.exit_code == 3);
  CHECK_THAT(result.output, Catch::Contains("xvfb-run"));
}

TEST_CASE("every panel renders under Xvfb, is not blank, and changes with the step") {
  if (!have_xvfb()) {
    WARN("xvfb-run is not installed (Debian package xvfb): the rendering test is skipped");
    return;
  }
  const fs::path dir = scratch() / "batch";
  fs::remove_all(dir);
  const Result result = run("--batch-dir '" + dir.string() + "' --steps 0,qk_max,value_accumulation,last --panels all --size 1200x800",
                            kXvfb);
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  const std::vector<std::string> panels = {"timeline", "scenario", "paging", "threads", "softmax", "reductions", "output",
                                           "coalescing", "shared", "memory-query", "memory-q_vecs", "memory-key", "memory-k_vecs",
                                           "memory-value", "memory-logits_vec", "memory-v_vec"};
  std::vector<std::string> first_and_last;
  int images = 0;
  for (const auto& entry : fs::directory_iterator(dir)) images += entry.path().extension() == ".png";
  CHECK(images == 4 * static_cast<int>(panels.size()));
  for (const std::string& panel : panels) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.path().filename().string().rfind(panel + "_step", 0) == 0) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    INFO("panel " << panel);
    REQUIRE(files.size() == 4);
    const Image first = load_png(files.front());
    const Image last = load_png(files.back());
    CHECK(first.width == 1200);
    CHECK(first.height == 800);
    CHECK(distinct_colours(first) >= 8);
    CHECK(distinct_colours(last) >= 8);
    // The scenario panel shows the scenario, which does not change with the step.
    if (panel != "scenario") CHECK(fraction_differing(first, last) > 0.001);
  }
}

#ifdef PAL_RUN_EXECUTABLE
TEST_CASE("--figure-only draws a panel without its heading and controls, and only for pictures") {
  CHECK(run("--figure-only").exit_code == 2);
  CHECK_THAT(run("--figure-only").output, Catch::Contains("--screenshot"));
  CHECK_THAT(run("--figure-only --panel app --screenshot x.png").output, Catch::Contains("give a panel"));
  if (!have_xvfb()) return;
  const fs::path full = scratch() / "memory_full.png", figure = scratch() / "memory_figure.png";
  const std::string common = "--panel memory --figure key --step qk_logits --size 800x500 --screenshot ";
  REQUIRE(run(common + "'" + full.string() + "'", kXvfb).exit_code == 0);
  REQUIRE(run("--figure-only " + common + "'" + figure.string() + "'", kXvfb).exit_code == 0);
  const Image a = load_png(full), b = load_png(figure);
  REQUIRE(a.width == b.width);
  REQUIRE(a.height == b.height);
  CHECK(distinct_colours(b) > 20);
  // The top rows hold the title bar, heading and controls in one and the figure in the other.
  Image top_a = a, top_b = b;
  top_a.rgba.resize(std::size_t(a.width) * 60 * 4);
  top_b.rgba.resize(std::size_t(b.width) * 60 * 4);
  top_a.height = top_b.height = 60;
  CHECK(fraction_differing(top_a, top_b) > 0.05);
}

TEST_CASE("--svg writes a panel's figure as SVG with its words as text, and refuses a folder as the file") {
  const fs::path folder = scratch() / "svg_folder";
  fs::create_directories(folder);
  const Result refused = run("--panel softmax --svg '" + folder.string() + "'");
  CHECK(refused.exit_code == 2);
  CHECK(fs::is_directory(folder));
  if (!have_xvfb()) return;
  const fs::path svg = scratch() / "softmax.svg";
  fs::remove(svg);
  const Result written = run("--panel softmax --step softmax --figure-only --size 900x600 --svg '" + svg.string() + "'", kXvfb);
  INFO(written.output);
  REQUIRE(written.exit_code == 0);
  std::ifstream in(svg);
  std::stringstream text;
  text << in.rdbuf();
  const std::string document = text.str();
  CHECK(document.rfind("<?xml", 0) == 0);
  CHECK_THAT(document, Catch::Contains("width=\"900\" height=\"600\""));
  CHECK_THAT(document, Catch::Contains(">probabilities</text>"));
  CHECK_THAT(document, Catch::Contains("<path d=\"M"));
  CHECK_THAT(document, Catch::EndsWith("</svg>\n"));
}

TEST_CASE("a recorded dump written by pal-run opens in pal-viz and renders without a re-run") {
  if (!have_xvfb()) {
    WARN("xvfb-run is not installed (Debian package xvfb): the dump rendering test is skipped");
    return;
  }
  const fs::path dump = scratch() / "pal_run_dump.safetensors";
  const std::string write = "'" + std::string(PAL_RUN_EXECUTABLE) + "' --record --seq-lens 20,70 --output '" + dump.string() +
                            "' > /dev/null 2>&1";
  REQUIRE(std::system(write.c_str()) == 0);
  const fs::path png = scratch() / "dump_reductions.png";
  const Result result = run("--dump '" + dump.string() + "' --panel reductions --step qk_max --screenshot '" + png.string() + "'",
                            kXvfb);
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(distinct_colours(load_png(png)) >= 8);
  // The steps printed for the dump are the recorded run's: the second sequence (70 tokens) needs
  // two QK iterations over 4 warps.
  const Result steps = run("--dump '" + dump.string() + "' --list-steps");
  CHECK_THAT(steps.output, Catch::Contains("qk_logits: iteration 2 of 2"));
}
#endif

// Outputs go through core/output_file.h (issue 14): what is at the path is examined before the
// window opens, so none of these needs a display.
TEST_CASE("pal-viz --screenshot onto a FIFO, a link, a folder or into a missing folder exits 2 and leaves it be") {
  const std::string small = "--backend emulator --seq-lens 5 --head-size 32 --panel paging ";
  const fs::path fifo = scratch() / "shot.fifo";
  fs::remove(fifo);
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const fs::path target = scratch() / "shot_target.png", link = scratch() / "shot_link.png";
  std::ofstream(target) << "precious";
  fs::remove(link);
  fs::create_symlink(target, link);
  const fs::path folder = scratch() / "shot_folder";
  fs::create_directories(folder);
  const fs::path missing = scratch() / "no_such_folder" / "shot.png";
  const std::pair<fs::path, const char*> cases[] = {
      {fifo, "FIFO"}, {link, "symbolic link"}, {folder, "folder"}, {missing, "does not exist"}};
  for (const auto& [path, phrase] : cases) {
    const Result result = run(small + "--screenshot '" + path.string() + "'", "env -u DISPLAY -u WAYLAND_DISPLAY");
    INFO(path << ": " << result.output);
    CHECK(result.signal == 0);
    CHECK(result.exit_code == 2);  // refused before the window: not 3 (no display)
    CHECK_THAT(result.output, Catch::Contains(phrase) && !Catch::Contains("wrote"));
  }
  CHECK(fs::is_fifo(fifo));
  CHECK(fs::is_symlink(link));
  CHECK(fs::file_size(target) == 8);
  CHECK(fs::is_directory(folder));
  CHECK_FALSE(fs::exists(missing.parent_path()));
}

TEST_CASE("pal-viz --batch-dir naming a file exits 2 and leaves the file as it was") {
  const fs::path file = scratch() / "batch_is_a_file";
  std::ofstream(file) << "precious";
  const Result result = run("--backend emulator --seq-lens 5 --head-size 32 --batch-dir '" + file.string() + "'",
                            "env -u DISPLAY -u WAYLAND_DISPLAY");
  INFO(result.output);
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.output, Catch::Contains("not a folder"));
  CHECK(fs::file_size(file) == 8);
}

TEST_CASE("a screenshot replaces an existing picture whole, and a failed run leaves it as it was") {
  if (!have_xvfb()) {
    WARN("xvfb-run is not installed (Debian package xvfb): the screenshot replacement test is skipped");
    return;
  }
  const fs::path png = scratch() / "replaced.png";
  std::ofstream(png) << "an older picture";
  // A run that fails (an unknown step) writes nothing.
  const Result failed = run("--backend emulator --seq-lens 5 --head-size 32 --step nope --screenshot '" + png.string() + "'",
                            kXvfb);
  CHECK(failed.exit_code == 2);
  CHECK(fs::file_size(png) == 16);
  const Result result = run("--backend emulator --seq-lens 5 --head-size 32 --panel paging --size 640x480 --screenshot '" +
                                png.string() + "'",
                            kXvfb);
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  const Image image = load_png(png);
  CHECK(image.width == 640);
  CHECK(image.height == 480);
  int leftovers = 0;  // the temporaries (".replaced.png.<random>.partial") are gone
  for (const auto& entry : fs::directory_iterator(scratch()))
    leftovers += entry.path().filename().string().rfind(".replaced.png.", 0) == 0;
  CHECK(leftovers == 0);
}

}  // namespace

TEST_CASE("pal-viz --compare refuses what it cannot compare with exit code 2 and says what to give") {
  const std::string small = "--backend emulator --seq-lens 20 --num-heads 8 --num-kv-heads 2 ";
  const std::pair<std::string, const char*> cases[] = {
      {"--compare v1,v3", "'v3' is not a version"},
      {"--compare v1,v1", "the same version twice"},
      {"--compare v1", "give two versions"},
      {"--compare v1,grouped --version v2", "drop --version"},
      {"--compare v1,grouped --blocksparse-vert-stride 4 --blocksparse-local-blocks 1 --head-size 128",
       "cannot run grouped"},
      {"--compare v1,grouped --dump nothing.safetensors", "a dump holds one run"}};
  for (const auto& [arguments, phrase] : cases) {
    const Result result = run((arguments.find("--dump") == std::string::npos ? small : std::string()) + arguments,
                              "env -u DISPLAY -u WAYLAND_DISPLAY");
    INFO(arguments << ": " << result.output);
    CHECK(result.signal == 0);
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.output, Catch::Contains(phrase));
  }
}

TEST_CASE("pal-viz --compare v1,grouped draws the comparison and writes it as SVG with its numbers as text") {
  if (!have_xvfb()) return;
  const std::string small = "--backend emulator --seq-lens 20 --head-size 32 --num-heads 8 --num-kv-heads 2 --compare v1,grouped ";
  const fs::path svg = scratch() / "compare.svg";
  fs::remove(svg);
  const Result written = run(small + "--figure-only --size 1280x720 --svg '" + svg.string() + "'", kXvfb);
  INFO(written.output);
  REQUIRE(written.exit_code == 0);
  std::ifstream in(svg);
  std::stringstream text;
  text << in.rdbuf();
  // The numbers pal-run --compare prints for this scenario (tests/tools/test_pal_run_grouped.cpp),
  // each word its own text element.
  for (const char* word : {">16.0</text>", ">2.5</text>", ">(4.00x)</text>", ">(1.00x)</text>", ">head</text>"})
    CHECK_THAT(text.str(), Catch::Contains(word));
  CHECK_THAT(text.str(), Catch::EndsWith("</svg>\n"));
  const fs::path png = scratch() / "compare.png";
  const Result shot = run(small + "--screenshot '" + png.string() + "'", kXvfb);
  INFO(shot.output);
  CHECK(shot.exit_code == 0);
  CHECK(distinct_colours(load_png(png)) >= 8);
}
