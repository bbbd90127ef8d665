#include "virtio/vsock/host_line.hpp"

namespace moat::virtio::vsock {

Result<std::uint32_t> parse_connect_line(std::string_view line)
{
    constexpr std::string_view verb = "CONNECT ";
    if (!line.starts_with(verb)) return fail(Errc::InvalidInput, "vsock: expected 'CONNECT <port>'");
    const std::string_view digits = line.substr(verb.size());
    if (digits.empty() || digits.size() > 10) return fail(Errc::InvalidInput, "vsock: port must be 1 to 10 digits");
    std::uint64_t port = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return fail(Errc::InvalidInput, "vsock: port must be decimal digits");
        port = port * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (port > 0xffffffffu) return fail(Errc::InvalidInput, "vsock: port must be below 2^32");
    return static_cast<std::uint32_t>(port);
}

std::string ok_line(std::uint32_t host_port) { return "OK " + std::to_string(host_port) + "\n"; }

}  // namespace moat::virtio::vsock
