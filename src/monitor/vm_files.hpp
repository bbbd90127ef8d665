// What one VM of a system is given, opened exactly as the policy decided: the files `moat up`
// passes to its VM process, and `moat policy check` opens the same way without starting it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "monitor/volume.hpp"
#include "policy/manifest.hpp"

namespace moat::monitor {

struct VmFiles {
    base::UniqueFd kernel;              // read-only
    base::UniqueFd initrd;              // read-only; invalid when the VM has none
    std::vector<base::UniqueFd> disks;  // one per VmSpec::disks, O_RDONLY or O_RDWR as attached
};

// One volume's stored label, as checked on the descriptor that will be passed.
struct LabelSeen {
    const policy::VolumeSpec& volume;
    std::string expected;  // "label/integrity", as the manifest says
    LabelCheckResult check;
};

// Opens the kernel, the initrd and every volume of `vm` as its VM process gets them (regular
// files only; a read-only attach gets a descriptor that cannot write), and checks each
// volume's stored label on that very descriptor. `seen` gets every label check before its
// result counts (the monitor audits it); when it returns false, the opening stops with
// Errc::Io. Errors name the manifest key and line: "sys.toml:7: volume.base.path:
// 'images/base.img': No such file or directory", or "...: volume base ('images/base.img') has
// the stored label 'secret/trusted', but the manifest says 'public/trusted'; refusing it".
Result<VmFiles> open_vm_files(const policy::Manifest& m, const policy::VmSpec& vm,
                              const std::function<bool(const LabelSeen&)>& seen);

// "match", "missing", "differs" or "unparsable", as audit records spell a label check.
const char* to_string(LabelCheck c);

}  // namespace moat::monitor
