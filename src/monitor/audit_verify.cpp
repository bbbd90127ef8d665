// Audit log verification and viewing. The log is untrusted input here: every line is parsed
// without exceptions escaping, nested values are discarded while parsing, and rendered text
// is escaped for the terminal.
#include "monitor/audit_verify.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

#include "monitor/audit.hpp"

namespace moat::monitor {

namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view k_hash_key = ",\"hash\":\"";
constexpr std::string_view k_zero_hash = "0000000000000000000000000000000000000000000000000000000000000000";
static_assert(k_zero_hash.size() == k_audit_hash_hex_len);

struct ParsedLine {
    Json obj;                       // top-level members; nested objects and arrays dropped
    std::vector<std::string> keys;  // top-level keys in file order, duplicates included
    bool nested = false;            // some value was an object or an array
};

// Parses one line as a JSON object. nullopt if it is not one.
std::optional<ParsedLine> parse_line(std::string_view line)
{
    ParsedLine p;
    auto cb = [&p](int depth, Json::parse_event_t ev, Json& parsed) {
        if (depth == 1 && ev == Json::parse_event_t::key && parsed.is_string())
            p.keys.push_back(parsed.get_ref<const std::string&>());
        if (depth >= 1 && (ev == Json::parse_event_t::object_start || ev == Json::parse_event_t::array_start)) {
            p.nested = true;
            return false;  // skip it: records hold no nested values, and the DOM stays flat
        }
        return true;
    };
    try {
        p.obj = Json::parse(line.begin(), line.end(), cb, /*allow_exceptions=*/false);
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;
    }
    if (p.obj.is_discarded() || !p.obj.is_object()) return std::nullopt;
    return p;
}

bool is_lower_hex64(std::string_view s)
{
    if (s.size() != k_audit_hash_hex_len) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

bool is_hash_value(const Json& v) { return v.is_string() && is_lower_hex64(v.get_ref<const std::string&>()); }

// "YYYY-MM-DDTHH:MM:SS.mmmZ", digits where digits belong.
bool is_audit_time(const Json& v)
{
    if (!v.is_string()) return false;
    const auto& s = v.get_ref<const std::string&>();
    constexpr std::string_view shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (s.size() != shape.size()) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i]) return false;
    }
    return true;
}

const Json* member(const Json& obj, const char* key)
{
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

struct Record {
    std::uint64_t seq;
    std::string prev;
    std::string hash;
};

// Checks one line on its own (shape and hash); the caller checks the chain. Returns the
// reason it is bad, or nullopt with `out` filled in.
std::optional<std::string> check_line(std::string_view line, Record& out)
{
    if (line.empty()) return "empty line";
    auto parsed = parse_line(line);
    if (!parsed) return "not a JSON object";
    const Json& obj = parsed->obj;
    const auto& keys = parsed->keys;
    if (parsed->nested) return "a field value is an object or an array";
    for (std::size_t i = 0; i < keys.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (keys[i] == keys[j]) return "duplicate key";
    for (const auto& [k, v] : obj.items())
        if (!v.is_string() && !v.is_number_integer()) return "a field value is not a string or an integer";
    for (const char* k : {"seq", "time", "event", "prev", "hash"})
        if (member(obj, k) == nullptr) return std::string("missing key \"") + k + "\"";
    const std::size_t n = keys.size();
    if (keys[0] != "seq" || keys[1] != "time" || keys[2] != "event")
        return "keys out of place: a record starts with seq, time, event";
    if (keys[n - 2] != "prev" || keys[n - 1] != "hash")
        return "keys out of place: a record ends with prev, hash";

    const Json& seq = *member(obj, "seq");
    if (!seq.is_number_unsigned() || seq.get<std::uint64_t>() == 0) return "seq is not a positive integer";
    if (!is_audit_time(*member(obj, "time"))) return "time is not YYYY-MM-DDTHH:MM:SS.mmmZ";
    const Json& event = *member(obj, "event");
    if (!event.is_string() || event.get_ref<const std::string&>().empty()) return "event is not a non-empty string";
    if (!is_hash_value(*member(obj, "prev"))) return "prev is not 64 lower-case hex digits";
    if (!is_hash_value(*member(obj, "hash"))) return "hash is not 64 lower-case hex digits";

    out.seq = seq.get<std::uint64_t>();
    out.prev = member(obj, "prev")->get_ref<const std::string&>();
    out.hash = member(obj, "hash")->get_ref<const std::string&>();
    // The hash covers the raw bytes up to `,"hash":`, so the line must end exactly so.
    const std::string tail = std::string(k_hash_key) + out.hash + "\"}";
    if (line.size() <= tail.size() || line.substr(line.size() - tail.size()) != tail)
        return "not in canonical form: the line must end with ,\"hash\":\"<hash>\"}";
    const auto want = audit_chain_hash(out.prev, line.substr(0, line.size() - tail.size()));
    if (!want) return "cannot compute SHA-256";
    if (std::string_view(want->data(), want->size()) != out.hash) return "hash mismatch: record was changed";
    return std::nullopt;
}

VerifyReport bad(std::uint64_t records, std::uint64_t line_no, std::string why)
{
    return VerifyReport{false, records, records + 1, line_no, std::move(why)};
}

bool is_plain(const std::string& s)
{
    if (s.empty()) return false;
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        std::string_view("._:/@+-,").find(c) != std::string_view::npos;
        if (!ok) return false;
    }
    return true;
}

// A value safe to print: plain words bare, anything else as an ASCII-only JSON string.
void render_value(const Json& v, std::string& out)
{
    if (v.is_string() && is_plain(v.get_ref<const std::string&>())) {
        out += v.get_ref<const std::string&>();
        return;
    }
    out += v.dump(-1, ' ', /*ensure_ascii=*/true, Json::error_handler_t::replace);
}

// Calls f(line, line_no, terminated) for each line of text.
template <typename F>
void for_each_line(std::string_view text, F&& f)
{
    std::uint64_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        const auto nl = text.find('\n');
        if (nl == std::string_view::npos) {
            if (!f(text, line_no, false)) return;
            break;
        }
        if (!f(text.substr(0, nl), line_no, true)) return;
        text.remove_prefix(nl + 1);
    }
}

}  // namespace

