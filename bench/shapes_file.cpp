#include "bench/shapes_file.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

namespace pal::bench {

namespace {

using json = nlohmann::json;

// The scenario's own fields, checked by core; in this order so that kv_cache_dtype, when given,
// overrides the cache dtype that dtype sets.
constexpr std::array<std::string_view, 8> kScenarioFields = {"num_seqs",   "num_heads", "num_kv_heads",
                                                             "head_size",  "block_size", "dtype",
                                                             "kv_cache_dtype", "version"};
// Scenario fields a benchmark shape fixes (make_scenario in bench_model.h).
constexpr std::array<std::string_view, 7> kFixedScenarioFields = {"seq_lens", "num_blocks",     "alibi", "scale",
                                                                  "seed",     "num_threads", "partition_size"};
constexpr std::string_view kKnownFields =
    "label, num_heads, num_kv_heads, head_size, block_size, num_seqs, context_len, dtype, kv_cache_dtype, version";
constexpr std::size_t kMaxProblemsShown = 40;

// The primary grid's centre (bench_model.h's BenchShape defaults), as a scenario.
Scenario default_scenario() {
  const BenchShape centre;
  Scenario s;
  s.num_seqs = centre.batch;
  s.num_heads = centre.num_heads;
  s.num_kv_heads = centre.num_kv_heads;
  s.head_size = centre.head_size;
  s.block_size = centre.block_size;
  s.dtype = centre.dtype;
  s.kv_cache_dtype = centre.cache_format();
  s.seq_lens = {centre.context_len};
  s.num_blocks = 0;
  s.version = KernelVersion::automatic;
  return s;
}

std::string describe(const json& value) {
  std::string text = value.dump(-1, ' ', true, json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

std::optional<int> int_value(const json& value) {
  if (value.is_number_unsigned())
    return value.get<std::uint64_t>() <= std::uint64_t(std::numeric_limits<int>::max())
               ? std::optional<int>(int(value.get<std::uint64_t>()))
               : std::nullopt;
  if (!value.is_number_integer()) return std::nullopt;
  const auto wide = value.get<std::int64_t>();
  if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max()) return std::nullopt;
  return int(wide);
}

bool is_scenario_field(std::string_view key) {
  return std::find(kScenarioFields.begin(), kScenarioFields.end(), key) != kScenarioFields.end();
}

// Labels are echoed to terminals and written into CSV and Markdown cells.
std::optional<std::string> label_problem(const json& value) {
  if (!value.is_string()) return "field 'label' must be a string, got " + describe(value);
  const std::string& text = value.get_ref<const std::string&>();
  if (text.empty() || text.size() > kMaxLabelLength)
    return "label " + describe(value) + " must have 1 to " + std::to_string(kMaxLabelLength) + " characters";
  for (char c : text)
    if (c < 0x20 || c > 0x7e || c == ',' || c == '"' || c == '\\' || c == '|')
      return "label " + describe(value) +
             " may hold printable ASCII only, without commas, quotes, backslashes or '|'";
  return std::nullopt;
}

// Problems of one entry; fills `shape` when there are none.
std::vector<std::string> check_entry(const json& entry, std::size_t index, UserShape& shape) {
  std::vector<std::string> problems;
  if (!entry.is_object()) return {"a shape must be an object of fields, got " + describe(entry)};

  Scenario s = default_scenario();
  int context_len = s.seq_lens.front();
  bool has_version = false;
  shape.label = "shape " + std::to_string(index + 1);
  for (const auto& [key, value] : entry.items()) {
    if (is_scenario_field(key)) continue;  // below, in kScenarioFields order
    if (key == "context_len") {
      if (const std::optional<int> tokens = int_value(value)) context_len = *tokens;
      else problems.push_back("field 'context_len' (tokens of every sequence) must be an integer, got " + describe(value));
    } else if (key == "label") {
      if (auto problem = label_problem(value)) problems.push_back(*problem);
      else shape.label = value.get<std::string>();
    } else if (std::find(kFixedScenarioFields.begin(), kFixedScenarioFields.end(), key) != kFixedScenarioFields.end()) {
      problems.push_back("field '" + key +
                         "' is a scenario field pal-bench does not vary: every sequence has context_len tokens, "
                         "the pool holds exactly the blocks they need, no ALiBi, the default scale and seed; "
                         "known fields: " + std::string(kKnownFields));
    } else {
      problems.push_back("unknown field '" + key.substr(0, 40) + "'; known fields: " + std::string(kKnownFields));
    }
  }
  // Types and names through core's scenario reader, one field at a time so each bad field is told.
  for (std::string_view field : kScenarioFields) {
    const auto found = entry.find(std::string(field));
    if (found == entry.end()) continue;
    try {
      s = scenario_from_json(json{{std::string(field), *found}}, s);
      if (field == "version") has_version = true;
    } catch (const ScenarioError& error) {
      problems.emplace_back(error.what());
    }
  }
  if (!problems.empty()) return problems;

  // Values through core's validation, without its host-memory limit. First with one sequence, so
  // the context length is judged once (core names it seq_lens[0]; here it is context_len).
  constexpr std::int64_t kNoHostLimit = std::numeric_limits<std::int64_t>::max();
  const int num_seqs = s.num_seqs;
  Scenario one_sequence = s;
  one_sequence.num_seqs = 1;
  one_sequence.seq_lens = {context_len};
  for (std::string problem : scenario_problems(one_sequence, kNoHostLimit)) {
    const std::string core_name = "seq_lens[0]";
    if (problem.rfind(core_name, 0) == 0) problem = "context_len" + problem.substr(core_name.size());
    problems.push_back(std::move(problem));
  }
  // Then the batch, with contexts every rule accepts, so that only its own problems are new.
  Scenario batch = one_sequence;
  batch.num_seqs = num_seqs;
  batch.seq_lens.assign(num_seqs >= 1 && num_seqs <= kMaxNumSeqs ? std::size_t(num_seqs) : 1, 1);
  for (const std::string& problem : scenario_problems(batch, kNoHostLimit))
    if (std::find(problems.begin(), problems.end(), problem) == problems.end()) problems.push_back(problem);
  if (!problems.empty()) return problems;

  // The benchmark allocates exactly the blocks the sequences need, numbered in an int32 table.
  const std::int64_t blocks =
      std::int64_t{num_seqs} * ((std::int64_t{context_len} + s.block_size - 1) / s.block_size);
  if (blocks > std::numeric_limits<int>::max())
    return {"num_seqs = " + std::to_string(num_seqs) + " sequences of context_len = " + std::to_string(context_len) +
            " tokens need " + std::to_string(blocks) + " KV blocks of " + std::to_string(s.block_size) +
            " tokens, more than the " + std::to_string(std::numeric_limits<int>::max()) +
            " an int32 block table can number; shrink num_seqs or context_len"};

  shape.shape.dtype = s.dtype;
  if (is_fp8(s.kv_cache_dtype)) shape.shape.kv_cache_dtype = s.kv_cache_dtype;
  shape.shape.num_heads = s.num_heads;
  shape.shape.num_kv_heads = s.num_kv_heads;
  shape.shape.head_size = s.head_size;
  shape.shape.block_size = s.block_size;
  shape.shape.batch = num_seqs;
  shape.shape.context_len = context_len;
  if (has_version) shape.versions = {std::string(version_name(s.version))};
  return problems;
}

// ---- CSV --------------------------------------------------------------------------------------------

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

std::vector<std::string_view> split_cells(std::string_view line) {
  std::vector<std::string_view> cells;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = line.find(',', start);
    cells.push_back(trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) return cells;
    start = comma + 1;
  }
}

// A cell as the JSON value it spells: an integer, a decimal number, or else a string.
json cell_value(std::string_view cell) {
  std::int64_t integer = 0;
  const char* end = cell.data() + cell.size();
  if (auto [ptr, error] = std::from_chars(cell.data(), end, integer); error == std::errc{} && ptr == end)
    return json(integer);
  double number = 0;
  if (auto [ptr, error] = std::from_chars(cell.data(), end, number); error == std::errc{} && ptr == end)
    return json(number);
  return json(std::string(cell));
}

struct CsvEntry {
  json object;
  std::size_t line = 0;  // 1-based
};

// The entries of a CSV text, or throws ScenarioError for a malformed header or row.
std::vector<CsvEntry> csv_entries(std::string_view text, const std::string& origin,
                                  std::vector<std::string>& problems) {
  std::vector<std::string> header;
  std::size_t header_line = 0;
  std::vector<CsvEntry> entries;
  std::size_t line_number = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t newline = text.find('\n', start);
    const std::string_view line =
        trim(text.substr(start, newline == std::string_view::npos ? std::string_view::npos : newline - start));
    ++line_number;
    start = newline == std::string_view::npos ? text.size() + 1 : newline + 1;
    if (line.empty() || line.front() == '#') continue;
    const std::string where = "line " + std::to_string(line_number) + ": ";
    if (line.find('"') != std::string_view::npos) {
      problems.push_back(where + "quotes are not supported; write plain comma-separated values");
      continue;
    }
    const std::vector<std::string_view> cells = split_cells(line);
    if (header.empty()) {
      header_line = line_number;
      for (std::string_view cell : cells) {
        const std::string name(cell);
        if (name != "context_len" && name != "label" && !is_scenario_field(name))
          throw ScenarioError("shapes file '" + origin + "', line " + std::to_string(line_number) +
                              " (the header): unknown field '" + name.substr(0, 40) + "'; known fields: " +
                              std::string(kKnownFields));
        if (std::find(header.begin(), header.end(), name) != header.end())
          throw ScenarioError("shapes file '" + origin + "', line " + std::to_string(line_number) +
                              " (the header): field '" + name + "' appears twice");
        header.push_back(name);
      }
      continue;
    }
    if (cells.size() != header.size()) {
      problems.push_back(where + std::to_string(cells.size()) + " cells, but the header (line " +
                         std::to_string(header_line) + ") names " + std::to_string(header.size()) + " fields");
      continue;
    }
    if (entries.size() == kMaxShapes)
      throw ScenarioError("shapes file '" + origin + "' has more than " + std::to_string(kMaxShapes) +
                          " shapes; split it into several runs");
    CsvEntry entry{json::object(), line_number};
    for (std::size_t i = 0; i < cells.size(); ++i)
      if (!cells[i].empty()) entry.object[header[i]] = cell_value(cells[i]);
    entries.push_back(std::move(entry));
  }
  if (header.empty())
    throw ScenarioError("shapes file '" + origin + "' has no header line; the first line names the fields, e.g. " +
                        "num_heads,num_kv_heads,head_size,num_seqs,context_len");
  return entries;
}

// The deepest nesting of arrays and objects in a JSON text, strings skipped. nlohmann's parser
// copes with any depth, but printing or copying a value recurses once per level, so a hostile file
// could exhaust the stack in an error message; a list of shapes needs 3 levels.
std::size_t json_nesting_depth(std::string_view text) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}
constexpr std::size_t kMaxJsonDepth = 8;

