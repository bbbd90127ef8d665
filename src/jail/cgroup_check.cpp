// Whether this host can give VMs a cgroup. Apart from cgroup.cpp so that the monitor, which
// only asks, carries nothing else of the jail.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <array>
#include <string>
#include <string_view>

#include "jail/cgroup.hpp"

namespace moat::jail {

std::string cgroup_missing()
{
    struct statfs fs {};
    if (::statfs(k_cgroup_root, &fs) != 0 || fs.f_type != CGROUP2_SUPER_MAGIC)
        return std::string(k_cgroup_root) + " is not a cgroup v2 file system";
    const std::string path = std::string(k_cgroup_root) + "/cgroup.controllers";
    base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    std::array<char, 512> buf{};
    const ssize_t n = fd.valid() ? ::read(fd.get(), buf.data(), buf.size() - 1) : -1;
    if (n < 0) return "cannot read " + path;
    const std::string have = " " + std::string(buf.data(), static_cast<std::size_t>(n)) + " ";
    std::string missing;
    for (std::string_view c : {"memory", "pids", "cpu"}) {
        if (have.find(" " + std::string(c) + " ") == std::string::npos &&
            have.find(" " + std::string(c) + "\n") == std::string::npos)
            missing += (missing.empty() ? "" : ", ") + std::string(c);
    }
    return missing.empty() ? "" : path + " offers no " + missing + " controller";
}

}  // namespace moat::jail
