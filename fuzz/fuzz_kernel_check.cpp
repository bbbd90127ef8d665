// libFuzzer target: check_kernel (what `moat run` decides before it opens /dev/kvm) against
// load_kernel (what the VM process does) on the same file, which must agree on every input:
// accept with the same entry, end and mode, or refuse with the same error. The first byte picks
// the guest's size (16..79 MiB); the rest is the kernel file.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "base/check.hpp"
#include "base/unique_fd.hpp"
#include "boot/kernel.hpp"
#include "boot/memory_map.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0) return 0;
    const std::uint64_t mem_bytes = (16 + std::uint64_t{data[0]} % 64) << 20;
    moat::base::UniqueFd fd(::memfd_create("kernel", MFD_CLOEXEC));
    MOAT_CHECK(fd.valid());
    for (std::size_t done = 1; done < size;) {
        ssize_t n = ::write(fd.get(), data + done, size - done);
        MOAT_CHECK(n > 0);
        done += static_cast<std::size_t>(n);
    }
    const auto ram = moat::boot::ram_regions(mem_bytes);
    auto mem = moat::memory::GuestMemory::create(ram);
    MOAT_CHECK(mem.has_value());
    auto checked = moat::boot::check_kernel(ram, fd.get());
    auto loaded = moat::boot::load_kernel(*mem, fd.get());
    MOAT_CHECK(checked.has_value() == loaded.has_value());
    if (!loaded) {
        MOAT_CHECK(checked.error().code == loaded.error().code);
        MOAT_CHECK(std::strcmp(checked.error().what, loaded.error().what) == 0);
        return 0;
    }
    MOAT_CHECK(checked->format == loaded->format && checked->entry == loaded->entry && checked->end == loaded->end &&
               checked->mode == loaded->mode);
    return 0;
}
