// Opening what one VM is given (see vm_files.hpp).
#include "monitor/vm_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include "policy/label.hpp"

namespace moat::monitor {

namespace {

using base::UniqueFd;

// A kernel or initrd: read-only, a regular file.
Result<UniqueFd> open_input(const policy::Manifest& m, const policy::PathRef& p, const std::string& key)
{
    const std::string name = m.where(p.line, key) + ": '" + p.written + "'";
    UniqueFd fd(::open(p.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) return fail_errno_in(name);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail_errno_in(name);
    if (!S_ISREG(st.st_mode)) return fail_with(Errc::InvalidInput, name + ": not a regular file");
    return fd;
}

// A volume, opened as attached; its stored label checked on the descriptor.
Result<UniqueFd> open_volume(const policy::Manifest& m, const policy::DiskRef& d,
                             const std::function<bool(const LabelSeen&)>& seen)
{
    const auto& vol = m.volumes[d.index];
    UniqueFd fd(::open(vol.path.path.c_str(), (d.mode == DiskAccess::ReadWrite ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) return fail_errno_in(m.where(vol.path.line, "volume." + vol.name + ".path") + ": '" + vol.path.written + "'");
    // On the descriptor that will be passed: no window between the check and the use.
    LabelSeen s{vol, policy::format_label(m.lattice, vol.label), check_volume_label(fd.get(), m.lattice, vol.label)};
    if (!seen(s)) return fail(Errc::Io, "the audit log failed");
    if (s.check.result == LabelCheck::Match) return fd;
    const std::string why = s.check.result == LabelCheck::Missing
                                ? "has no stored label (create it with 'moat volume create')"
                                : "has the stored label '" + s.check.stored + "'";
    return fail_with(Errc::InvalidInput, m.where(vol.line, "volume." + vol.name) + ": volume " + vol.name + " ('" +
                                             vol.path.written + "') " + why + ", but the manifest says '" +
                                             s.expected + "'; refusing it");
}

}  // namespace

Result<VmFiles> open_vm_files(const policy::Manifest& m, const policy::VmSpec& vm,
                              const std::function<bool(const LabelSeen&)>& seen)
{
    VmFiles f;
    f.kernel = MOAT_TRY(open_input(m, vm.kernel, "vm." + vm.name + ".kernel"));
    if (vm.initrd) f.initrd = MOAT_TRY(open_input(m, *vm.initrd, "vm." + vm.name + ".initrd"));
    for (const auto& d : vm.disks) f.disks.push_back(MOAT_TRY(open_volume(m, d, seen)));
    return f;
}

const char* to_string(LabelCheck c)
{
    switch (c) {
    case LabelCheck::Match: return "match";
    case LabelCheck::Missing: return "missing";
    case LabelCheck::Differs: return "differs";
    case LabelCheck::Unparsable: return "unparsable";
    }
    return "?";
}

}  // namespace moat::monitor