std::string shape_key(const UserShape& shape) {
  std::string key = shape.shape.name();
  for (const std::string& version : shape.versions) key += "/" + version;
  return key;
}

}  // namespace

std::vector<UserShape> parse_shapes(std::string_view text, ShapesFormat format, const std::string& origin) {
  if (text.size() > kMaxShapesFileBytes)
    throw ScenarioError("shapes file '" + origin + "' is " + std::to_string(text.size()) + " bytes; at most " +
                        std::to_string(kMaxShapesFileBytes) + " are read");
  std::vector<std::string> problems;
  std::vector<json> objects;
  std::vector<std::string> places;  // "shape 3" or "shape 3 (line 5)"
  if (format == ShapesFormat::csv) {
    for (CsvEntry& entry : csv_entries(text, origin, problems)) {
      places.push_back("shape " + std::to_string(objects.size() + 1) + " (line " + std::to_string(entry.line) + ")");
      objects.push_back(std::move(entry.object));
    }
  } else {
    if (const std::size_t depth = json_nesting_depth(text); depth > kMaxJsonDepth)
      throw ScenarioError("shapes file '" + origin + "' nests arrays and objects " + std::to_string(depth) +
                          " levels deep; a list of shapes needs 3 (an array of objects of numbers and strings)");
    json parsed;
    try {
      parsed = json::parse(text.begin(), text.end());
    } catch (const json::exception& error) {
      throw ScenarioError("shapes file '" + origin + "' is not valid JSON: " + error.what());
    }
    if (parsed.is_object() && parsed.size() == 1 && parsed.contains("shapes")) parsed = json(parsed["shapes"]);
    if (!parsed.is_array())
      throw ScenarioError("shapes file '" + origin + "' must hold an array of shapes, or {\"shapes\": [...]}; got " +
                          describe(parsed));
    if (parsed.size() > kMaxShapes)
      throw ScenarioError("shapes file '" + origin + "' has " + std::to_string(parsed.size()) + " shapes; at most " +
                          std::to_string(kMaxShapes) + " (split it into several runs)");
    for (json& entry : parsed) {
      places.push_back("shape " + std::to_string(objects.size() + 1));
      objects.push_back(std::move(entry));
    }
  }

  std::vector<UserShape> shapes;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    UserShape shape;
    const std::vector<std::string> entry_problems = check_entry(objects[i], i, shape);
    for (const std::string& problem : entry_problems) problems.push_back(places[i] + ": " + problem);
    if (!entry_problems.empty()) continue;
    for (const UserShape& earlier : shapes)
      if (shape_key(earlier) == shape_key(shape))
        problems.push_back(places[i] + ": repeats " + earlier.label + " (" + shape_key(shape) + ")");
    shapes.push_back(std::move(shape));
  }
  if (problems.empty() && shapes.empty())
    throw ScenarioError("shapes file '" + origin + "' holds no shapes");
  if (!problems.empty()) {
    std::string message = "shapes file '" + origin + "' has " + std::to_string(problems.size()) +
                          (problems.size() == 1 ? " problem:" : " problems:");
    for (std::size_t i = 0; i < problems.size() && i < kMaxProblemsShown; ++i) message += "\n  " + problems[i];
    if (problems.size() > kMaxProblemsShown)
      message += "\n  ... and " + std::to_string(problems.size() - kMaxProblemsShown) + " more";
    throw ScenarioError(message);
  }
  return shapes;
}

std::vector<UserShape> load_shapes_file(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error))
    throw ScenarioError("shapes file '" + path + "' does not exist or is not a regular file");
  const auto size = std::filesystem::file_size(path, error);
  if (error) throw ScenarioError("cannot read the size of shapes file '" + path + "': " + error.message());
  if (size > kMaxShapesFileBytes)
    throw ScenarioError("shapes file '" + path + "' is " + std::to_string(size) + " bytes; at most " +
                        std::to_string(kMaxShapesFileBytes) + " are read (a list of shapes is a few KB)");
  std::ifstream file(path, std::ios::binary);
  if (!file) throw ScenarioError("cannot open shapes file '" + path + "'");
  // Read at most one byte more than allowed: a file that grew since file_size() is still bounded.
  std::string text(kMaxShapesFileBytes + 1, '\0');
  file.read(text.data(), std::streamsize(text.size()));
  text.resize(std::size_t(file.gcount()));
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return parse_shapes(text, extension == ".csv" ? ShapesFormat::csv : ShapesFormat::json, path);
}

}  // namespace pal::bench
