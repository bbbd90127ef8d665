// moat's programs and how they find each other: every program is installed in one directory,
// and one starts another by its path beside itself, never through $PATH.
#pragma once

#include <string>
#include <string_view>

namespace moat::protocol {

inline constexpr std::string_view k_vmm_program = "moat-vmm";          // one VM
inline constexpr std::string_view k_monitor_program = "moat-monitor";  // one system of VMs
inline constexpr std::string_view k_pump_program = "moat-pump";        // one one-way channel

// The command line a guest gets when none is given (`moat run`, a manifest's VM without
// `cmdline`): the serial console, reboot through the i8042, no PCI, and an i8042 driver that
// does not probe for devices moat does not have.
inline constexpr const char* k_default_cmdline =
    "console=ttyS0 reboot=k panic=1 pci=off i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd";

// `name` in the directory of the running program (from /proc/self/exe); "" when that cannot be
// read, so that the exec fails rather than run a program relative to the working directory.
std::string program_path(std::string_view name);

}  // namespace moat::protocol
