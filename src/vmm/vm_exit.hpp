// How a VM's end becomes the exit status of its process (`moat run`, a VM of a system): one
// of protocol/exit_status.hpp.
#pragma once

#include <string>

#include "base/result.hpp"
#include "vmm/machine.hpp"

namespace moat::vmm {

// What a VM's end means for its process: the exit status, and the lines that say why (more
// than one for a triple fault: the register dump follows). `always`: worth printing even when
// not verbose (a failure or a signal).
struct ExitReport {
    int status;
    std::string why;
    bool always;
};
ExitReport exit_report(const VmExit& end);

}  // namespace moat::vmm
