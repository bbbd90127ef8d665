// `moat up`, `moat policy check` and the control commands (`ls`, `stop`, `down`, `console`).
#pragma once

#include <string>

namespace moat::cli {

// `moat up MANIFEST [--state DIR]`: execs moat-monitor in this process's place. state_dir
// empty: `state/` beside the manifest. Returns only when the monitor could not be started.
int up_main(const std::string& manifest, const std::string& state_dir, bool no_jail);
// `moat policy check MANIFEST`: every decision the monitor would take before start, and why.
int policy_check_main(const std::string& manifest);

// Control commands. state_dir empty: the system this user started last.
int ls_main(const std::string& state_dir);
int stop_main(const std::string& state_dir, const std::string& vm);
int down_main(const std::string& state_dir);
int console_main(const std::string& state_dir, const std::string& vm);

}  // namespace moat::cli
