// Whether this host can give VMs a cgroup (cgroup_check.hpp). Apart from cgroup.cpp so that the
// monitor, which only asks, carries nothing else of the jail.
#include "jail/cgroup_check.hpp"

#include <linux/magic.h>
#include <sys/statfs.h>

#include <fstream>
#include <set>

namespace moat::jail {

std::string cgroup_missing()
{
    struct statfs fs {};
    const std::string root = k_cgroup_root;
    if (::statfs(root.c_str(), &fs) != 0 || fs.f_type != CGROUP2_SUPER_MAGIC)
        return root + " is not a cgroup v2 file system";
    std::ifstream in(root + "/cgroup.controllers");
    std::set<std::string> have;
    for (std::string c; in >> c;) have.insert(c);
    for (const char* c : {"memory", "pids", "cpu"})
        if (!have.count(c)) return root + "/cgroup.controllers offers no " + c + " controller";
    return "";
}

}  // namespace moat::jail
