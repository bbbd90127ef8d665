// Thin RAII wrappers over the KVM file descriptors: the system (/dev/kvm), one VM, one vCPU.
// No policy lives here; each call is one ioctl with its error turned into a Result.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "base/mapping.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "memory/guest_memory.hpp"

namespace moat::kvm {

class Vm;
class Vcpu;

// Why KVM_RUN returned, read once from the kvm_run page (api.rst "struct kvm_run"): one type per
// exit reason moat handles, so that no caller reads the raw union.
namespace exit {
struct Io {  // KVM_EXIT_IO: `data` holds count accesses of `size` bytes each
    std::uint16_t port;
    bool write;
    std::uint8_t size;
    std::span<std::byte> data;  // in the kvm_run page; an IN's data is written here
};
struct Mmio {  // KVM_EXIT_MMIO
    std::uint64_t addr;
    bool write;
    std::span<std::byte> data;  // 1..8 bytes in the kvm_run page; a read's data is written here
};
struct Interrupted {};  // a kick (EINTR), or an application processor woken by SIPI (EAGAIN)
struct Shutdown {};     // KVM_EXIT_SHUTDOWN: a triple fault
struct SystemEvent {    // KVM_EXIT_SYSTEM_EVENT
    bool reset;         // KVM_SYSTEM_EVENT_RESET; otherwise a shutdown or crash
};
struct Hlt {};  // KVM_EXIT_HLT
struct InternalError {
    std::uint32_t suberror;
};
struct FailEntry {
    std::uint64_t hardware_reason;
};
struct Other {  // any other exit reason, or an I/O exit whose data lies outside the page
    std::uint32_t reason;
};
}  // namespace exit
using VcpuExit = std::variant<exit::Io, exit::Mmio, exit::Interrupted, exit::Shutdown, exit::SystemEvent, exit::Hlt,
                              exit::InternalError, exit::FailEntry, exit::Other>;

class Kvm final {
public:
    // Opens /dev/kvm and checks the API version.
    static Result<Kvm> open(const char* path = "/dev/kvm");
    // Adopts an already-open /dev/kvm descriptor (as received from the monitor).
    static Result<Kvm> from_fd(base::UniqueFd fd);

    int check_extension(unsigned cap) const;
    std::uint32_t max_vcpus() const;
    Result<std::vector<kvm_cpuid_entry2>> supported_cpuid() const;
    Result<Vm> create_vm() const;

private:
    explicit Kvm(base::UniqueFd fd) : m_fd(std::move(fd)) {}
    base::UniqueFd m_fd;
};

class Vm final {
public:
    // Maps every region of `mem` into the guest. The only way guest memory reaches KVM.
    Result<void> map_memory(const memory::GuestMemory& mem);
    // x86 platform pieces: in-kernel IOAPIC/PIC/LAPIC, PIT, and the pages KVM needs on Intel.
    Result<void> create_irqchip();
    Result<void> create_pit();
    Result<void> set_tss_addr(std::uint64_t addr);
    Result<void> set_identity_map_addr(std::uint64_t addr);

    Result<Vcpu> create_vcpu(std::uint32_t id);

    // Writes of `len` bytes to `addr` (optionally only those equal to `datamatch`) signal `fd`
    // instead of exiting to user space.
    Result<void> add_ioeventfd(int fd, std::uint64_t addr, std::uint32_t len, bool pio,
                               std::optional<std::uint64_t> datamatch);
    // A write to `fd` raises (edge) the interrupt on `gsi`.
    Result<void> add_irqfd(int fd, std::uint32_t gsi);

private:
    friend class Kvm;
    Vm(base::UniqueFd fd, std::size_t run_size) : m_fd(std::move(fd)), m_run_size(run_size) {}
    Result<void> unchecked_set_user_memory_region(const memory::KvmRegion& r);

    base::UniqueFd m_fd;
    std::size_t m_run_size;
};

// One vCPU. Owned by, and used only from, the thread that runs it (STYLE.md §7); the
// exception is immediate_exit, which other threads set to kick it out of KVM_RUN.
class Vcpu final {
public:
    std::uint32_t id() const { return m_id; }
    // KVM_RUN, and why it returned. An I/O exit's data is bounds-checked against the kvm_run
    // mapping (an impossible layout is exit::Other); it stays valid until the next run().
    Result<VcpuExit> run();
    // Asks a KVM_RUN in progress, or the next one, to return at once. Any thread may call it;
    // pair it with a signal to the vCPU thread.
    void request_immediate_exit() { page().immediate_exit = 1; }

    Result<kvm_regs> get_regs() const;
    Result<void> set_regs(const kvm_regs& r);
    Result<kvm_sregs> get_sregs() const;
    Result<void> set_sregs(const kvm_sregs& s);
    Result<void> set_fpu(const kvm_fpu& f);
    Result<void> set_cpuid(const std::vector<kvm_cpuid_entry2>& entries);
    Result<void> set_msrs(const std::vector<std::pair<std::uint32_t, std::uint64_t>>& msrs);
    Result<kvm_lapic_state> get_lapic() const;
    Result<void> set_lapic(const kvm_lapic_state& l);

private:
    friend class Vm;
    // The shared kvm_run page (kernel memory mapped into the VMM, not guest memory).
    kvm_run& page() const { return *static_cast<kvm_run*>(m_run.addr()); }
    VcpuExit read_exit() const;
    Vcpu(std::uint32_t id, base::UniqueFd fd, base::Mapping run)
        : m_id(id), m_fd(std::move(fd)), m_run(std::move(run))
    {
    }
    std::uint32_t m_id;
    base::UniqueFd m_fd;
    base::Mapping m_run;
};

}  // namespace moat::kvm
