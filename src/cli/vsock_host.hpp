// `moat run --vsock PATH`: the host's side of the VM's vsock device. Host programs connect to
// the Unix socket PATH (and write "CONNECT <port>\n"); the guest's connections to host port P
// reach a listener at PATH_P through the connector, a small process that keeps the host's file
// system and this user's rights while the VM process is jailed (protocol/host_connect.hpp).
#pragma once

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "cli/options.hpp"

namespace moat::cli {

struct VsockHost {
    base::UniqueFd listener;   // bound to PATH, listening
    base::UniqueFd connector;  // the VM process's end of the connector's socket
};

// Whether PATH can be bound: not too long (PATH_<port> included), and not there yet.
Result<void> check_vsock_path(const std::string& path);

// Binds PATH (which must not exist: a stale socket from an earlier VM is the user's to remove,
// as with Firecracker) and starts the connector. The connector removes PATH once the VM process
// ends; it ignores the terminal's signals and ends only then.
Result<VsockHost> start_vsock_host(const VsockSpec& spec);

}  // namespace moat::cli
