// The exit status of a VM process, shared by `moat run` (whose status it becomes) and the
// monitor (which reads it from a VM process's wait status).
#pragma once

namespace moat::protocol {

inline constexpr int k_exit_guest_ended = 0;  // the guest powered off or reset, or the user quit
inline constexpr int k_exit_vm_failed = 1;    // triple fault, KVM error, host error
inline constexpr int k_exit_usage = 2;        // bad input: the VM could not be built
inline constexpr int k_exit_signal_base = 128;  // 128+N: stopped by signal N

}  // namespace moat::protocol
