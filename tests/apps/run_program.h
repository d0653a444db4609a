// Runs one of the built programs (apps/plot, apps/demo, ...) as a process, for tests of their
// command lines: exit status, stdout and stderr. PX_APPS_DIR is the programs' build folder.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "common/text_file.h"
#include "temp_dir.h"

namespace px::test_support {

struct Ran {
  int code = -1;  // exit status; -1 when killed by a signal
  std::string out, err;
};

// Runs <PX_APPS_DIR>/<program> with `args` (no single quotes in them); its output is kept in `dir`.
inline Ran run_program(const std::string& program, const std::vector<std::string>& args, const TempDir& dir) {
  std::string command = std::string(PX_APPS_DIR) + "/" + program;
  for (const std::string& a : args) command += " '" + a + "'";
  const std::string out = dir.file(program + ".out"), err = dir.file(program + ".err");
  command += " >" + out + " 2>" + err;
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, apps::read_text_file(out), apps::read_text_file(err)};
}

}  // namespace px::test_support
