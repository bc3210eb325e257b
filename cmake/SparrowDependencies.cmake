# Every third-party library Sparrow uses, as imported targets. All come from Debian 12 packages
# that scripts/install-deps.sh installs (see docs/DEPENDENCIES in the README).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(SOCI REQUIRED)
find_package(PahoMqttCpp REQUIRED)
find_package(prometheus-cpp REQUIRED)
find_package(tomlplusplus QUIET)

pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
pkg_check_modules(MOSQUITTO REQUIRED IMPORTED_TARGET libmosquitto)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)

if(SPARROW_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(SPARROW_BUILD_BENCH)
  find_package(benchmark QUIET)
endif()
