// Checking a VM's software before it starts (see guest_check.hpp).
#include "cli/guest_check.hpp"

#include <sys/stat.h>

#include "boot/boot_params.hpp"
#include "boot/kernel.hpp"
#include "boot/memory_map.hpp"

namespace moat::cli {

Result<void> check_guest_software(const GuestSoftware& g)
{
    const auto ram = boot::ram_regions(g.memory);
    auto kernel = boot::check_kernel(ram, g.kernel_fd);
    if (!kernel) return fail(kernel.error().in(g.kernel_name));
    if (g.initrd_fd >= 0) {
        struct stat st {};
        if (::fstat(g.initrd_fd, &st) != 0) return fail(Error::from_errno("fstat").in(g.initrd_name));
        auto placed = boot::place_initrd(static_cast<std::uint64_t>(st.st_size), *kernel, boot::low_ram_end(g.memory));
        if (!placed) return fail(placed.error().in(g.initrd_name));
    }
    if (const auto most = boot::max_cmdline_len(*kernel); g.cmdline.size() > most)
        return fail_with(Errc::InvalidInput, g.cmdline_name + ": " + std::to_string(g.cmdline.size()) +
                                                 " bytes; the kernel accepts at most " + std::to_string(most));
    if (auto r = boot::check_cmdline(*kernel, g.cmdline); !r) return fail(r.error().in(g.cmdline_name));
    return {};
}

}  // namespace moat::cli
