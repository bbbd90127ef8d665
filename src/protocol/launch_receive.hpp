// The launch message, the VM process's side: receiving and decoding it (see launch.hpp).
#pragma once

#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "protocol/launch.hpp"

namespace moat::protocol {

// What a VM process received: the message, and its descriptors by role, owned.
struct Launch {
    VmLaunch vm;
    base::UniqueFd kvm, kernel, initrd;  // initrd invalid when there is none
    std::vector<base::UniqueFd> disks;
    base::UniqueFd console_out, console_log;  // Monitored only
    base::UniqueFd vsock_listener, vsock_connector;  // optional, with a vsock CID only
    std::vector<base::UniqueFd> channels;             // one link per VmLaunch::channels entry
    std::vector<base::UniqueFd> taps;                 // one per VmLaunch::nets entry
    base::UniqueFd ready, start;                      // a container only
};

// Receives and checks one launch. An empty message (the peer closed) is Errc::NotFound;
// anything malformed, or descriptors that do not match the message, is Errc::InvalidInput.
Result<Launch> receive_launch(int sock);

// The wire form read back (encode_launch's inverse): the launch, and whether an initrd
// descriptor follows the kernel's.
struct Decoded {
    VmLaunch vm;
    bool initrd = false;
    bool vsock_listener = false;   // descriptors that follow the console's
    bool vsock_connector = false;
};
Result<Decoded> decode_launch(std::string_view text);

// The number of descriptors a launch message must carry.
std::size_t launch_fd_count(const Decoded& d);

}  // namespace moat::protocol
