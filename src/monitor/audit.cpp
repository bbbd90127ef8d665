// The audit log writer: record serialisation, the SHA-256 chain, and durable appends.
#include "monitor/audit.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <ctime>

#include "base/check.hpp"

namespace moat::monitor {

namespace {

constexpr std::string_view k_hash_key = ",\"hash\":\"";
constexpr std::string_view k_prev_key = ",\"prev\":\"";
constexpr std::string_view k_seq_key = "{\"seq\":";
constexpr std::string_view k_time_key = ",\"time\":\"";
// `,"prev":"<64>"` + `,"hash":"<64>"}`: the fixed-width end of every record.
constexpr std::size_t k_hash_tail = k_hash_key.size() + k_audit_hash_hex_len + 2;
constexpr std::size_t k_prev_tail = k_prev_key.size() + k_audit_hash_hex_len + 1;

constexpr AuditHash zero_hash()
{
    AuditHash h{};
    h.fill('0');
    return h;
}

bool is_key_char(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }
bool is_event_char(char c) { return is_key_char(c) || (c >= '0' && c <= '9') || c == '.'; }
bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool all_of(std::string_view s, bool (*pred)(char))
{
    for (char c : s)
        if (!pred(c)) return false;
    return true;
}

// The record's own keys; an event field may not reuse them.
bool is_reserved_key(std::string_view k)
{
    return k == "seq" || k == "time" || k == "event" || k == "prev" || k == "hash";
}

void append_u00(unsigned v, std::string& out)
{
    constexpr char hex[] = "0123456789abcdef";
    out += "\\u00";
    out += hex[(v >> 4) & 0xf];
    out += hex[v & 0xf];
}

// Length of the valid UTF-8 sequence starting at s[i] (RFC 3629 §4: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 if the bytes there are not one.
std::size_t utf8_len(std::string_view s, std::size_t i)
{
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned c = b(i);
    std::size_t n;
    unsigned lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;  // overlong
        if (c == 0xed) hi = 0x9f;  // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;  // overlong
        if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
    } else {
        return 0;
    }
    if (s.size() - i < n) return 0;
    if (b(i + 1) < lo || b(i + 1) > hi) return 0;
    for (std::size_t k = 2; k < n; ++k)
        if (b(i + k) < 0x80 || b(i + k) > 0xbf) return 0;
    return n;
}

void append_u64(std::uint64_t v, std::string& out)
{
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

void append_i64(std::int64_t v, std::string& out)
{
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

// UTC wall-clock time with milliseconds: "2026-11-27T01:02:03.456Z" (RFC 3339 §5.6).
Result<void> append_time(std::string& out)
{
    timespec ts{};
    if (::clock_gettime(CLOCK_REALTIME, &ts) != 0) return fail_errno("clock_gettime");
    tm t{};
    if (::gmtime_r(&ts.tv_sec, &t) == nullptr) return fail(Errc::OutOfRange, "audit: time out of range");
    char buf[40];
    const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                                t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min,
                                t.tm_sec, static_cast<int>(ts.tv_nsec / 1000000));
    if (n <= 0 || static_cast<std::size_t>(n) >= sizeof buf)
        return fail(Errc::OutOfRange, "audit: time out of range");
    out.append(buf, static_cast<std::size_t>(n));
    return {};
}

// Reads exactly buf.size() bytes at `off`.
Result<void> pread_all(int fd, std::span<char> buf, off_t off)
{
    std::size_t done = 0;
    while (done < buf.size()) {
        const ssize_t n = ::pread(fd, buf.data() + done, buf.size() - done,
                                  off + static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("audit log: read");
        if (n == 0) return fail(Errc::InvalidInput, "audit log: changed while being read");
        done += static_cast<std::size_t>(n);
    }
    return {};
}

struct Tail {
    std::uint64_t seq;
    AuditHash hash;
};

// Checks one complete record line (without its '\n') the way the writer wrote it: the seq
// prefix, the fixed-width prev/hash suffix, and that the hash matches the bytes.
Result<Tail> parse_tail_record(std::string_view line)
{
    constexpr const char* k_malformed = "audit log: last record is malformed";
    if (line.size() < k_seq_key.size() + k_time_key.size() + k_prev_tail + k_hash_tail ||
        line.substr(0, k_seq_key.size()) != k_seq_key)
        return fail(Errc::InvalidInput, k_malformed);
    std::uint64_t seq = 0;
    const char* digits = line.data() + k_seq_key.size();
    const char* end = line.data() + line.size();
    auto [p, ec] = std::from_chars(digits, end, seq);
    if (ec != std::errc() || p == digits || *digits == '0' ||
        std::string_view(p, static_cast<std::size_t>(end - p)).substr(0, k_time_key.size()) != k_time_key)
        return fail(Errc::InvalidInput, k_malformed);
    if (seq == UINT64_MAX) return fail(Errc::OutOfRange, "audit log: seq exhausted");

    const std::string_view body = line.substr(0, line.size() - k_hash_tail);
    const std::string_view hash_part = line.substr(body.size());
    const std::string_view prev_part = body.substr(body.size() - k_prev_tail);
    if (hash_part.substr(0, k_hash_key.size()) != k_hash_key || hash_part.substr(k_hash_tail - 2) != "\"}" ||
        prev_part.substr(0, k_prev_key.size()) != k_prev_key || prev_part.back() != '"')
        return fail(Errc::InvalidInput, k_malformed);
    const std::string_view hash = hash_part.substr(k_hash_key.size(), k_audit_hash_hex_len);
    const std::string_view prev = prev_part.substr(k_prev_key.size(), k_audit_hash_hex_len);
    if (!all_of(hash, is_lower_hex) || !all_of(prev, is_lower_hex))
        return fail(Errc::InvalidInput, k_malformed);

    const AuditHash want = MOAT_TRY(audit_chain_hash(prev, body));
    if (std::string_view(want.data(), want.size()) != hash)
        return fail(Errc::InvalidInput, "audit log: last record's hash does not match its bytes");
    Tail t{seq, {}};
    std::copy(hash.begin(), hash.end(), t.hash.begin());
    return t;
}

// Finds the last line of the open log and takes the chain's state from it.
Result<Tail> read_tail(int fd)
{
    struct stat st {};
    if (::fstat(fd, &st) != 0) return fail_errno("audit log: fstat");
    if (!S_ISREG(st.st_mode)) return fail(Errc::InvalidInput, "audit log: not a regular file");
    if (st.st_size == 0) return Tail{0, zero_hash()};

    const auto size = static_cast<std::uint64_t>(st.st_size);
    // The last record with its '\n', plus the '\n' that ends the record before it.
    const std::size_t want = size < k_audit_max_record + 1 ? static_cast<std::size_t>(size) : k_audit_max_record + 1;
    std::string buf(want, '\0');
    MOAT_TRY(pread_all(fd, buf, static_cast<off_t>(size - want)));
    if (buf.back() != '\n')
        return fail(Errc::InvalidInput, "audit log: last record is truncated (no final newline)");
    std::string_view text(buf.data(), buf.size() - 1);
    const auto nl = text.rfind('\n');
    if (nl == std::string_view::npos && want < size)
        return fail(Errc::InvalidInput, "audit log: last record is longer than the maximum");
    if (nl != std::string_view::npos) text.remove_prefix(nl + 1);
    return parse_tail_record(text);
}

}  // namespace

Result<AuditHash> audit_chain_hash(std::string_view prev_hex, std::string_view body)
{
    // One buffer so one EVP_Digest call suffices; records are small (k_audit_max_record).
    std::string msg;
    msg.reserve(prev_hex.size() + 1 + body.size());
    msg.append(prev_hex);
    msg += '\n';
    msg.append(body);
    // libcrypto's first use would read the system's openssl.cnf, which could change which
    // provider computes the digest; the monitor reads no configuration but its manifest.
    // Idempotent, cheap after the first call.
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(msg.data(), msg.size(), md, &md_len, EVP_sha256(), nullptr) != 1 ||
        md_len * 2 != k_audit_hash_hex_len)
        return fail(Errc::Unsupported, "audit: SHA-256 failed (libcrypto)");
    constexpr char hex[] = "0123456789abcdef";
    AuditHash out{};
    for (unsigned int i = 0; i < md_len; ++i) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    return out;
}

void audit_escape(std::string_view s, std::string& out)
{
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += s[i];
            ++i;
        } else if (c < 0x20 || c == 0x7f) {  // RFC 8259 §7 requires < 0x20; DEL for terminals
            append_u00(c, out);
            ++i;
        } else if (c < 0x80) {
            out += s[i];
            ++i;
        } else if (const std::size_t n = utf8_len(s, i); n == 0) {
            out += "\\ufffd";  // one replacement character per invalid byte
            ++i;
        } else if (n == 2 && c == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0) {
            append_u00(static_cast<unsigned char>(s[i + 1]), out);  // C1 controls, for terminals
            i += 2;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
}

Result<AuditLog> AuditLog::open(const std::string& path)
{
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    base::UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd.valid()) return fail_errno("audit log: open directory");
    return open_at(dfd.get(), name);
}

