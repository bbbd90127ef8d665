// The audit log writer: one hash-chained JSON line per security-relevant event (DESIGN.md "Audit").
//
// Record format (keys in this order, no whitespace):
//   {"seq":N,"time":"2026-11-27T01:02:03.456Z","event":"vm.start",<fields>,"prev":"<64 hex>","hash":"<64 hex>"}
// - seq starts at 1 and rises by one; prev of the first record is 64 '0's, of any later record
//   the previous record's hash.
// - hash = hex(SHA-256(P || "\n" || B)): P is the 64-hex prev text, B the line's bytes from '{'
//   up to (not including) the `,"hash":` that ends the record. A verifier recomputes it from
//   the raw bytes, without re-serialising.
// - String values are JSON-escaped: '"' and '\\' with a backslash; control characters and DEL
//   as \u00XX; valid UTF-8 passes through; each byte of an invalid UTF-8 sequence becomes
//   \ufffd (so a record is always valid JSON and the substitution is visible).
//
// This file is part of the trusted monitor: it uses no JSON library, only libcrypto's SHA-256.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace moat::monitor {

// Hex digits of one SHA-256 digest.
inline constexpr std::size_t k_audit_hash_hex_len = 64;
// Longest record append() writes, and longest tail open() reads back. Keeps a line one
// write(2) and bounds what open() reads.
inline constexpr std::size_t k_audit_max_record = 64 * 1024;

using AuditHash = std::array<char, k_audit_hash_hex_len>;

// One event field. `key` is [a-z_]+, not one of the record's own keys, and unique within a
// record (MOAT_CHECK: keys come from our code). String values may hold any bytes.
struct AuditField {
    std::string_view key;
    std::variant<std::string_view, std::int64_t> value;
};

// hex(SHA-256(prev_hex || "\n" || body)), lower case: the chain rule above. Fails only if
// libcrypto does.
Result<AuditHash> audit_chain_hash(std::string_view prev_hex, std::string_view body);

// Appends `s` JSON-escaped (as described above, without the surrounding quotes) to `out`.
void audit_escape(std::string_view s, std::string& out);

// An append-only, hash-chained audit log file. Owns its fd. Not thread-safe: the monitor
// serialises appends (one writer per file is enforced with an exclusive flock).
class AuditLog final {
public:
    // Opens or creates (mode 0600, O_APPEND, O_NOFOLLOW) `path` and continues its chain. An
    // existing file must end in a complete, well-formed record whose hash checks, else it is
    // refused (Errc::InvalidInput; the caller names the file): the writer never appends to a
    // damaged chain. Fails with Errc::Io/EWOULDBLOCK if another AuditLog holds the file.
    static Result<AuditLog> open(const std::string& path);
    // The same, relative to a directory fd (AT_FDCWD allowed), for the monitor's state dir.
    static Result<AuditLog> open_at(int dir_fd, const std::string& name);

    AuditLog(AuditLog&&) noexcept = default;
    AuditLog& operator=(AuditLog&&) noexcept = default;
    AuditLog(const AuditLog&) = delete;
    AuditLog& operator=(const AuditLog&) = delete;
    ~AuditLog() = default;

    // Writes one record with a single write(2) and fdatasync()s it before returning, so the
    // record authorising an act is durable before the act. `event` is [a-z0-9_.]+ (MOAT_CHECK).
    // Errc::OutOfRange if the record would exceed k_audit_max_record (nothing written). After an
    // I/O error the log is poisoned (the file may hold a partial line) and every later append
    // fails: the caller must not perform an act whose record may not have been kept.
    Result<void> append(std::string_view event, std::initializer_list<AuditField> fields);
    Result<void> append(std::string_view event, std::span<const AuditField> fields);

    // Seq of the last record in the file (0 for an empty log).
    std::uint64_t last_seq() const { return m_seq; }
    // Hash of the last record (64 '0's for an empty log). Publishing (seq, hash) elsewhere is
    // an anchor that lets a verifier detect removal of records from the end.
    std::string_view last_hash() const { return {m_hash.data(), m_hash.size()}; }

private:
    Result<void> write_durably(const std::string& line);
    AuditLog(base::UniqueFd fd, std::uint64_t seq, const AuditHash& hash)
        : m_fd(std::move(fd)), m_seq(seq), m_hash(hash)
    {
    }

    base::UniqueFd m_fd;
    std::uint64_t m_seq;
    AuditHash m_hash;
    bool m_poisoned = false;
};

}  // namespace moat::monitor
