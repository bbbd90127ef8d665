// How a VM's end becomes the exit status of its process (`moat run`, a VM of a system).
#pragma once

#include <string>

#include "base/result.hpp"
#include "vmm/machine.hpp"

namespace moat::vmm {

// Exit statuses: 0 the guest ended itself (power off, reboot) or the user quit; 1 the VM failed
// (triple fault, KVM error, host error); 2 bad input; 128+N stopped by signal N.
inline constexpr int k_exit_vm_failed = 1;
inline constexpr int k_exit_usage = 2;

// Prints why the VM ended when that is worth a line (a failure, a signal, or always if
// verbose), prefixed by `who` ("" or "web: "), and returns the exit status.
int vm_exit_status(const VmExit& end, const std::string& who, bool verbose);

}  // namespace moat::vmm
