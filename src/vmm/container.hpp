// An OCI container's side of its VM (moat-oci; docs/oci.md, "Channels"): what the guest's init
// says on the control port (devices::GuestControl parses it), what the host says back ("start",
// "signal N", "eof"), the ready and start descriptors whose other ends moat-oci holds, and the
// status the VM process ends with.
//
// Threading: on_control_byte runs on a vCPU thread (the port's transmit, under the port's lock),
// everything else on the event thread; one mutex guards what both touch. The queue for the
// guest is the event thread's alone, so flush() can feed the port without that mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "base/unique_fd.hpp"
#include "devices/guest_control.hpp"
#include "devices/serial.hpp"

namespace moat::vmm {

class ContainerLink final {
public:
    // `end` stops the VM: with "" when the workload has exited, else with why the guest's init
    // broke the protocol.
    ContainerLink(base::UniqueFd ready, base::UniqueFd start, std::function<void(const std::string&)> end);
    ContainerLink(const ContainerLink&) = delete;
    ContainerLink& operator=(const ContainerLink&) = delete;

    // A byte the guest wrote to the control port.
    void on_control_byte(std::uint8_t c);

    // Queues a line for the guest; a guest that does not read its port gets at most
    // k_max_pending bytes queued, the rest dropped (and logged).
    void say(std::string_view line);
    // Moves queued bytes into the control port as far as it takes them. True while some remain.
    bool flush(devices::Serial& port);

    int start_fd() const { return m_start.get(); }
    // The start descriptor became readable: drains it. True the first time a byte arrived (the
    // workload is to start); the caller stops watching it when this or an end of file says so.
    enum class Start : std::uint8_t { Nothing, Go, Closed };
    Start take_start();

    // What the VM process ends with: the workload's status (`exit N`), the status of an error
    // that kept it from starting (127 for a missing executable), or
    // GuestControl::k_status_broken when the guest said neither or broke the protocol.
    int status() const;

    static constexpr std::size_t k_max_pending = 4096;

private:
    void tell_ready(std::string_view line);

    mutable std::mutex m_lock;  // guards everything below
    base::UniqueFd m_ready;
    base::UniqueFd m_start;
    std::function<void(const std::string&)> m_end;
    devices::GuestControl m_control;
    std::string m_pending;  // host → guest bytes the port has not taken yet (event thread only)
    bool m_started = false;
    bool m_told = false;    // the ready descriptor has had its line
    bool m_broken = false;  // the guest broke the protocol (the VM was ended for it)
    int m_status = devices::GuestControl::k_status_broken;
};

}  // namespace moat::vmm
