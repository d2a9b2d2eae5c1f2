// Parsing the command line with one exit code for usage errors (see command_line.h).
#include "core/command_line.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>

#include "core/scenario.h"  // ScenarioError

namespace pal {

std::optional<int> parse_command_line(CLI::App& app, int argc, const char* const* argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::Success& success) {  // --help, --help-all
    return app.exit(success, std::cout, std::cerr) == 0 ? 0 : kExitUsageError;
  } catch (const CLI::ParseError& error) {
    const std::string program =
        argc > 0 && argv[0] != nullptr ? std::filesystem::path(argv[0]).filename().string() : std::string("program");
    std::fflush(stdout);
    std::cerr << program << ": " << error.what() << "\nRun '" << program << " --help' for every flag and its values.\n"
              << std::flush;
    return kExitUsageError;
  }
}

std::size_t mib_flag_to_bytes(std::string_view flag, double mib, double max_mib) {
  if (!(mib > 0.0 && mib <= max_mib)) {  // written so that NaN fails too
    std::ostringstream text;
    text.precision(12);
    text << flag << " " << mib << " is not a valid size; give a number of MiB above 0 and at most " << max_mib;
    throw ScenarioError(text.str());
  }
  return static_cast<std::size_t>(mib * 1024.0 * 1024.0);
}

}  // namespace pal
