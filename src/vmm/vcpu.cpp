// The vCPU threads: each runs KVM_RUN in a loop and dispatches port and MMIO exits to the
// buses; any other exit ends the VM with its reason.
#include <pthread.h>
#include <signal.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <type_traits>

#include "base/log.hpp"
#include "vmm/machine_state.hpp"

namespace moat::vmm {

namespace {

using State = Machine::State;

// The signal that kicks a vCPU thread out of KVM_RUN. Its handler does nothing: the point is
// the EINTR.
int kick_signal() { return SIGRTMIN; }
void on_kick(int) {}

std::string register_dump(const kvm::Vcpu& v)
{
    char buf[512];
    auto regs = v.get_regs();
    auto sregs = v.get_sregs();
    if (!regs || !sregs) return "registers unavailable";
    const auto& r = *regs;
    const auto& sr = *sregs;
    std::snprintf(buf, sizeof buf,
                  "vcpu %u: rip=0x%llx rsp=0x%llx rflags=0x%llx rax=0x%llx rbx=0x%llx rcx=0x%llx "
                  "rdx=0x%llx cr0=0x%llx cr3=0x%llx cr4=0x%llx efer=0x%llx cs=0x%x",
                  v.id(), r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, sr.cr0, sr.cr3, sr.cr4, sr.efer,
                  sr.cs.selector);
    return buf;
}

void on_io(State& s, const kvm::exit::Io& io)
{
    for (std::size_t off = 0; off < io.data.size(); off += io.size) {
        auto chunk = io.data.subspan(off, io.size);
        if (!io.write) {
            if (!s.pio.read(io.port, chunk)) {
                for (auto& b : chunk) b = std::byte{0xff};
                MOAT_LOG_RATELIMITED(Debug, "read from unassigned port 0x%x", io.port);
            }
        } else if (!s.pio.write(io.port, chunk) && io.port != 0x80) {  // 0x80: POST/delay port
            MOAT_LOG_RATELIMITED(Debug, "write to unassigned port 0x%x dropped", io.port);
        }
    }
}

void on_mmio(State& s, const kvm::exit::Mmio& m)
{
    if (m.write) {
        if (!s.mmio.write(m.addr, m.data))
            MOAT_LOG_RATELIMITED(Debug, "write to unassigned MMIO 0x%" PRIx64 " dropped", m.addr);
    } else if (!s.mmio.read(m.addr, m.data)) {
        for (auto& b : m.data) b = std::byte{0xff};
        MOAT_LOG_RATELIMITED(Debug, "read from unassigned MMIO 0x%" PRIx64, m.addr);
    }
}

// Serves one exit; returns why the VM must end, or nothing to run on.
std::optional<VmExit> on_exit(State& s, kvm::Vcpu& v, const kvm::VcpuExit& e)
{
    auto failed = [&v](const std::string& what) { return VmExit{ExitReason::InternalError, 0, what + register_dump(v)}; };
    return std::visit(
        [&](const auto& x) -> std::optional<VmExit> {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, kvm::exit::Io>) on_io(s, x);
            else if constexpr (std::is_same_v<T, kvm::exit::Mmio>) on_mmio(s, x);
            else if constexpr (std::is_same_v<T, kvm::exit::Interrupted>) return std::nullopt;
            else if constexpr (std::is_same_v<T, kvm::exit::Shutdown>)
                return VmExit{ExitReason::TripleFault, 0, register_dump(v)};
            else if constexpr (std::is_same_v<T, kvm::exit::SystemEvent>)
                return VmExit{x.reset ? ExitReason::Reset : ExitReason::PowerOff, 0, {}};
            // With the in-kernel LAPIC, hlt does not exit; seeing one means the platform is off.
            else if constexpr (std::is_same_v<T, kvm::exit::Hlt>) return failed("unexpected hlt exit; ");
            else if constexpr (std::is_same_v<T, kvm::exit::InternalError>)
                return failed("suberror " + std::to_string(x.suberror) + "; ");
            else if constexpr (std::is_same_v<T, kvm::exit::FailEntry>) {
                char what[64];
                std::snprintf(what, sizeof what, "entry failed, hardware reason 0x%llx; ",
                              static_cast<unsigned long long>(x.hardware_reason));
                return failed(what);
            } else if constexpr (std::is_same_v<T, kvm::exit::Other>)
                return failed("unhandled exit reason " + std::to_string(x.reason) + "; ");
            return std::nullopt;
        },
        e);
}

void vcpu_loop(State& s, kvm::Vcpu& v)
{
    while (!s.stop_requested()) {
        auto e = v.run();
        if (!e) {
            s.request_stop({ExitReason::HostError, 0, std::string("KVM_RUN: ") + std::strerror(e.error().sys_errno)});
            return;
        }
        if (auto end = on_exit(s, v, *e)) {
            s.request_stop(std::move(*end));
            return;
        }
    }
}

struct VcpuArg {
    State* s;
    kvm::Vcpu* v;
};

void* vcpu_thread(void* p)
{
    auto* arg = static_cast<VcpuArg*>(p);
    if (arg->s->vcpu_filter) {
        if (auto r = jail::install(*arg->s->vcpu_filter); !r) {
            arg->s->request_stop({ExitReason::HostError, 0, "vCPU thread: " + describe(r.error())});
            delete arg;
            return nullptr;
        }
    }
    vcpu_loop(*arg->s, *arg->v);
    delete arg;
    return nullptr;
}

}  // namespace

std::vector<pthread_t> start_vcpus(State& s)
{
    struct sigaction kick {};
    kick.sa_handler = on_kick;  // no SA_RESTART: KVM_RUN must return EINTR
    sigemptyset(&kick.sa_mask);
    ::sigaction(kick_signal(), &kick, nullptr);

    // A 256 KiB stack: too small to hold a 2 MiB huge page, which a default 8 MiB stack
    // acquires on first touch where transparent huge pages are "always".
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, std::size_t{256} << 10);
    std::vector<pthread_t> threads;
    for (auto& v : s.vcpus) {
        pthread_t t;
        auto* arg = new VcpuArg{&s, &v};
        if (const int err = pthread_create(&t, &attr, vcpu_thread, arg); err != 0) {
            delete arg;
            s.request_stop({ExitReason::HostError, 0, std::string("cannot start a vCPU thread: ") + std::strerror(err)});
            break;
        }
        threads.push_back(t);
    }
    pthread_attr_destroy(&attr);
    return threads;
}

void stop_vcpus(State& s, const std::vector<pthread_t>& threads)
{
    // immediate_exit covers a thread about to enter KVM_RUN, the signal one already inside it.
    for (std::size_t i = 0; i < threads.size(); ++i) {
        s.vcpus[i].request_immediate_exit();
        pthread_kill(threads[i], kick_signal());
    }
    for (pthread_t t : threads) pthread_join(t, nullptr);
}

}  // namespace moat::vmm
