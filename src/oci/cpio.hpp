// A newc ("070701") cpio archive, as the Linux kernel unpacks an initramfs: moat-oci appends
// one to the guest's initramfs with the container's settings and the small files bound in
// (Linux unpacks concatenated archives in order).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace moat::oci {

class Cpio {
public:
    // A directory, or a regular file with its bytes; `name` relative ("moat/config"). Names
    // must be non-empty, without NUL, ".." or a leading '/'.
    Result<void> add_dir(std::string_view name, std::uint32_t mode = 0755);
    Result<void> add_file(std::string_view name, std::string_view data, std::uint32_t mode = 0644);
    // The archive with its trailer.
    std::string finish();

private:
    Result<void> add(std::string_view name, std::uint32_t mode, std::string_view data);

    std::string m_out;
    std::uint32_t m_ino = 1;
};

}  // namespace moat::oci
