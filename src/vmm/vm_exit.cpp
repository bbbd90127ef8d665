// How a VM's end becomes an exit status.
#include "vmm/vm_exit.hpp"

#include <cstdio>
#include <cstring>

#include "protocol/exit_status.hpp"

namespace moat::vmm {

const char* to_string(ExitReason r)
{
    switch (r) {
    case ExitReason::PowerOff: return "power off";
    case ExitReason::Reset: return "reset";
    case ExitReason::TripleFault: return "triple fault";
    case ExitReason::InternalError: return "KVM internal error";
    case ExitReason::Signal: return "signal";
    case ExitReason::UserQuit: return "quit from the console";
    case ExitReason::HostError: return "host error";
    }
    return "?";
}

using protocol::k_exit_vm_failed;

int vm_exit_status(const VmExit& end, const std::string& who, bool verbose)
{
    const char* w = who.c_str();
    switch (end.reason) {
    case ExitReason::PowerOff:
    case ExitReason::Reset:
    case ExitReason::UserQuit:
        if (verbose) std::fprintf(stderr, "moat: %sguest ended: %s\n", w, to_string(end.reason));
        return protocol::k_exit_guest_ended;
    case ExitReason::Signal:
        std::fprintf(stderr, "moat: %sstopped by signal %d (%s)\n", w, end.signal, strsignal(end.signal));
        return protocol::k_exit_signal_base + end.signal;
    case ExitReason::TripleFault:
        std::fprintf(stderr, "moat: %sthe guest triple faulted (KVM_EXIT_SHUTDOWN); the VM was stopped\nmoat: %s%s\n", w,
                     w, end.detail.c_str());
        return k_exit_vm_failed;
    case ExitReason::InternalError:
        std::fprintf(stderr, "moat: %sKVM could not run the guest: %s\n", w, end.detail.c_str());
        return k_exit_vm_failed;
    case ExitReason::HostError:
        std::fprintf(stderr, "moat: %shost error: %s\n", w, end.detail.c_str());
        return k_exit_vm_failed;
    }
    return k_exit_vm_failed;
}

}  // namespace moat::vmm
