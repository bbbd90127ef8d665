// How a VM's end becomes an exit status.
#include "cli/vm_exit.hpp"

#include <cstdio>
#include <cstring>

namespace moat::cli {

int vm_exit_status(const vmm::VmExit& end, const std::string& who, bool verbose)
{
    const char* w = who.c_str();
    switch (end.reason) {
    case vmm::ExitReason::PowerOff:
    case vmm::ExitReason::Reset:
    case vmm::ExitReason::UserQuit:
        if (verbose) std::fprintf(stderr, "moat: %sguest ended: %s\n", w, vmm::to_string(end.reason));
        return 0;
    case vmm::ExitReason::Signal:
        std::fprintf(stderr, "moat: %sstopped by signal %d (%s)\n", w, end.signal, strsignal(end.signal));
        return 128 + end.signal;
    case vmm::ExitReason::TripleFault:
        std::fprintf(stderr, "moat: %sthe guest triple faulted (KVM_EXIT_SHUTDOWN); the VM was stopped\nmoat: %s%s\n", w,
                     w, end.detail.c_str());
        return k_exit_vm_failed;
    case vmm::ExitReason::InternalError:
        std::fprintf(stderr, "moat: %sKVM could not run the guest: %s\n", w, end.detail.c_str());
        return k_exit_vm_failed;
    case vmm::ExitReason::HostError:
        std::fprintf(stderr, "moat: %shost error: %s\n", w, end.detail.c_str());
        return k_exit_vm_failed;
    }
    return k_exit_vm_failed;
}

}  // namespace moat::cli
