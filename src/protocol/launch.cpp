// The launch message to a VM process (see launch.hpp).
#include "vmm/launch.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace moat::vmm {

std::string encode_launch(const VmLaunch& l)
{
    std::string s = "name " + l.name + "\nmemory " + std::to_string(l.memory) + "\ncpus " +
                    std::to_string(l.cpus) + "\ninitrd " + (l.initrd ? "1" : "0") + "\n";
    for (bool w : l.disk_writable) s += w ? "disk rw\n" : "disk ro\n";
    if (l.standalone) s += "standalone 1\n";
    if (l.verbose) s += "verbose 1\n";
    for (const auto& [input, text] : l.input_names) {
        std::string t = text;
        std::replace(t.begin(), t.end(), '\n', '?');
        s += "input " + input + "=" + t + "\n";
    }
    s += "cmdline " + l.cmdline + "\n";
    return s;
}

Result<VmLaunch> decode_launch(std::string_view text)
{
    VmLaunch l;
    bool have_name = false, have_memory = false, have_cmdline = false;
    while (!text.empty()) {
        std::size_t nl = text.find('\n');
        if (nl == std::string_view::npos) return fail(Errc::InvalidInput, "launch message: unterminated line");
        const auto sp = text.find(' ');
        if (sp == std::string_view::npos || sp > nl) return fail(Errc::InvalidInput, "launch message: line without a value");
        const std::string_view key = text.substr(0, sp);
        if (key == "cmdline") nl = text.size() - 1;  // the last field, to the final newline
        const std::string_view value = text.substr(sp + 1, nl - sp - 1);
        if (text[nl] != '\n') return fail(Errc::InvalidInput, "launch message: unterminated command line");
        text.remove_prefix(nl + 1);
        auto number = [&](std::uint64_t& out) {
            auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
            return ec == std::errc() && p == value.data() + value.size();
        };
        auto flag = [&](bool& out) {
            if (value != "0" && value != "1") return false;
            out = value == "1";
            return true;
        };
        if (key == "name") {
            l.name = value;
            have_name = true;
        } else if (key == "memory") {
            if (!number(l.memory)) return fail(Errc::InvalidInput, "launch message: bad memory");
            have_memory = true;
        } else if (key == "cpus") {
            std::uint64_t c = 0;
            if (!number(c) || c == 0 || c > 255) return fail(Errc::InvalidInput, "launch message: bad cpus");
            l.cpus = static_cast<std::uint32_t>(c);
        } else if (key == "initrd") {
            if (!flag(l.initrd)) return fail(Errc::InvalidInput, "launch message: bad initrd flag");
        } else if (key == "disk") {
            if (value != "ro" && value != "rw") return fail(Errc::InvalidInput, "launch message: bad disk mode");
            l.disk_writable.push_back(value == "rw");
        } else if (key == "standalone") {
            if (!flag(l.standalone)) return fail(Errc::InvalidInput, "launch message: bad standalone flag");
        } else if (key == "verbose") {
            if (!flag(l.verbose)) return fail(Errc::InvalidInput, "launch message: bad verbose flag");
        } else if (key == "input") {
            const auto eq = value.find('=');
            if (eq == 0 || eq == std::string_view::npos) return fail(Errc::InvalidInput, "launch message: bad input name");
            if (l.input_names.size() == kMaxLaunchInputNames)
                return fail(Errc::InvalidInput, "launch message: too many input names");
            l.input_names[std::string(value.substr(0, eq))] = value.substr(eq + 1);
        } else if (key == "cmdline") {
            l.cmdline = value;
            have_cmdline = true;
        } else {
            return fail(Errc::InvalidInput, "launch message: unknown key");
        }
    }
    if (!have_name || !have_memory || !have_cmdline) return fail(Errc::InvalidInput, "launch message incomplete");
    return l;
}

bool install_launch_socket(int fd)
{
    // dup2 onto itself would keep FD_CLOEXEC: clear it instead.
    const bool moved = fd == kLaunchFd ? ::fcntl(kLaunchFd, F_SETFD, 0) == 0 : ::dup2(fd, kLaunchFd) == kLaunchFd;
    if (moved) ::close_range(kLaunchFd + 1, ~0u, 0);
    return moved;
}

std::size_t launch_fd_count(const VmLaunch& l)
{
    return 2 + (l.initrd ? 1 : 0) + l.disk_writable.size() + (l.standalone ? 0 : 2);
}

std::string dev_kvm_error(int err)
{
    if (err == ENOENT)
        return "/dev/kvm does not exist: this host has no KVM (load kvm_intel or kvm_amd, or run where hardware "
               "virtualization is available)";
    std::string s = std::string("/dev/kvm: ") + std::strerror(err);
    if (err == EACCES) s += " (add your user to the 'kvm' group)";
    return s;
}

}  // namespace moat::vmm
