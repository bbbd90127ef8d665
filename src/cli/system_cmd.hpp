// `moat up`, `moat policy check` and the control commands (`ls`, `stop`, `down`, `console`).
#pragma once

#include <string>

namespace moat::cli {

// `moat up MANIFEST [--state DIR]`. state_dir empty: `state/` beside the manifest.
int up_main(const std::string& manifest, const std::string& state_dir, const std::string& default_cmdline);
// `moat policy check MANIFEST`: every decision the monitor would take before start, and why.
int policy_check_main(const std::string& manifest);

// Control commands. state_dir empty: the system this user started last.
int ls_main(const std::string& state_dir);
int stop_main(const std::string& state_dir, const std::string& vm);
int down_main(const std::string& state_dir);
int console_main(const std::string& state_dir, const std::string& vm);

// The VM process's program, `moat-vmm` in the directory of the running `moat`; "" when that
// directory cannot be read from /proc/self/exe.
std::string vmm_binary();

}  // namespace moat::cli
