// libFuzzer target: the control socket's request parser (src/monitor/control.cpp), which the
// monitor runs on lines a local client sends. Invariants: never crashes; what it accepts is
// a known command, and a VM name exactly when the command takes one; quoting round-trips.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/check.hpp"
#include "monitor/control.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    auto r = moat::monitor::parse_request(line);
    if (r.has_value()) {
        using moat::monitor::Command;
        const bool takes_vm = r->cmd == Command::Stop || r->cmd == Command::Console;
        MOAT_CHECK(takes_vm == !r->vm.empty());
        MOAT_CHECK(size <= moat::monitor::k_max_request);
        // The monitor's own quoting reads back as the same name wherever the parser accepts it
        // (it refuses the \ufffd and \u0080.. escapes json_string uses for other bytes).
        const std::string again = std::string(R"({"cmd":"stop","vm":)") + moat::monitor::json_string(r->vm) + "}";
        if (auto back = moat::monitor::parse_request(again); back.has_value()) MOAT_CHECK(back->vm == r->vm);
    }
    return 0;
}
