// The control protocol's request parser: a strict subset of JSON, flat objects of strings.
#include "monitor/control.hpp"

#include <optional>

#include "monitor/audit.hpp"

namespace moat::monitor {

namespace {

// A cursor over one request line. Every method fails rather than guess.
class Reader {
public:
    explicit Reader(std::string_view s) : m_s(s) {}

    void skip_space()
    {
        while (m_pos < m_s.size() && (m_s[m_pos] == ' ' || m_s[m_pos] == '\t' || m_s[m_pos] == '\r')) ++m_pos;
    }
    bool eat(char c)
    {
        skip_space();
        if (m_pos < m_s.size() && m_s[m_pos] == c) {
            ++m_pos;
            return true;
        }
        return false;
    }
    bool at_end()
    {
        skip_space();
        return m_pos == m_s.size();
    }
    // A string literal; only the escapes a client needs. \u00XX gives one byte below 0x80.
    std::optional<std::string> string()
    {
        if (!eat('"')) return std::nullopt;
        std::string out;
        while (m_pos < m_s.size()) {
            const char c = m_s[m_pos++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;  // raw control byte
            if (c != '\\') {
                out.push_back(c);
                continue;
            }
            if (m_pos >= m_s.size()) return std::nullopt;
            const char e = m_s[m_pos++];
            switch (e) {
            case '"': out.push_back('"'); break;
            case '\\': out.push_back('\\'); break;
            case '/': out.push_back('/'); break;
            case 'n': out.push_back('\n'); break;
            case 't': out.push_back('\t'); break;
            case 'u': {
                if (m_s.size() - m_pos < 4 || m_s.substr(m_pos, 2) != "00") return std::nullopt;
                int v = 0;
                for (char h : m_s.substr(m_pos + 2, 2)) {
                    v *= 16;
                    if (h >= '0' && h <= '9') v += h - '0';
                    else if (h >= 'a' && h <= 'f') v += h - 'a' + 10;
                    else if (h >= 'A' && h <= 'F') v += h - 'A' + 10;
                    else return std::nullopt;
                }
                if (v >= 0x80) return std::nullopt;
                out.push_back(static_cast<char>(v));
                m_pos += 4;
                break;
            }
            default: return std::nullopt;
            }
        }
        return std::nullopt;  // unterminated
    }

private:
    std::string_view m_s;
    std::size_t m_pos = 0;
};

std::optional<Command> command_named(std::string_view name)
{
    if (name == "ls") return Command::Ls;
    if (name == "stop") return Command::Stop;
    if (name == "down") return Command::Down;
    if (name == "console") return Command::Console;
    return std::nullopt;
}

}  // namespace

Result<Request> parse_request(std::string_view line)
{
    if (line.size() > k_max_request) return fail(Errc::InvalidInput, "request too long");
    Reader r(line);
    std::optional<std::string> cmd;
    std::optional<std::string> vm;
    if (!r.eat('{')) return fail(Errc::InvalidInput, "request is not a JSON object");
    if (!r.eat('}')) {
        do {
            auto key = r.string();
            if (!key || !r.eat(':')) return fail(Errc::InvalidInput, "malformed request");
            auto value = r.string();
            if (!value) return fail(Errc::InvalidInput, "request values must be strings");
            std::optional<std::string>* slot = *key == "cmd" ? &cmd : *key == "vm" ? &vm : nullptr;
            if (!slot) return fail(Errc::InvalidInput, "unknown key in request");
            if (slot->has_value()) return fail(Errc::InvalidInput, "repeated key in request");
            *slot = std::move(value);
        } while (r.eat(','));
        if (!r.eat('}')) return fail(Errc::InvalidInput, "malformed request");
    }
    if (!r.at_end()) return fail(Errc::InvalidInput, "bytes after the request object");
    if (!cmd) return fail(Errc::InvalidInput, "request has no \"cmd\"");
    auto c = command_named(*cmd);
    if (!c) return fail(Errc::InvalidInput, "unknown command");
    const bool needs_vm = *c == Command::Stop || *c == Command::Console;
    if (needs_vm && (!vm || vm->empty())) return fail(Errc::InvalidInput, "command needs \"vm\"");
    if (!needs_vm && vm) return fail(Errc::InvalidInput, "command takes no \"vm\"");
    return Request{*c, vm.value_or("")};
}

const char* to_string(Command c)
{
    switch (c) {
    case Command::Ls: return "ls";
    case Command::Stop: return "stop";
    case Command::Down: return "down";
    case Command::Console: return "console";
    }
    return "?";
}

std::string json_string(std::string_view text)
{
    std::string out = "\"";
    audit_escape(text, out);
    out.push_back('"');
    return out;
}

}  // namespace moat::monitor