Result<AuditLog> AuditLog::open_at(int dir_fd, const std::string& name)
{
    if (name.empty() || name == "." || name == "..")
        return fail(Errc::InvalidInput, "audit log: path names no file");
    // O_RDWR rather than O_WRONLY: the tail is read through the same open file, so it is the
    // file that will be appended to. O_NOFOLLOW: the state dir may not redirect the log.
    base::UniqueFd fd(::openat(dir_fd, name.c_str(),
                               O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd.valid()) return fail_errno("audit log: open");
    // Two writers would fork the chain.
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return fail_errno("audit log: in use (flock)");
    const Tail tail = MOAT_TRY(read_tail(fd.get()));
    if (tail.seq == 0) {
        // A new (or empty) file: make its directory entry durable too, not only its data.
        base::UniqueFd dfd(::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dfd.valid() || ::fsync(dfd.get()) != 0) return fail_errno("audit log: fsync directory");
    }
    return AuditLog(std::move(fd), tail.seq, tail.hash);
}

Result<void> AuditLog::append(std::string_view event, std::initializer_list<AuditField> fields)
{
    return append(event, std::span<const AuditField>(fields.begin(), fields.size()));
}

// One write(2): O_APPEND places the whole line at the end. A short write leaves a partial line,
// which open() and the verifier both reject; no later record may follow it, so any failure
// poisons the log. After a failed fdatasync the page cache state is unknown (the error may not
// be reported again), so that too poisons rather than retries.
Result<void> AuditLog::write_durably(const std::string& line)
{
    ssize_t n;
    do {
        n = ::write(m_fd.get(), line.data(), line.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        m_poisoned = true;
        return fail_errno("audit log: write");
    }
    if (static_cast<std::size_t>(n) != line.size()) {
        m_poisoned = true;
        return fail(Errc::Io, "audit log: short write", ENOSPC);
    }
    if (::fdatasync(m_fd.get()) != 0) {
        m_poisoned = true;
        return fail_errno("audit log: fdatasync");
    }
    return {};
}

Result<void> AuditLog::append(std::string_view event, std::span<const AuditField> fields)
{
    MOAT_CHECK(!event.empty() && all_of(event, is_event_char));
    for (std::size_t i = 0; i < fields.size(); ++i) {
        MOAT_CHECK(!fields[i].key.empty() && all_of(fields[i].key, is_key_char));
        MOAT_CHECK(!is_reserved_key(fields[i].key));
        for (std::size_t j = 0; j < i; ++j) MOAT_CHECK(fields[j].key != fields[i].key);
    }
    if (m_poisoned) return fail(Errc::Io, "audit log: an earlier write failed", EIO);
    MOAT_CHECK(m_seq < UINT64_MAX);
    const std::uint64_t seq = m_seq + 1;

    std::string line;
    line.reserve(256);
    line += k_seq_key;
    append_u64(seq, line);
    line += k_time_key;
    MOAT_TRY(append_time(line));
    line += "\",\"event\":\"";
    line += event;
    line += '"';
    for (const AuditField& f : fields) {
        line += ",\"";
        line += f.key;
        line += "\":";
        if (const auto* s = std::get_if<std::string_view>(&f.value)) {
            line += '"';
            audit_escape(*s, line);
            line += '"';
        } else {
            append_i64(std::get<std::int64_t>(f.value), line);
        }
    }
    line += k_prev_key;
    line.append(m_hash.data(), m_hash.size());
    line += '"';
    const AuditHash hash = MOAT_TRY(audit_chain_hash(last_hash(), line));
    line += k_hash_key;
    line.append(hash.data(), hash.size());
    line += "\"}\n";
    if (line.size() > k_audit_max_record) return fail(Errc::OutOfRange, "audit: record too long");

    MOAT_TRY(write_durably(line));
    m_seq = seq;
    m_hash = hash;
    return {};
}

}  // namespace moat::monitor
