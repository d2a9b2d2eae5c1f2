// The command line of every program: one parse that turns every usage error into exit code 2.
//
// CLI11's own exit codes for parse errors are 104-115 (one per error kind); this project promises
// one code for every usage or input error, 2 (README, "Exit codes"). parse_command_line prints
// CLI11's message, names the program and points to --help; --help itself exits with 0.
//
//   if (auto exit_code = parse_command_line(app, argc, argv)) return *exit_code;
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace CLI {
class App;
}

namespace pal {

inline constexpr int kExitUsageError = 2;  // bad flags or bad input files, in every program

// Parses; returns the code main() should return now (0 after --help, 2 after an error), or
// nullopt when the program should go on.
std::optional<int> parse_command_line(CLI::App& app, int argc, const char* const* argv);

// A size limit given in MiB as bytes. Throws ScenarioError naming `flag` unless 0 < mib <= max_mib
// (NaN, inf, negative or zero sizes would otherwise become an undefined or meaningless cast).
std::size_t mib_flag_to_bytes(std::string_view flag, double mib, double max_mib = 1 << 20);

}  // namespace pal
