// The text lines a host program exchanges with the vsock device over a Unix socket before the
// bytes of a connection flow (Firecracker's convention, so its tools work unchanged): the host
// program writes "CONNECT <guest port>\n", and once the guest accepts it reads
// "OK <host port>\n". A guest's connection to host port P reaches a listener at "PATH_P".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace moat::virtio::vsock {

// The longest line accepted, newline included ("CONNECT 4294967295\n" is 19 bytes).
inline constexpr std::size_t k_max_connect_line = 32;

// Parses one line without its newline: "CONNECT " and 1-10 decimal digits naming a port below
// 2^32. Errc::InvalidInput otherwise.
Result<std::uint32_t> parse_connect_line(std::string_view line);

// "OK <port>\n".
std::string ok_line(std::uint32_t host_port);

}  // namespace moat::virtio::vsock
