// Mapping: a move-only owner of one mmap()ed range.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <utility>

#include "base/result.hpp"

namespace moat::base {

class Mapping final {
public:
    Mapping() = default;
    Mapping(Mapping&& o) noexcept
        : m_addr(std::exchange(o.m_addr, nullptr)), m_size(std::exchange(o.m_size, 0))
    {
    }
    Mapping& operator=(Mapping&& o) noexcept
    {
        if (this != &o) {
            unmap();
            m_addr = std::exchange(o.m_addr, nullptr);
            m_size = std::exchange(o.m_size, 0);
        }
        return *this;
    }
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    ~Mapping() { unmap(); }

    // Anonymous private memory, reserved lazily: nothing is touched or committed up front.
    static Result<Mapping> anonymous(std::size_t size);
    // A shared mapping of `fd` (for example a vCPU's kvm_run page).
    static Result<Mapping> shared(int fd, std::size_t size, int prot = PROT_READ | PROT_WRITE);

    void* addr() const { return m_addr; }
    std::size_t size() const { return m_size; }

private:
    Mapping(void* addr, std::size_t size) : m_addr(addr), m_size(size) {}
    void unmap()
    {
        if (m_addr) ::munmap(m_addr, m_size);
        m_addr = nullptr;
        m_size = 0;
    }

    void* m_addr = nullptr;
    std::size_t m_size = 0;
};

}  // namespace moat::base
