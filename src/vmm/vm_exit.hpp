// How a VM's end becomes the exit status of its process (`moat run`, a VM of a system): one
// of protocol/exit_status.hpp.
#pragma once

#include <string>

#include "base/result.hpp"
#include "vmm/machine.hpp"

namespace moat::vmm {

// Prints why the VM ended when that is worth a line (a failure, a signal, or always if
// verbose), prefixed by `who` ("" or "web: "), and returns the exit status.
int vm_exit_status(const VmExit& end, const std::string& who, bool verbose);

}  // namespace moat::vmm
