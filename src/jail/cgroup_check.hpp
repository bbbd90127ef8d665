// Whether this host gives VM processes cgroups (cgroup.hpp): the one question the monitor asks
// of the jail, once per system, to warn and audit.
#pragma once

#include <string>

namespace moat::jail {

inline constexpr const char* k_cgroup_root = "/sys/fs/cgroup";

// Why VMs get no cgroup here (/sys/fs/cgroup is not cgroup v2, or lacks the memory, pids or
// cpu controller), or "" when they do.
std::string cgroup_missing();

}  // namespace moat::jail
