// The one way Sparrow includes SOCI (the core and the two backends we link): never include a
// <soci/...> header directly, or the workaround below may come too late.
//
// Debian's libsoci-dev 4.0.3 was built with Boost support, so its soci-config.h defines
// SOCI_HAVE_BOOST, and soci/bind-values.h then includes Boost.Fusion headers, which Sparrow
// does not install (libboost-dev is not a dependency). That switch only enables header-only
// template helpers for binding Boost.Fusion sequences, which we never use, so it is turned off
// here before any other SOCI header is read.
#pragma once

// clang-format off
#include <soci/soci-config.h>
#undef SOCI_HAVE_BOOST
#undef SOCI_HAVE_BOOST_DATE_TIME
#include <soci/soci.h>
#include <soci/mysql/soci-mysql.h>
#include <soci/sqlite3/soci-sqlite3.h>
// clang-format on
