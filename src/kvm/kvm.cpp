// KVM ioctl wrappers.
#include "kvm/kvm.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <memory>

namespace moat::kvm {

namespace {

// ioctl taking a pointer argument, retried on EINTR where the call is restartable.
template <typename T>
int xioctl(int fd, unsigned long req, T* arg)
{
    int r;
    do r = ::ioctl(fd, req, arg);
    while (r < 0 && errno == EINTR);
    return r;
}

int xioctl(int fd, unsigned long req, unsigned long arg)
{
    int r;
    do r = ::ioctl(fd, req, arg);
    while (r < 0 && errno == EINTR);
    return r;
}

// <linux/kvm.h> declares the entries of kvm_cpuid2 and kvm_msrs with __DECLARE_FLEX_ARRAY,
// which in C++ inserts an empty struct: sizeof and the entries' offset grow, and with them the
// ioctl numbers. The kernel speaks the C layout, so these payloads and numbers are spelled
// out here: a u32 count, u32 padding, then the entries at offset 8.
constexpr std::uint32_t k_max_cpuid_entries = 256;
constexpr std::uint32_t k_max_msrs = 64;
struct CpuidPayload {
    std::uint32_t nent;
    std::uint32_t padding;
    kvm_cpuid_entry2 entries[k_max_cpuid_entries];
};
struct MsrPayload {
    std::uint32_t nmsrs;
    std::uint32_t pad;
    kvm_msr_entry entries[k_max_msrs];
};
static_assert(offsetof(CpuidPayload, entries) == 8 && offsetof(MsrPayload, entries) == 8);
constexpr unsigned long k_get_supported_cpuid = _IOWR(KVMIO, 0x05, std::uint64_t);  // C sizeof(kvm_cpuid2) == 8
constexpr unsigned long k_set_cpuid2 = _IOW(KVMIO, 0x90, std::uint64_t);
constexpr unsigned long k_set_msrs = _IOW(KVMIO, 0x89, std::uint64_t);  // C sizeof(kvm_msrs) == 8

}  // namespace

Result<Kvm> Kvm::open(const char* path)
{
    base::UniqueFd fd(::open(path, O_RDWR | O_CLOEXEC));
    if (!fd.valid()) return fail_errno("open /dev/kvm");
    return from_fd(std::move(fd));
}

Result<Kvm> Kvm::from_fd(base::UniqueFd fd)
{
    if (xioctl(fd.get(), KVM_GET_API_VERSION, 0UL) != KVM_API_VERSION)
        return fail(Errc::Unsupported, "KVM API version is not 12");
    return Kvm(std::move(fd));
}

int Kvm::check_extension(unsigned cap) const
{
    int r = xioctl(m_fd.get(), KVM_CHECK_EXTENSION, static_cast<unsigned long>(cap));
    return r < 0 ? 0 : r;
}

std::uint32_t Kvm::max_vcpus() const
{
    int n = check_extension(KVM_CAP_MAX_VCPUS);
    if (n <= 0) n = check_extension(KVM_CAP_NR_VCPUS);
    if (n <= 0) n = 4;  // KVM's documented default when neither capability answers
    return static_cast<std::uint32_t>(n);
}

Result<std::vector<kvm_cpuid_entry2>> Kvm::supported_cpuid() const
{
    auto c = std::make_unique<CpuidPayload>();
    c->nent = k_max_cpuid_entries;
    if (xioctl(m_fd.get(), k_get_supported_cpuid, c.get()) < 0) return fail_errno("KVM_GET_SUPPORTED_CPUID");
    if (c->nent > k_max_cpuid_entries) return fail(Errc::Io, "KVM_GET_SUPPORTED_CPUID: too many entries");
    return std::vector<kvm_cpuid_entry2>(c->entries, c->entries + c->nent);
}

Result<Vm> Kvm::create_vm() const
{
    int run_size = xioctl(m_fd.get(), KVM_GET_VCPU_MMAP_SIZE, 0UL);
    if (run_size < static_cast<int>(sizeof(kvm_run))) return fail_errno("KVM_GET_VCPU_MMAP_SIZE");
    base::UniqueFd fd(xioctl(m_fd.get(), KVM_CREATE_VM, 0UL));
    if (!fd.valid()) return fail_errno("KVM_CREATE_VM");
    return Vm(std::move(fd), static_cast<std::size_t>(run_size));
}

Result<void> Vm::unchecked_set_user_memory_region(const memory::KvmRegion& r)
{
    kvm_userspace_memory_region region{};
    region.slot = r.slot;
    region.guest_phys_addr = r.guest_phys_addr;
    region.memory_size = r.size;
    region.userspace_addr = r.userspace_addr;
    if (xioctl(m_fd.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return fail_errno("KVM_SET_USER_MEMORY_REGION");
    return {};
}

Result<void> Vm::map_memory(const memory::GuestMemory& mem)
{
    // SAFETY: the regions come from a live GuestMemory, which outlives the VM (the VMM owns
    // both and destroys the VM first).
    for (const auto& r : mem.kvm_regions()) MOAT_TRY(unchecked_set_user_memory_region(r));
    return {};
}

Result<void> Vm::create_irqchip()
{
    if (xioctl(m_fd.get(), KVM_CREATE_IRQCHIP, 0UL) < 0) return fail_errno("KVM_CREATE_IRQCHIP");
    return {};
}

Result<void> Vm::create_pit()
{
    kvm_pit_config cfg{};
    cfg.flags = KVM_PIT_SPEAKER_DUMMY;  // port 0x61 answered in the kernel
    if (xioctl(m_fd.get(), KVM_CREATE_PIT2, &cfg) < 0) return fail_errno("KVM_CREATE_PIT2");
    return {};
}

Result<void> Vm::set_tss_addr(std::uint64_t addr)
{
    if (xioctl(m_fd.get(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(addr)) < 0)
        return fail_errno("KVM_SET_TSS_ADDR");
    return {};
}

Result<void> Vm::set_identity_map_addr(std::uint64_t addr)
{
    std::uint64_t a = addr;
    if (xioctl(m_fd.get(), KVM_SET_IDENTITY_MAP_ADDR, &a) < 0) return fail_errno("KVM_SET_IDENTITY_MAP_ADDR");
    return {};
}

Result<Vcpu> Vm::create_vcpu(std::uint32_t id)
{
    base::UniqueFd fd(xioctl(m_fd.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(id)));
    if (!fd.valid()) return fail_errno("KVM_CREATE_VCPU");
    auto run = MOAT_TRY(base::Mapping::shared(fd.get(), m_run_size));
    return Vcpu(id, std::move(fd), std::move(run));
}

Result<void> Vm::add_ioeventfd(int fd, std::uint64_t addr, std::uint32_t len, bool pio,
                               std::optional<std::uint64_t> datamatch)
{
    kvm_ioeventfd e{};
    e.addr = addr;
    e.len = len;
    e.fd = fd;
    if (pio) e.flags |= KVM_IOEVENTFD_FLAG_PIO;
    if (datamatch) {
        e.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
        e.datamatch = *datamatch;
    }
    if (xioctl(m_fd.get(), KVM_IOEVENTFD, &e) < 0) return fail_errno("KVM_IOEVENTFD");
    return {};
}

Result<void> Vm::add_irqfd(int fd, std::uint32_t gsi)
{
    kvm_irqfd i{};
    i.fd = static_cast<std::uint32_t>(fd);
    i.gsi = gsi;
    if (xioctl(m_fd.get(), KVM_IRQFD, &i) < 0) return fail_errno("KVM_IRQFD");
    return {};
}

Result<VcpuExit> Vcpu::run()
{
    if (::ioctl(m_fd.get(), KVM_RUN, 0) < 0) {
        // EINTR: a kick. EAGAIN: an application processor left wait-for-SIPI; run it again.
        if (errno == EINTR || errno == EAGAIN) return VcpuExit{exit::Interrupted{}};
        return fail_errno("KVM_RUN");
    }
    return read_exit();
}

VcpuExit Vcpu::read_exit() const
{
    const kvm_run& r = page();
    switch (r.exit_reason) {
    case KVM_EXIT_IO: {
        const auto io = r.io;  // one copy: every field below is checked and used from it
        const std::uint64_t len = std::uint64_t{io.size} * io.count;
        if (io.size == 0 || io.data_offset > m_run.size() || len > m_run.size() - io.data_offset)
            return exit::Other{r.exit_reason};
        // SAFETY: [data_offset, data_offset + len) was just checked to lie inside the mapping.
        std::span<std::byte> data{static_cast<std::byte*>(m_run.addr()) + io.data_offset, static_cast<std::size_t>(len)};
        return exit::Io{io.port, io.direction == KVM_EXIT_IO_OUT, io.size, data};
    }
    case KVM_EXIT_MMIO: {
        kvm_run& w = page();
        const std::size_t len = std::min<std::size_t>(w.mmio.len, sizeof w.mmio.data);
        // SAFETY: mmio.data is an 8-byte array inside kvm_run; len is clamped to it.
        return exit::Mmio{w.mmio.phys_addr, w.mmio.is_write != 0, {reinterpret_cast<std::byte*>(w.mmio.data), len}};
    }
    case KVM_EXIT_INTR: return exit::Interrupted{};
    case KVM_EXIT_SHUTDOWN: return exit::Shutdown{};
    case KVM_EXIT_SYSTEM_EVENT: return exit::SystemEvent{r.system_event.type == KVM_SYSTEM_EVENT_RESET};
    case KVM_EXIT_HLT: return exit::Hlt{};
    case KVM_EXIT_INTERNAL_ERROR: return exit::InternalError{r.internal.suberror};
    case KVM_EXIT_FAIL_ENTRY: return exit::FailEntry{r.fail_entry.hardware_entry_failure_reason};
    default: return exit::Other{r.exit_reason};
    }
}

Result<kvm_regs> Vcpu::get_regs() const
{
    kvm_regs r{};
    if (xioctl(m_fd.get(), KVM_GET_REGS, &r) < 0) return fail_errno("KVM_GET_REGS");
    return r;
}

Result<void> Vcpu::set_regs(const kvm_regs& r)
{
    kvm_regs copy = r;
    if (xioctl(m_fd.get(), KVM_SET_REGS, &copy) < 0) return fail_errno("KVM_SET_REGS");
    return {};
}

Result<kvm_sregs> Vcpu::get_sregs() const
{
    kvm_sregs s{};
    if (xioctl(m_fd.get(), KVM_GET_SREGS, &s) < 0) return fail_errno("KVM_GET_SREGS");
    return s;
}

Result<void> Vcpu::set_sregs(const kvm_sregs& s)
{
    kvm_sregs copy = s;
    if (xioctl(m_fd.get(), KVM_SET_SREGS, &copy) < 0) return fail_errno("KVM_SET_SREGS");
    return {};
}

Result<void> Vcpu::set_fpu(const kvm_fpu& f)
{
    kvm_fpu copy = f;
    if (xioctl(m_fd.get(), KVM_SET_FPU, &copy) < 0) return fail_errno("KVM_SET_FPU");
    return {};
}

Result<void> Vcpu::set_cpuid(const std::vector<kvm_cpuid_entry2>& entries)
{
    if (entries.size() > k_max_cpuid_entries) return fail(Errc::InvalidInput, "too many CPUID entries");
    auto c = std::make_unique<CpuidPayload>();
    c->nent = static_cast<std::uint32_t>(entries.size());
    std::copy(entries.begin(), entries.end(), c->entries);
    if (xioctl(m_fd.get(), k_set_cpuid2, c.get()) < 0) return fail_errno("KVM_SET_CPUID2");
    return {};
}

Result<void> Vcpu::set_msrs(const std::vector<std::pair<std::uint32_t, std::uint64_t>>& msrs)
{
    if (msrs.size() > k_max_msrs) return fail(Errc::InvalidInput, "too many MSRs");
    auto m = std::make_unique<MsrPayload>();
    m->nmsrs = static_cast<std::uint32_t>(msrs.size());
    for (std::size_t i = 0; i < msrs.size(); ++i) {
        m->entries[i] = kvm_msr_entry{};
        m->entries[i].index = msrs[i].first;
        m->entries[i].data = msrs[i].second;
    }
    int n = xioctl(m_fd.get(), k_set_msrs, m.get());
    if (n < 0) return fail_errno("KVM_SET_MSRS");
    if (static_cast<std::size_t>(n) != msrs.size()) return fail(Errc::Unsupported, "KVM_SET_MSRS refused an MSR");
    return {};
}

Result<kvm_lapic_state> Vcpu::get_lapic() const
{
    kvm_lapic_state l{};
    if (xioctl(m_fd.get(), KVM_GET_LAPIC, &l) < 0) return fail_errno("KVM_GET_LAPIC");
    return l;
}

Result<void> Vcpu::set_lapic(const kvm_lapic_state& l)
{
    kvm_lapic_state copy = l;
    if (xioctl(m_fd.get(), KVM_SET_LAPIC, &copy) < 0) return fail_errno("KVM_SET_LAPIC");
    return {};
}

}  // namespace moat::kvm
