// How a disk is attached to a VM: one type from the manifest or `--disk` to the virtio-blk
// device, and in the launch message between them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace moat {

enum class DiskAccess : std::uint8_t {
    ReadOnly,   // the VM process gets a descriptor opened O_RDONLY; the device refuses writes
    ReadWrite,  // opened O_RDWR
};

// "ro" / "rw": the manifest's and the command line's spelling, and the launch message's.
constexpr const char* to_string(DiskAccess a) { return a == DiskAccess::ReadOnly ? "ro" : "rw"; }

constexpr std::optional<DiskAccess> parse_disk_access(std::string_view s)
{
    if (s == "ro") return DiskAccess::ReadOnly;
    if (s == "rw") return DiskAccess::ReadWrite;
    return std::nullopt;
}

}  // namespace moat
