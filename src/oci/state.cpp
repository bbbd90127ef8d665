// The state file, the runtime-spec state, and telling whether the container's process lives.
#include "oci/state.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "base/unique_fd.hpp"

namespace moat::oci {

namespace {

using nlohmann::json;

bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '+' ||
           c == '-' || c == '.';
}

std::optional<Status> status_named(std::string_view s)
{
    for (Status v : {Status::Creating, Status::Created, Status::Running, Status::Stopped})
        if (s == to_string(v)) return v;
    return std::nullopt;
}

Unexpected<Error> corrupt(std::string_view why)
{
    return fail_with(Errc::InvalidInput, "state file: " + std::string(why));
}

}  // namespace

const char* to_string(Status s)
{
    switch (s) {
    case Status::Creating: return "creating";
    case Status::Created: return "created";
    case Status::Running: return "running";
    case Status::Stopped: return "stopped";
    }
    return "?";
}

Result<void> check_id(std::string_view id)
{
    if (id.empty() || id.size() > 128 || id == "." || id == ".." || !std::all_of(id.begin(), id.end(), id_char))
        return fail_with(Errc::InvalidInput, "container id '" + std::string(id.substr(0, 128)) +
                                                 "': use 1 to 128 letters, digits and _ + - . (not . or ..)");
    return {};
}

std::string to_json(const State& s)
{
    json j = {{"id", s.id},           {"bundle", s.bundle},   {"pid", s.pid},
              {"pidStart", s.pid_start}, {"created", s.created}, {"status", to_string(s.status)},
              {"annotations", s.annotations}};
    return j.dump() + "\n";
}

Result<State> parse_state(std::string_view text)
{
    const json j = json::parse(text.begin(), text.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return corrupt("not a JSON object");
    auto str = [&](const char* k) -> const json* {
        auto it = j.find(k);
        return it != j.end() && it->is_string() ? &*it : nullptr;
    };
    const json *id = str("id"), *bundle = str("bundle"), *created = str("created"), *status = str("status");
    auto pid = j.find("pid");
    auto start = j.find("pidStart");
    if (!id || !bundle || !created || !status || pid == j.end() || !pid->is_number_unsigned() ||
        start == j.end() || !start->is_number_unsigned())
        return corrupt("a field is missing or of the wrong type");
    State s;
    s.id = id->get<std::string>();
    MOAT_TRY(check_id(s.id));
    s.bundle = bundle->get<std::string>();
    s.created = created->get<std::string>();
    if (pid->get<std::uint64_t>() > 0x7fffffff) return corrupt("pid out of range");
    s.pid = static_cast<int>(pid->get<std::uint64_t>());
    s.pid_start = start->get<std::uint64_t>();
    auto st = status_named(status->get<std::string>());
    if (!st) return corrupt("unknown status");
    s.status = *st;
    if (auto a = j.find("annotations"); a != j.end() && a->is_object())
        for (const auto& [k, v] : a->items())
            if (v.is_string()) s.annotations.emplace(k, v.get<std::string>());
    return s;
}

std::string runtime_state(const State& s, Status now)
{
    json j = {{"ociVersion", k_oci_version}, {"id", s.id}, {"status", to_string(now)}, {"bundle", s.bundle},
              {"created", s.created}};
    // The pid is required while created or running; runc reports 0 once stopped.
    j["pid"] = now == Status::Created || now == Status::Running ? s.pid : 0;
    j["annotations"] = s.annotations;
    return j.dump();
}

std::optional<std::uint64_t> start_from_stat(std::string_view stat)
{
    // "PID (NAME) STATE PPID ..." with NAME free text: the fields start after its last ')'.
    const auto close = stat.rfind(')');
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view rest = stat.substr(close + 1);
    // Field 3 is the first after the name; the start time is field 22, the 20th from there.
    for (int field = 3; field <= 22; ++field) {
        const auto begin = rest.find_first_not_of(' ');
        if (begin == std::string_view::npos) return std::nullopt;
        rest = rest.substr(begin);
        const auto end = std::min(rest.find(' '), rest.size());
        if (field == 22) {
            std::uint64_t v = 0;
            auto [p, ec] = std::from_chars(rest.data(), rest.data() + end, v);
            if (ec != std::errc() || p != rest.data() + end) return std::nullopt;
            return v;
        }
        rest = rest.substr(end);
    }
    return std::nullopt;
}

std::optional<std::uint64_t> process_start(pid_t pid)
{
    if (pid <= 0) return std::nullopt;
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    if (!f) return std::nullopt;
    const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    return start_from_stat(text);
}

Status current_status(const State& s)
{
    if (s.status != Status::Created && s.status != Status::Running) return s.status;
    const auto start = process_start(s.pid);
    if (!start || *start != s.pid_start) return Status::Stopped;
    return s.status;
}

Result<void> write_atomic(const std::string& path, std::string_view content, mode_t mode)
{
    const std::string tmp = path + ".tmp";
    base::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
    if (!fd.valid()) return fail_errno_in("'" + tmp + "'");
    for (std::size_t done = 0; done < content.size();) {
        const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail_errno_in("writing '" + tmp + "'");
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) return fail_errno_in("syncing '" + tmp + "'");
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail_errno_in("renaming '" + tmp + "' to '" + path + "'");
    return {};
}

Result<std::string> read_capped(const std::string& path, std::size_t max)
{
    base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid()) {
        if (errno == ENOENT) return fail_with(Errc::NotFound, "'" + path + "' does not exist");
        return fail_errno_in("'" + path + "'");
    }
    std::string data;
    char buf[8192];
    for (ssize_t n; (n = ::read(fd.get(), buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno_in("reading '" + path + "'");
        data.append(buf, static_cast<std::size_t>(n));
        if (data.size() > max) return fail_with(Errc::Unsupported, "'" + path + "' is larger than " + std::to_string(max) + " bytes");
    }
    return data;
}

}  // namespace moat::oci
