// A guest's vsock connection to a host program goes through the connector: a small process
// outside the VM's jail (the VM process opens no path) that holds the host's file system and
// does one thing, connect to the Unix socket "PATH_<port>" (Firecracker's convention), for the
// VM process that asks. Over a SOCK_SEQPACKET socketpair: the request is the port as 4
// little-endian bytes; the answer one byte, 0 with the connected socket attached (SCM_RIGHTS)
// or an errno value (capped at 255) without.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace moat::protocol {

// The VM process's side: a non-blocking stream socket connected to PATH_<port>, or
// Errc::NotFound (with the connector's errno: nobody listens there) or Errc::Io (the
// connector is gone). Blocks for one round trip: the connector's connect never waits.
Result<base::UniqueFd> connect_through(int connector, std::uint32_t port);

// The connector's side: answers requests on `sock` until the VM process closes its end.
// `path` is the --vsock path; a request names only a port, so nothing outside PATH_<digits>
// can be reached.
void serve_connects(int sock, const std::string& path);

// "PATH_<port>", or Errc::OutOfRange when it would not fit a sockaddr_un.
Result<std::string> port_path(const std::string& path, std::uint32_t port);

}  // namespace moat::protocol
