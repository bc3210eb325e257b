// sparrow: the command-line client of Sparrow (cli/README.md).
//
//   sparrow register alice && sparrow friend add bob && sparrow chat bob
//
// Needs the REST service (--server, SPARROW_SERVER) and the MQTT broker (--mqtt,
// SPARROW_MQTT) of a running stack (`./sparrow up` from a checkout, whose launcher passes
// every command it does not own to this binary). Keeps credentials and per-device state in
// $SPARROW_HOME (~/.sparrow).
#include "cli/app.hpp"
#include "cli/terminal.hpp"

int main(int argc, char** argv) {
  sparrow::cli::InstallSignalHandling();  // before any thread exists
  return sparrow::cli::RunApp(argc, argv);
}
