// Reading audit logs: chain verification, filtering and one-line rendering for `moat audit`.
// Not part of the trusted monitor (library moat_audit_tools); the input is untrusted text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moat::monitor {

struct VerifyReport {
    bool ok = true;
    std::uint64_t records = 0;   // records verified (all of them when ok, those before the bad one otherwise)
    std::uint64_t bad_seq = 0;   // seq expected at the first bad line, counted by position (0 when ok)
    std::uint64_t bad_line = 0;  // 1-based line number of the first bad line (0 when ok)
    std::string why;             // what is wrong with it (empty when ok)
};

// A record known from outside the file (AuditLog::last_seq/last_hash published at the time).
// The chain alone cannot show that records were cut from the end; an anchor can.
struct AuditAnchor {
    std::uint64_t seq;
    std::string hash;  // 64 lower-case hex digits
};

// Parses "SEQ:HASH" (decimal seq >= 1, 64 lower-case hex); nullopt if malformed.
std::optional<AuditAnchor> parse_audit_anchor(std::string_view text);

// Checks every line of `text` in order: JSON object with seq, time, event first and prev,
// hash last, string or integer values, hash = SHA-256 over prev and the raw bytes, seq
// counting from 1, prev equal to the previous hash, a final newline; then, if given, that
// the record at anchor->seq exists and has anchor->hash. Stops at the first bad line. An
// empty text verifies with 0 records.
VerifyReport verify_audit(std::string_view text, const std::optional<AuditAnchor>& anchor = std::nullopt);

// "ok: N records" or "seq N (line L): why".
std::string format_report(const VerifyReport& r);

// The lines (views into `text`, without '\n') that parse as JSON objects and whose "vm" equals
// `vm` and whose "event" equals `event` or starts with `event` + "." (so "vm" matches
// "vm.start"). A filter that is nullopt matches everything. Lines that are not records are left out.
std::vector<std::string_view> filter_audit(std::string_view text, std::optional<std::string_view> vm,
                                           std::optional<std::string_view> event);

// "#12 2026-11-27T01:02:03.456Z vm.start vm=web pid=1234": seq, time, event, then the other
// fields in file order except prev and hash. Values that are not plain words are shown as
// JSON strings with every non-ASCII or control character escaped, so a line is safe to print
// on a terminal. A line that is not a JSON object renders as "(not a record)".
std::string render_record(std::string_view line);

}  // namespace moat::monitor
