// RecordingWatcher: a HostWatcher that only remembers which descriptor has which token, so that a
// test or fuzzer can play the event loop (call Device::host_ready itself). Tests and fuzzers only.
#pragma once

#include <cstdint>
#include <map>

#include "virtio/device.hpp"

namespace moat::virtio::testing {

class RecordingWatcher final : public HostWatcher {
public:
    bool watch(int fd, std::uint32_t token) override
    {
        tokens[fd] = token;
        return true;
    }
    void unwatch(int fd) override { tokens.erase(fd); }
    std::map<int, std::uint32_t> tokens;
};

}  // namespace moat::virtio::testing