std::optional<AuditAnchor> parse_audit_anchor(std::string_view text)
{
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::uint64_t seq = 0;
    const char* b = text.data();
    const char* e = text.data() + colon;
    auto [p, ec] = std::from_chars(b, e, seq);
    if (ec != std::errc() || p != e || seq == 0) return std::nullopt;
    const std::string_view hash = text.substr(colon + 1);
    if (!is_lower_hex64(hash)) return std::nullopt;
    return AuditAnchor{seq, std::string(hash)};
}

VerifyReport verify_audit(std::string_view text, const std::optional<AuditAnchor>& anchor)
{
    VerifyReport report;
    std::string prev_hash(k_zero_hash);
    std::uint64_t lines = 0;
    bool anchor_seen = false;
    for_each_line(text, [&](std::string_view line, std::uint64_t line_no, bool terminated) {
        lines = line_no;
        Record rec{};
        if (!terminated) {
            report = bad(report.records, line_no, "truncated record: no final newline");
            return false;
        }
        if (auto why = check_line(line, rec)) {
            report = bad(report.records, line_no, std::move(*why));
            return false;
        }
        const std::uint64_t expected = report.records + 1;
        if (rec.seq != expected) {
            report = bad(report.records, line_no,
                         "found seq " + std::to_string(rec.seq) + ": a record is missing, inserted or out of order");
            return false;
        }
        if (rec.prev != prev_hash) {
            report = bad(report.records, line_no,
                         "prev does not match the previous record's hash: a record is missing, inserted or out of order");
            return false;
        }
        if (anchor && rec.seq == anchor->seq) {
            if (rec.hash != anchor->hash) {
                report = bad(report.records, line_no, "hash differs from the anchor: the log was rewritten");
                return false;
            }
            anchor_seen = true;
        }
        prev_hash = std::move(rec.hash);
        report.records = expected;
        return true;
    });
    if (report.ok && anchor && !anchor_seen)
        report = bad(report.records, lines + 1,
                     "log ends before the anchor's seq " + std::to_string(anchor->seq) + ": records were removed from the end");
    return report;
}

std::string format_report(const VerifyReport& r)
{
    if (r.ok) return "ok: " + std::to_string(r.records) + (r.records == 1 ? " record" : " records");
    return "seq " + std::to_string(r.bad_seq) + " (line " + std::to_string(r.bad_line) + "): " + r.why;
}

std::vector<std::string_view> filter_audit(std::string_view text, std::optional<std::string_view> vm,
                                           std::optional<std::string_view> event)
{
    std::vector<std::string_view> out;
    for_each_line(text, [&](std::string_view line, std::uint64_t, bool) {
        const auto p = parse_line(line);
        if (!p) return true;
        if (vm) {
            const Json* v = member(p->obj, "vm");
            if (v == nullptr || !v->is_string() || v->get_ref<const std::string&>() != *vm) return true;
        }
        if (event) {
            const Json* v = member(p->obj, "event");
            if (v == nullptr || !v->is_string()) return true;
            const std::string_view e = v->get_ref<const std::string&>();
            const bool match = e == *event || (e.size() > event->size() && e.substr(0, event->size()) == *event &&
                                               e[event->size()] == '.');
            if (!match) return true;
        }
        out.push_back(line);
        return true;
    });
    return out;
}

std::string render_record(std::string_view line)
{
    const auto p = parse_line(line);
    if (!p) return "(not a record)";
    const Json& obj = p->obj;
    std::string out = "#";
    const Json* seq = member(obj, "seq");
    if (seq != nullptr && seq->is_number_unsigned())
        out += std::to_string(seq->get<std::uint64_t>());
    else
        out += '?';
    for (const char* k : {"time", "event"}) {
        out += ' ';
        const Json* v = member(obj, k);
        if (v == nullptr)
            out += '?';
        else
            render_value(*v, out);
    }
    for (const auto& [k, v] : obj.items()) {
        if (k == "seq" || k == "time" || k == "event" || k == "prev" || k == "hash") continue;
        out += ' ';
        if (is_plain(k))
            out += k;
        else
            render_value(Json(k), out);
        out += '=';
        render_value(v, out);
    }
    return out;
}

}  // namespace moat::monitor
