// libFuzzer target: the launch message a VM process decodes (src/protocol/launch.cpp).
// Invariants: never crashes; what it accepts is within the limits both sides check and encodes
// back to a message that decodes to the same launch.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.hpp"
#include "protocol/launch_receive.hpp"
#include "protocol/limits.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace moat::protocol;
    auto d = decode_launch(std::string_view(reinterpret_cast<const char*>(data), size));
    if (!d) return 0;
    const VmLaunch& l = d->vm;
    MOAT_CHECK(check_cpus(l.cpus));
    MOAT_CHECK(check_memory(l.memory) && round_memory(l.memory) == l.memory);
    MOAT_CHECK(l.input_names.size() <= k_max_launch_input_names);
    MOAT_CHECK(launch_fd_count(*d) >= 2);
    MOAT_CHECK(check_uid_base(l.uid_base));
    MOAT_CHECK(l.vsock_cid == 0 || check_cid(l.vsock_cid));
    auto again = decode_launch(encode_launch(l, d->initrd, d->vsock_listener, d->vsock_connector));
    MOAT_CHECK(again.has_value());
    const VmLaunch& a = again->vm;
    MOAT_CHECK(a.name == l.name && a.cmdline == l.cmdline && a.memory == l.memory && a.cpus == l.cpus &&
               again->initrd == d->initrd && a.disks == l.disks && a.supervision == l.supervision &&
               a.verbose == l.verbose && a.jail == l.jail && a.uid_base == l.uid_base &&
               a.vsock_cid == l.vsock_cid && again->vsock_listener == d->vsock_listener &&
               again->vsock_connector == d->vsock_connector && a.channels == l.channels);
    MOAT_CHECK(l.channels.size() <= k_max_launch_channels && (l.channels.empty() || l.vsock_cid != 0));
    for (const ChannelEnd& c : l.channels) MOAT_CHECK(check_cid(c.peer_cid) && c.peer_cid != l.vsock_cid);
    MOAT_CHECK(a.input_names.size() == l.input_names.size());
    return 0;
}
