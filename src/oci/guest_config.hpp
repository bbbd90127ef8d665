// What moat-init needs to run the container, as the archive appended to the guest's initramfs:
// /moat/config (the settings) and /moat/files/N (the small files bound in, copied).
//
// /moat/config is a sequence of records, each a key and a fixed number of fields, every one
// ended by a NUL byte (so arguments and values may hold any other byte):
//   arg V | env NAME=V | cwd PATH | uid N | gid N | group N | umask N | hostname V |
//   rlimit TYPE SOFT HARD | terminal 1 | nnp 1 | readonly 1 | caps 1 | cap SET NAME |
//   mount TYPE SOURCE DESTINATION OPTIONS | file GUEST_PATH DESTINATION | bind DEVICE DESTINATION |
//   volume DEVICE DESTINATION ro|rw
// Numbers are decimal; OPTIONS are comma-separated; `caps 1` says the capability sets are given
// (so an empty set means none), SET is bounding, effective, inheritable, permitted or ambient.
#pragma once

#include <string>

#include "base/result.hpp"
#include "oci/bundle.hpp"
#include "oci/spec.hpp"

namespace moat::oci {

// Read-only directory binds and volumes a container may have: disks vdb to vdy (the
// directories first, then the volumes, in mount order).
inline constexpr std::size_t k_max_bound_dirs = 24;

// The records; a value holding a NUL byte is refused, naming its field.
Result<std::string> encode_guest_config(const Spec& spec, const Plan& plan);

// The whole archive: the config and a copy of each of plan.files (read now).
Result<std::string> guest_archive(const Spec& spec, const Plan& plan);

}  // namespace moat::oci
