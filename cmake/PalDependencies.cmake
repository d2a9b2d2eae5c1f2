# Every dependency comes from a Debian package and is found, never vendored or downloaded.
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(Catch2 2 REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS fiber context)
find_package(Threads REQUIRED)
