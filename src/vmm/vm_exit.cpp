// How a VM's end becomes an exit status.
#include "vmm/vm_exit.hpp"

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

ExitReport exit_report(const VmExit& end)
{
    switch (end.reason) {
    case ExitReason::PowerOff:
    case ExitReason::Reset:
    case ExitReason::UserQuit:
        return {protocol::k_exit_guest_ended, std::string("guest ended: ") + to_string(end.reason), false};
    case ExitReason::Signal:
        return {protocol::k_exit_signal_base + end.signal,
                "stopped by signal " + std::to_string(end.signal) + " (" + strsignal(end.signal) + ")", true};
    case ExitReason::TripleFault:
        return {k_exit_vm_failed, "the guest triple faulted (KVM_EXIT_SHUTDOWN); the VM was stopped\n" + end.detail, true};
    case ExitReason::InternalError: return {k_exit_vm_failed, "KVM could not run the guest: " + end.detail, true};
    case ExitReason::HostError: return {k_exit_vm_failed, "host error: " + end.detail, true};
    }
    return {k_exit_vm_failed, "ended for an unknown reason", true};
}

}  // namespace moat::vmm
