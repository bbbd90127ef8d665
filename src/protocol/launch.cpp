// The launch message to a VM process, the sending side: `moat run` and the monitor (see
// launch.hpp; launch_receive.cpp is the VM process's side).
#include "protocol/launch.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>

#include "protocol/fdpass.hpp"
#include "protocol/limits.hpp"
#include "protocol/programs.hpp"

namespace moat::protocol {

std::string encode_launch(const VmLaunch& l, bool initrd, bool listener, bool connector)
{
    std::string s = "name " + l.name + "\nmemory " + std::to_string(l.memory) + "\ncpus " +
                    std::to_string(l.cpus) + "\ninitrd " + (initrd ? "1" : "0") + "\n";
    for (DiskAccess a : l.disks) s += std::string("disk ") + to_string(a) + "\n";
    if (l.supervision == Supervision::Standalone) s += "standalone 1\n";
    if (l.verbose) s += "verbose 1\n";
    if (l.console_budget != k_console_budget) s += "console " + std::to_string(l.console_budget) + "\n";
    if (!l.jail) s += "jail 0\n";
    s += "uidbase " + std::to_string(l.uid_base) + "\n";
    if (l.vsock_cid != 0)
        s += "vsock " + std::to_string(l.vsock_cid) + (listener ? " 1" : " 0") + (connector ? " 1\n" : " 0\n");
    for (const ChannelEnd& c : l.channels)
        s += std::string("channel ") + (c.outgoing ? "out " : "in ") + std::to_string(c.peer_cid) + " " +
             std::to_string(c.port) + "\n";
    for (const base::Mac& m : l.nets) s += "net " + base::format_mac(m) + "\n";
    if (l.container) s += "container 1\n";
    for (const auto& [input, text] : l.input_names) {
        std::string t = text;
        std::replace(t.begin(), t.end(), '\n', '?');
        s += "input " + input + "=" + t + "\n";
    }
    s += "cmdline " + l.cmdline + "\n";
    return s;
}

Result<void> send_launch(int sock, const VmLaunch& l, const LaunchFds& fds)
{
    const bool monitored = l.supervision == Supervision::Monitored;
    if (!check_memory(l.memory) || l.memory != round_memory(l.memory))
        return fail(Errc::InvalidInput, "launch: memory out of range or not whole pages");
    if (!check_cpus(l.cpus)) return fail(Errc::InvalidInput, "launch: vCPU count out of range");
    if (!check_uid_base(l.uid_base)) return fail(Errc::InvalidInput, "launch: uid base out of range");
    if (l.console_budget > k_max_console_budget) return fail(Errc::InvalidInput, "launch: console budget out of range");
    if (fds.kvm < 0 || fds.kernel < 0) return fail(Errc::InvalidInput, "launch: no /dev/kvm or kernel descriptor");
    if (fds.disks.size() != l.disks.size()) return fail(Errc::InvalidInput, "launch: not one descriptor per disk");
    if (monitored != (fds.console_out >= 0) || monitored != (fds.console_log >= 0))
        return fail(Errc::InvalidInput, "launch: console descriptors go with a monitored VM, and only with one");
    if (l.vsock_cid != 0 && !check_cid(l.vsock_cid)) return fail(Errc::InvalidInput, "launch: vsock CID out of range");
    if (l.vsock_cid == 0 && (fds.vsock_listener >= 0 || fds.vsock_connector >= 0 || !l.channels.empty()))
        return fail(Errc::InvalidInput, "launch: vsock descriptors or channels without a vsock CID");
    if (l.channels.size() > k_max_launch_channels || fds.channels.size() != l.channels.size())
        return fail(Errc::InvalidInput, "launch: not one link per channel, or too many channels");
    for (const ChannelEnd& c : l.channels)
        if (!check_cid(c.peer_cid) || c.peer_cid == l.vsock_cid || c.port == 0xffffffff)
            return fail(Errc::InvalidInput, "launch: a channel's CID or port is out of range");

    if (l.nets.size() > k_max_launch_nets || fds.taps.size() != l.nets.size())
        return fail(Errc::InvalidInput, "launch: not one tap per network interface, or too many interfaces");
    for (const base::Mac& m : l.nets)
        if (base::check_mac(m)) return fail(Errc::InvalidInput, "launch: a network interface's MAC is not unicast");

    if (l.container && l.supervision != Supervision::Standalone)
        return fail(Errc::InvalidInput, "launch: a container's VM is not a system's");
    if (l.container != (fds.ready >= 0) || l.container != (fds.start >= 0))
        return fail(Errc::InvalidInput, "launch: ready and start descriptors go with a container, and only with one");

    std::vector<int> raw{fds.kvm, fds.kernel};
    if (fds.initrd >= 0) raw.push_back(fds.initrd);
    raw.insert(raw.end(), fds.disks.begin(), fds.disks.end());
    if (monitored) {
        raw.push_back(fds.console_out);
        raw.push_back(fds.console_log);
    }
    for (int fd : {fds.vsock_listener, fds.vsock_connector})
        if (fd >= 0) raw.push_back(fd);
    raw.insert(raw.end(), fds.channels.begin(), fds.channels.end());
    raw.insert(raw.end(), fds.taps.begin(), fds.taps.end());
    if (l.container) raw.insert(raw.end(), {fds.ready, fds.start});
    const std::string payload = encode_launch(l, fds.initrd >= 0, fds.vsock_listener >= 0, fds.vsock_connector >= 0);
    return send_message(sock, std::as_bytes(std::span(payload.data(), payload.size())), raw);
}

bool install_launch_socket(int fd)
{
    // dup2 onto itself would keep FD_CLOEXEC: clear it instead.
    const bool moved = fd == k_launch_fd ? ::fcntl(k_launch_fd, F_SETFD, 0) == 0 : ::dup2(fd, k_launch_fd) == k_launch_fd;
    if (moved) ::close_range(k_launch_fd + 1, ~0u, 0);
    return moved;
}

std::string exec_vm(const VmLaunch& l, const LaunchFds& fds)
{
    const std::string exe = program_path(k_vmm_program);
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return std::string("socketpair: ") + std::strerror(errno);
    base::UniqueFd mine(sv[0]), theirs(sv[1]);
    if (auto r = send_launch(mine.get(), l, fds); !r) return "handing over descriptors: " + describe(r.error());
    mine.reset();  // the message stays queued for the receiving end
    if (!install_launch_socket(theirs.get())) return std::string("passing the launch socket: ") + std::strerror(errno);
    std::fflush(nullptr);
    const char* argv[] = {"moat-vmm", nullptr};
    ::execv(exe.c_str(), const_cast<char* const*>(argv));
    return "cannot start the VM process '" + exe + "': " + std::strerror(errno);
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

}  // namespace moat::protocol
