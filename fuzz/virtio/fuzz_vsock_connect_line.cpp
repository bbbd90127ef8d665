// A host program's first line to a vsock device's Unix socket (src/virtio/vsock/host_line.cpp):
// any bytes are a port or an error, a port only from "CONNECT " and its decimal digits, and the
// answer line always ends in one newline.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.hpp"
#include "virtio/vsock/host_line.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace moat::virtio::vsock;
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    auto port = parse_connect_line(line);
    if (!port) return 0;
    MOAT_CHECK(line.starts_with("CONNECT ") && line.size() < k_max_connect_line);
    std::uint64_t again = 0;
    const auto digits = line.substr(8);
    const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), again);
    MOAT_CHECK(r.ec == std::errc{} && r.ptr == digits.data() + digits.size() && again == *port);
    const std::string ok = ok_line(*port);
    MOAT_CHECK(ok.starts_with("OK ") && ok.back() == '\n' && ok.find('\n') == ok.size() - 1);
    return 0;
}
