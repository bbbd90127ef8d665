// libFuzzer target: the audit log reader (verify, filter, render) on arbitrary bytes. The log
// file is untrusted input to `moat audit`; none of this may crash, and rendered lines must be
// safe to print on a terminal.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.hpp"
#include "monitor/audit_verify.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    using namespace moat::monitor;

    const VerifyReport r = verify_audit(text);
    const auto newlines = static_cast<std::uint64_t>(std::count(text.begin(), text.end(), '\n'));
    if (r.ok) {
        // Every line is a record and the last one is complete.
        MOAT_CHECK(text.empty() || text.back() == '\n');
        MOAT_CHECK(r.records == newlines);
    } else {
        MOAT_CHECK(r.bad_seq == r.records + 1 && r.bad_line >= 1 && !r.why.empty());
        MOAT_CHECK(r.bad_line <= newlines + 1);
    }

    for (const auto& f : {filter_audit(text, std::nullopt, std::nullopt), filter_audit(text, "web", "vm")}) {
        for (std::string_view line : f) {
            MOAT_CHECK(line.data() >= text.data() && line.data() + line.size() <= text.data() + text.size());
            MOAT_CHECK(line.find('\n') == std::string_view::npos);
            const std::string shown = render_record(line);
            for (char c : shown) {
                const auto u = static_cast<unsigned char>(c);
                MOAT_CHECK(u >= 0x20 && u < 0x7f);
            }
        }
    }
    return 0;
}
