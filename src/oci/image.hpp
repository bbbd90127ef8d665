// The container's root as a read-only erofs image, made by Debian's mkfs.erofs (erofs-utils).
#pragma once

#include <string>

#include "base/result.hpp"

namespace moat::oci {

// Makes `image` from directory `dir`, through a temporary file renamed into place (a reader
// never sees half an image). Ownership, modes and extended attributes are kept. Errors carry
// mkfs.erofs's own last words; without mkfs.erofs, say to install erofs-utils.
Result<void> make_erofs(const std::string& dir, const std::string& image);

}  // namespace moat::oci
