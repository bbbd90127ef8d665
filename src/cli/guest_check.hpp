// Checks a VM's kernel, initrd and command line as its VM process will load them (boot::
// check_kernel and friends: headers only, nothing copied), so that `moat run` names a bad one
// before it asks KVM for anything and `moat policy check` names it without starting anything.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace moat::cli {

struct GuestSoftware {
    std::uint64_t memory = 0;  // guest RAM, whole pages
    int kernel_fd = -1;
    int initrd_fd = -1;        // -1: none
    std::string_view cmdline;
    // How errors name each input: "--kernel 'bzImage'", "sys.toml:5: vm.web.kernel: 'k'".
    std::string kernel_name, initrd_name, cmdline_name;
};

// The first problem, with the input's name as its context. Errc::Io when a file could not be
// read; otherwise the input is unusable (bad format, does not fit, command line too long).
Result<void> check_guest_software(const GuestSoftware& g);

}  // namespace moat::cli
