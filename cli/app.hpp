// The `sparrow` command line: flags, subcommands and exit codes (cli/README.md), over the
// commands of commands.hpp. main() only installs signal handling and calls RunApp.
#pragma once

namespace sparrow::cli {

// Parses argv and runs the command. Exit codes: 0 done, 1 failed, 2 usage error. Prints
// errors as one line on stderr: "sparrow: error: ...".
int RunApp(int argc, char** argv);

}  // namespace sparrow::cli
