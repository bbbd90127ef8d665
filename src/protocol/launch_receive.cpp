// The launch message to a VM process, the receiving side: moat-vmm (see launch.hpp). Not part
// of the monitor, which only sends.
#include "protocol/launch_receive.hpp"

#include <charconv>
#include <span>

#include "protocol/fdpass.hpp"
#include "protocol/limits.hpp"

namespace moat::protocol {

namespace {

bool number(std::string_view value, std::uint64_t& out)
{
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
    return ec == std::errc() && p == value.data() + value.size();
}

bool flag(std::string_view value, bool& out)
{
    if (value != "0" && value != "1") return false;
    out = value == "1";
    return true;
}

// "vsock CID L C".
bool decode_vsock(Decoded& d, std::string_view value)
{
    const auto sp = value.find(' ');
    std::uint64_t cid = 0;
    if (sp == std::string_view::npos || !number(value.substr(0, sp), cid) || !check_cid(cid)) return false;
    const std::string_view flags = value.substr(sp + 1);
    if (flags.size() != 3 || flags[1] != ' ' || !flag(flags.substr(0, 1), d.vsock_listener) ||
        !flag(flags.substr(2, 1), d.vsock_connector))
        return false;
    d.vm.vsock_cid = cid;
    return true;
}

// "channel out|in CID PORT".
bool decode_channel(VmLaunch& l, std::string_view value)
{
    ChannelEnd c;
    c.outgoing = value.starts_with("out ");
    if (!c.outgoing && !value.starts_with("in ")) return false;
    value.remove_prefix(c.outgoing ? 4 : 3);
    const auto sp = value.find(' ');
    std::uint64_t port = 0;
    if (sp == std::string_view::npos || !number(value.substr(0, sp), c.peer_cid) || !check_cid(c.peer_cid) ||
        !number(value.substr(sp + 1), port) || port >= 0xffffffff || l.channels.size() == k_max_launch_channels)
        return false;
    c.port = static_cast<std::uint32_t>(port);
    l.channels.push_back(c);
    return true;
}

// One "key value" field; false when the value is bad or the key unknown.
bool decode_field(Decoded& d, std::string_view key, std::string_view value)
{
    VmLaunch& l = d.vm;
    if (key == "name") {
        l.name = value;
    } else if (key == "memory") {
        return number(value, l.memory) && check_memory(l.memory) && l.memory == round_memory(l.memory);
    } else if (key == "cpus") {
        std::uint64_t c = 0;
        if (!number(value, c) || !check_cpus(c)) return false;
        l.cpus = static_cast<std::uint32_t>(c);
    } else if (key == "initrd") {
        return flag(value, d.initrd);
    } else if (key == "disk") {
        const auto access = parse_disk_access(value);
        if (!access) return false;
        l.disks.push_back(*access);
    } else if (key == "standalone") {
        bool standalone = false;
        if (!flag(value, standalone)) return false;
        l.supervision = standalone ? Supervision::Standalone : Supervision::Monitored;
    } else if (key == "verbose") {
        return flag(value, l.verbose);
    } else if (key == "console") {
        return number(value, l.console_budget) && l.console_budget <= k_max_console_budget;
    } else if (key == "jail") {
        return flag(value, l.jail);
    } else if (key == "uidbase") {
        std::uint64_t base = 0;
        if (!number(value, base) || !check_uid_base(base)) return false;
        l.uid_base = static_cast<std::uint32_t>(base);
    } else if (key == "vsock") {
        return decode_vsock(d, value);
    } else if (key == "channel") {
        return decode_channel(l, value);
    } else if (key == "net") {
        const auto mac = base::parse_mac(value);
        if (!mac || base::check_mac(*mac) || l.nets.size() == k_max_launch_nets) return false;
        l.nets.push_back(*mac);
    } else if (key == "container") {
        return flag(value, l.container);
    } else if (key == "input") {
        const auto eq = value.find('=');
        if (eq == 0 || eq == std::string_view::npos || l.input_names.size() == k_max_launch_input_names) return false;
        l.input_names[std::string(value.substr(0, eq))] = value.substr(eq + 1);
    } else if (key == "cmdline") {
        l.cmdline = value;
    } else {
        return false;
    }
    return true;
}

}  // namespace

Result<Decoded> decode_launch(std::string_view text)
{
    Decoded d;
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
        if (!decode_field(d, key, value)) return fail(Errc::InvalidInput, "launch message: bad or unknown field");
        have_name = have_name || key == "name";
        have_memory = have_memory || key == "memory";
        have_cmdline = have_cmdline || key == "cmdline";
    }
    if (!have_name || !have_memory || !have_cmdline) return fail(Errc::InvalidInput, "launch message incomplete");
    if (!d.vm.channels.empty() && d.vm.vsock_cid == 0) return fail(Errc::InvalidInput, "launch message: channels without vsock");
    for (const ChannelEnd& c : d.vm.channels)
        if (c.peer_cid == d.vm.vsock_cid) return fail(Errc::InvalidInput, "launch message: a channel to itself");
    if (d.vm.container && d.vm.supervision != Supervision::Standalone)
        return fail(Errc::InvalidInput, "launch message: a container in a system");
    return d;
}

std::size_t launch_fd_count(const Decoded& d)
{
    const bool monitored = d.vm.supervision == Supervision::Monitored;
    return 2 + (d.initrd ? 1 : 0) + d.vm.disks.size() + (monitored ? 2 : 0) + (d.vsock_listener ? 1 : 0) +
           (d.vsock_connector ? 1 : 0) + d.vm.channels.size() + d.vm.nets.size() + (d.vm.container ? 2 : 0);
}

Result<Launch> receive_launch(int sock)
{
    auto msg = MOAT_TRY(recv_message(sock, k_max_message_payload));
    if (msg.payload.empty()) return fail(Errc::NotFound, "no launch message");
    auto d = MOAT_TRY(decode_launch(
        std::string_view(reinterpret_cast<const char*>(msg.payload.data()), msg.payload.size())));
    if (msg.fds.size() != launch_fd_count(d))
        return fail(Errc::InvalidInput, "launch message: descriptors do not match the message");

    Launch l;
    auto next = msg.fds.begin();
    l.kvm = std::move(*next++);
    l.kernel = std::move(*next++);
    if (d.initrd) l.initrd = std::move(*next++);
    for (std::size_t i = 0; i < d.vm.disks.size(); ++i) l.disks.push_back(std::move(*next++));
    if (d.vm.supervision == Supervision::Monitored) {
        l.console_out = std::move(*next++);
        l.console_log = std::move(*next++);
    }
    if (d.vsock_listener) l.vsock_listener = std::move(*next++);
    if (d.vsock_connector) l.vsock_connector = std::move(*next++);
    for (std::size_t i = 0; i < d.vm.channels.size(); ++i) l.channels.push_back(std::move(*next++));
    for (std::size_t i = 0; i < d.vm.nets.size(); ++i) l.taps.push_back(std::move(*next++));
    if (d.vm.container) {
        l.ready = std::move(*next++);
        l.start = std::move(*next++);
    }
    l.vm = std::move(d.vm);
    return l;
}

}  // namespace moat::protocol
