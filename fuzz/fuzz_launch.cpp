// libFuzzer target: the launch message a VM process decodes (src/vmm/launch.cpp). Invariants:
// never crashes; what it accepts is within the decoder's bounds and encodes back to a message
// that decodes to the same launch.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.hpp"
#include "vmm/launch.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace moat::vmm;
    auto l = decode_launch(std::string_view(reinterpret_cast<const char*>(data), size));
    if (!l) return 0;
    MOAT_CHECK(l->cpus >= 1 && l->cpus <= 255);
    MOAT_CHECK(l->input_names.size() <= kMaxLaunchInputNames);
    MOAT_CHECK(launch_fd_count(*l) >= 2);
    auto again = decode_launch(encode_launch(*l));
    MOAT_CHECK(again.has_value());
    MOAT_CHECK(again->name == l->name && again->cmdline == l->cmdline && again->memory == l->memory &&
               again->cpus == l->cpus && again->initrd == l->initrd && again->disk_writable == l->disk_writable &&
               again->standalone == l->standalone && again->verbose == l->verbose);
    MOAT_CHECK(again->input_names.size() == l->input_names.size());
    return 0;
}
