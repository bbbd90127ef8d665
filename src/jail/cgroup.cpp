// Creating a VM's cgroup (cgroup.hpp).
#include "jail/cgroup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string_view>

namespace moat::jail {

namespace {

Result<void> write_file(const std::string& path, const std::string& value)
{
    base::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) return fail_errno_in(path);
    if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) return fail_errno_in(path);
    return {};
}

// Whether the process that made cgroup NAME-PID (the VM process's reaper) is still there; a
// cgroup it made may still be empty, its VM process about to move in.
bool maker_alive(std::string_view leaf)
{
    const auto dash = leaf.rfind('-');
    if (dash == std::string_view::npos) return false;
    const std::string_view digits = leaf.substr(dash + 1);
    pid_t pid = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
    if (ec != std::errc() || end != digits.data() + digits.size() || pid <= 0) return false;
    return ::kill(pid, 0) == 0 || errno == EPERM;
}

// Removes the cgroups of VM processes that have ended: rmdir fails on one still in use, and
// one whose maker lives is left alone.
void sweep(const std::string& dir)
{
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    while (const dirent* e = ::readdir(d)) {
        if (e->d_type == DT_DIR && e->d_name[0] != '.' && !maker_alive(e->d_name))
            ::rmdir((dir + "/" + e->d_name).c_str());
    }
    ::closedir(d);
}

}  // namespace

Result<base::UniqueFd> create_cgroup(const std::string& leaf, const CgroupLimits& limits)
{
    const std::string root = k_cgroup_root;
    const std::string moat = root + "/moat";
    const std::string controllers = "+memory +pids +cpu";
    MOAT_TRY(write_file(root + "/cgroup.subtree_control", controllers));
    if (::mkdir(moat.c_str(), 0755) != 0 && errno != EEXIST) return fail_errno_in(moat);
    MOAT_TRY(write_file(moat + "/cgroup.subtree_control", controllers));
    sweep(moat);
    const std::string dir = moat + "/" + leaf;
    if (::mkdir(dir.c_str(), 0755) != 0) return fail_errno_in(dir);
    MOAT_TRY(write_file(dir + "/memory.max", std::to_string(limits.memory_max)));
    // No swap beyond memory.max: where swap is not accounted, the file does not exist.
    if (::access((dir + "/memory.swap.max").c_str(), F_OK) == 0) MOAT_TRY(write_file(dir + "/memory.swap.max", "0"));
    MOAT_TRY(write_file(dir + "/pids.max", std::to_string(limits.pids_max)));
    MOAT_TRY(write_file(dir + "/cpu.weight", std::to_string(limits.cpu_weight)));
    base::UniqueFd procs(::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (!procs.valid()) return fail_errno_in(dir + "/cgroup.procs");
    return procs;
}

}  // namespace moat::jail
