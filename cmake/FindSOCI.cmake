# FindSOCI: Debian's libsoci-dev 4.0.3 ships neither a CMake config nor a pkg-config file.
# Provides SOCI::core, SOCI::sqlite3 and SOCI::mysql imported targets.
find_path(SOCI_INCLUDE_DIR soci/soci.h)
find_library(SOCI_CORE_LIBRARY NAMES soci_core)
find_library(SOCI_SQLITE3_LIBRARY NAMES soci_sqlite3)
find_library(SOCI_MYSQL_LIBRARY NAMES soci_mysql)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SOCI_SQLITE3_DEP QUIET IMPORTED_TARGET sqlite3)
pkg_check_modules(SOCI_MARIADB_DEP QUIET IMPORTED_TARGET libmariadb)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(SOCI
  REQUIRED_VARS SOCI_INCLUDE_DIR SOCI_CORE_LIBRARY SOCI_SQLITE3_LIBRARY SOCI_MYSQL_LIBRARY)

if(SOCI_FOUND AND NOT TARGET SOCI::core)
  add_library(SOCI::core UNKNOWN IMPORTED)
  set_target_properties(SOCI::core PROPERTIES
    IMPORTED_LOCATION "${SOCI_CORE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${SOCI_INCLUDE_DIR};${SOCI_INCLUDE_DIR}/soci"
    INTERFACE_LINK_LIBRARIES "${CMAKE_DL_LIBS}")

  add_library(SOCI::sqlite3 UNKNOWN IMPORTED)
  set_target_properties(SOCI::sqlite3 PROPERTIES
    IMPORTED_LOCATION "${SOCI_SQLITE3_LIBRARY}"
    INTERFACE_LINK_LIBRARIES "SOCI::core;PkgConfig::SOCI_SQLITE3_DEP")

  add_library(SOCI::mysql UNKNOWN IMPORTED)
  set_target_properties(SOCI::mysql PROPERTIES
    IMPORTED_LOCATION "${SOCI_MYSQL_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "/usr/include/mariadb"
    INTERFACE_LINK_LIBRARIES "SOCI::core;PkgConfig::SOCI_MARIADB_DEP")
endif()
mark_as_advanced(SOCI_INCLUDE_DIR SOCI_CORE_LIBRARY SOCI_SQLITE3_LIBRARY SOCI_MYSQL_LIBRARY)
