// The settings moat-init reads, and the archive they travel in.
#include "oci/guest_config.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "base/unique_fd.hpp"
#include "oci/cpio.hpp"
#include "oci/state.hpp"

namespace moat::oci {

namespace {

class Records {
public:
    // One record; `field` names it in an error.
    Result<void> add(const char* key, std::initializer_list<std::string_view> values, const std::string& field)
    {
        for (std::string_view v : values)
            if (v.find('\0') != std::string_view::npos)
                return fail_with(Errc::InvalidInput, field + ": holds a NUL byte");
        m_out.append(key).push_back('\0');
        for (std::string_view v : values) m_out.append(v).push_back('\0');
        return {};
    }
    std::string take() { return std::move(m_out); }

private:
    std::string m_out;
};

std::string joined(const std::vector<std::string>& v)
{
    std::string s;
    for (const std::string& o : v) s += (s.empty() ? "" : ",") + o;
    return s;
}

Result<void> add_capabilities(Records& r, const Capabilities& c)
{
    MOAT_TRY(r.add("caps", {"1"}, "process.capabilities"));
    const std::pair<const char*, const std::vector<std::string>*> sets[] = {
        {"bounding", &c.bounding}, {"effective", &c.effective}, {"inheritable", &c.inheritable},
        {"permitted", &c.permitted}, {"ambient", &c.ambient}};
    for (const auto& [set, names] : sets)
        for (const std::string& n : *names) MOAT_TRY(r.add("cap", {set, n}, std::string("process.capabilities.") + set));
    return {};
}

Result<void> add_process(Records& r, const Process& p)
{
    for (std::size_t i = 0; i < p.args.size(); ++i)
        MOAT_TRY(r.add("arg", {p.args[i]}, "process.args[" + std::to_string(i) + "]"));
    for (std::size_t i = 0; i < p.env.size(); ++i)
        MOAT_TRY(r.add("env", {p.env[i]}, "process.env[" + std::to_string(i) + "]"));
    MOAT_TRY(r.add("cwd", {p.cwd}, "process.cwd"));
    MOAT_TRY(r.add("uid", {std::to_string(p.user.uid)}, "process.user.uid"));
    MOAT_TRY(r.add("gid", {std::to_string(p.user.gid)}, "process.user.gid"));
    for (std::uint32_t g : p.user.additional_gids) MOAT_TRY(r.add("group", {std::to_string(g)}, "process.user"));
    if (p.user.umask) MOAT_TRY(r.add("umask", {std::to_string(*p.user.umask)}, "process.user.umask"));
    for (const Rlimit& l : p.rlimits)
        MOAT_TRY(r.add("rlimit", {l.type, std::to_string(l.soft), std::to_string(l.hard)}, "process.rlimits"));
    if (p.terminal) MOAT_TRY(r.add("terminal", {"1"}, "process.terminal"));
    if (p.no_new_privileges) MOAT_TRY(r.add("nnp", {"1"}, "process.noNewPrivileges"));
    if (p.capabilities) MOAT_TRY(add_capabilities(r, *p.capabilities));
    return {};
}

std::string file_path(std::size_t i) { return "moat/files/" + std::to_string(i); }

// The guest's name for the disk after the root image (/dev/vda): i = 0 is /dev/vdb.
std::string disk_name(std::size_t i) { return std::string("/dev/vd") + static_cast<char>('b' + i); }

}  // namespace

Result<std::string> encode_guest_config(const Spec& spec, const Plan& plan)
{
    if (!spec.process) return fail_with(Errc::InvalidInput, "process: missing (create needs the process to run)");
    Records r;
    MOAT_TRY(add_process(r, *spec.process));
    if (!spec.hostname.empty()) MOAT_TRY(r.add("hostname", {spec.hostname}, "hostname"));
    if (spec.root_readonly) MOAT_TRY(r.add("readonly", {"1"}, "root.readonly"));
    for (const Mount& m : plan.guest_mounts)
        MOAT_TRY(r.add("mount", {m.type, m.source, m.destination, joined(m.options)}, "mounts (" + m.destination + ")"));
    // The root image is /dev/vda; each read-only directory's image the next disk, in order,
    // then each volume.
    if (plan.dirs.size() + plan.volumes.size() > k_max_bound_dirs)
        return fail_with(Errc::Unsupported, "mounts: more than " + std::to_string(k_max_bound_dirs) +
                                                " read-only directory binds and volumes");
    for (std::size_t i = 0; i < plan.dirs.size(); ++i)
        MOAT_TRY(r.add("bind", {disk_name(i), plan.dirs[i].destination},
                       "mounts (" + plan.dirs[i].destination + ")"));
    for (std::size_t i = 0; i < plan.volumes.size(); ++i) {
        const auto& v = plan.volumes[i];
        MOAT_TRY(r.add("volume", {disk_name(plan.dirs.size() + i), v.destination, v.read_only ? "ro" : "rw"},
                       "mounts (" + v.destination + ")"));
    }
    for (std::size_t i = 0; i < plan.files.size(); ++i)
        MOAT_TRY(r.add("file", {"/" + file_path(i), plan.files[i].destination}, "mounts (" + plan.files[i].destination + ")"));
    return r.take();
}

Result<std::string> guest_archive(const Spec& spec, const Plan& plan)
{
    const std::string config = MOAT_TRY(encode_guest_config(spec, plan));
    Cpio c;
    MOAT_TRY(c.add_dir("moat"));
    MOAT_TRY(c.add_file("moat/config", config, 0600));
    MOAT_TRY(c.add_dir("moat/files"));
    for (std::size_t i = 0; i < plan.files.size(); ++i) {
        const std::string data = MOAT_TRY(read_capped(plan.files[i].source, k_max_copied_file));
        MOAT_TRY(c.add_file(file_path(i), data, 0644));
    }
    return c.finish();
}

}  // namespace moat::oci
