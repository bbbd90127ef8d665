// config.json, field by field. nlohmann-json parses the text (without exceptions: a parse error
// is a discarded value); every access below checks the type first, so nothing throws.
#include "oci/spec.hpp"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

namespace moat::oci {

namespace {

using nlohmann::json;

Unexpected<Error> bad(const std::string& field, std::string_view why)
{
    return fail_with(Errc::InvalidInput, field + ": " + std::string(why));
}

// The member `key` of object `o`, or null when absent.
const json* member(const json& o, const char* key)
{
    auto it = o.find(key);
    return it == o.end() || it->is_null() ? nullptr : &*it;
}

Result<std::string> string_at(const json& o, const char* key, const std::string& field, bool required)
{
    const json* v = member(o, key);
    if (!v) return required ? bad(field, "missing") : Result<std::string>(std::string());
    if (!v->is_string()) return bad(field, "must be a string");
    return v->get<std::string>();
}

Result<bool> bool_at(const json& o, const char* key, const std::string& field)
{
    const json* v = member(o, key);
    if (!v) return false;
    if (!v->is_boolean()) return bad(field, "must be true or false");
    return v->get<bool>();
}

// An integer in [lo, hi]; nullopt when absent.
Result<std::optional<std::int64_t>> int_at(const json& o, const char* key, const std::string& field, std::int64_t lo,
                                           std::int64_t hi)
{
    const json* v = member(o, key);
    if (!v) return std::optional<std::int64_t>();
    if (v->is_number_unsigned() && v->get<std::uint64_t>() <= static_cast<std::uint64_t>(hi))
        return std::optional<std::int64_t>(static_cast<std::int64_t>(v->get<std::uint64_t>()));
    if (v->is_number_integer() && !v->is_number_unsigned() && v->get<std::int64_t>() >= lo &&
        v->get<std::int64_t>() <= hi)
        return std::optional<std::int64_t>(v->get<std::int64_t>());
    return bad(field, "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
}

Result<std::uint32_t> id_at(const json& o, const char* key, const std::string& field)
{
    auto v = MOAT_TRY(int_at(o, key, field, 0, std::numeric_limits<std::uint32_t>::max()));
    if (!v) return bad(field, "missing");
    return static_cast<std::uint32_t>(*v);
}

Result<std::vector<std::string>> strings_at(const json& o, const char* key, const std::string& field)
{
    std::vector<std::string> out;
    const json* v = member(o, key);
    if (!v) return out;
    if (!v->is_array()) return bad(field, "must be an array of strings");
    for (const json& e : *v) {
        if (!e.is_string()) return bad(field, "must be an array of strings");
        out.push_back(e.get<std::string>());
    }
    return out;
}

Result<const json*> object_at(const json& o, const char* key, const std::string& field)
{
    const json* v = member(o, key);
    if (v && !v->is_object()) return bad(field, "must be an object");
    return v;
}

bool absolute(const std::string& p) { return !p.empty() && p[0] == '/'; }

Result<User> parse_user(const json& u)
{
    User user;
    user.uid = MOAT_TRY(id_at(u, "uid", "process.user.uid"));
    user.gid = MOAT_TRY(id_at(u, "gid", "process.user.gid"));
    if (auto m = MOAT_TRY(int_at(u, "umask", "process.user.umask", 0, 0777))) user.umask = static_cast<std::uint32_t>(*m);
    const json* g = member(u, "additionalGids");
    if (g) {
        if (!g->is_array()) return bad("process.user.additionalGids", "must be an array of group ids");
        for (const json& e : *g) {
            if (!e.is_number_unsigned() || e.get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max())
                return bad("process.user.additionalGids", "must be an array of group ids");
            user.additional_gids.push_back(static_cast<std::uint32_t>(e.get<std::uint64_t>()));
        }
    }
    if (member(u, "username")) return bad("process.user.username", "is for Windows; give uid and gid");
    return user;
}

Result<std::vector<Rlimit>> parse_rlimits(const json& p)
{
    std::vector<Rlimit> out;
    const json* r = member(p, "rlimits");
    if (!r) return out;
    if (!r->is_array()) return bad("process.rlimits", "must be an array");
    for (const json& e : *r) {
        const std::string field = "process.rlimits[" + std::to_string(out.size()) + "]";
        if (!e.is_object()) return bad(field, "must be an object with type, soft and hard");
        Rlimit l;
        l.type = MOAT_TRY(string_at(e, "type", field + ".type", true));
        if (l.type.rfind("RLIMIT_", 0) != 0) return bad(field + ".type", "must name an RLIMIT_ resource");
        const json* soft = member(e, "soft");
        const json* hard = member(e, "hard");
        // Limits are unsigned 64-bit (RLIM_INFINITY is 2^64 - 1).
        if (!soft || !soft->is_number_unsigned()) return bad(field + ".soft", "must be an unsigned integer");
        if (!hard || !hard->is_number_unsigned()) return bad(field + ".hard", "must be an unsigned integer");
        l.soft = soft->get<std::uint64_t>();
        l.hard = hard->get<std::uint64_t>();
        if (l.soft > l.hard) return bad(field, "soft limit above the hard one");
        if (std::any_of(out.begin(), out.end(), [&](const Rlimit& o) { return o.type == l.type; }))
            return bad(field + ".type", l.type + " given twice");
        out.push_back(std::move(l));
    }
    return out;
}

Result<std::optional<Capabilities>> parse_capabilities(const json& p)
{
    const json* c = MOAT_TRY(object_at(p, "capabilities", "process.capabilities"));
    if (!c) return std::optional<Capabilities>();
    Capabilities caps;
    caps.bounding = MOAT_TRY(strings_at(*c, "bounding", "process.capabilities.bounding"));
    caps.effective = MOAT_TRY(strings_at(*c, "effective", "process.capabilities.effective"));
    caps.inheritable = MOAT_TRY(strings_at(*c, "inheritable", "process.capabilities.inheritable"));
    caps.permitted = MOAT_TRY(strings_at(*c, "permitted", "process.capabilities.permitted"));
    caps.ambient = MOAT_TRY(strings_at(*c, "ambient", "process.capabilities.ambient"));
    for (const auto* set : {&caps.bounding, &caps.effective, &caps.inheritable, &caps.permitted, &caps.ambient})
        for (const std::string& name : *set)
            if (name.rfind("CAP_", 0) != 0) return bad("process.capabilities", "'" + name + "' is not a CAP_ name");
    return std::optional<Capabilities>(std::move(caps));
}

Result<Process> parse_process(const json& p, std::vector<std::string>& ignored)
{
    Process proc;
    for (const char* k : {"apparmorProfile", "selinuxLabel", "oomScoreAdj", "ioPriority", "scheduler"})
        if (member(p, k)) ignored.push_back(std::string("process.") + k);
    proc.terminal = MOAT_TRY(bool_at(p, "terminal", "process.terminal"));
    if (const json* cs = MOAT_TRY(object_at(p, "consoleSize", "process.consoleSize"))) {
        auto h = MOAT_TRY(int_at(*cs, "height", "process.consoleSize.height", 0, 65535));
        auto w = MOAT_TRY(int_at(*cs, "width", "process.consoleSize.width", 0, 65535));
        if (!h || !w) return bad("process.consoleSize", "needs height and width");
        proc.console_height = static_cast<std::uint32_t>(*h);
        proc.console_width = static_cast<std::uint32_t>(*w);
    }
    proc.args = MOAT_TRY(strings_at(p, "args", "process.args"));
    if (proc.args.empty() || proc.args[0].empty()) return bad("process.args", "must be a non-empty array of strings");
    proc.env = MOAT_TRY(strings_at(p, "env", "process.env"));
    for (const std::string& e : proc.env)
        if (e.find('=') == std::string::npos || e[0] == '=')
            return bad("process.env", "'" + e + "' is not NAME=VALUE");
    proc.cwd = MOAT_TRY(string_at(p, "cwd", "process.cwd", true));
    if (!absolute(proc.cwd)) return bad("process.cwd", "must be an absolute path");
    const json* u = MOAT_TRY(object_at(p, "user", "process.user"));
    if (!u) return bad("process.user", "missing");
    proc.user = MOAT_TRY(parse_user(*u));
    proc.rlimits = MOAT_TRY(parse_rlimits(p));
    proc.capabilities = MOAT_TRY(parse_capabilities(p));
    proc.no_new_privileges = MOAT_TRY(bool_at(p, "noNewPrivileges", "process.noNewPrivileges"));
    return proc;
}

Result<std::vector<Mount>> parse_mounts(const json& root)
{
    std::vector<Mount> out;
    const json* m = member(root, "mounts");
    if (!m) return out;
    if (!m->is_array()) return bad("mounts", "must be an array");
    for (const json& e : *m) {
        const std::string field = "mounts[" + std::to_string(out.size()) + "]";
        if (!e.is_object()) return bad(field, "must be an object");
        Mount mt;
        mt.destination = MOAT_TRY(string_at(e, "destination", field + ".destination", true));
        if (!absolute(mt.destination)) return bad(field + ".destination", "must be an absolute path");
        mt.type = MOAT_TRY(string_at(e, "type", field + ".type", false));
        mt.source = MOAT_TRY(string_at(e, "source", field + ".source", false));
        mt.options = MOAT_TRY(strings_at(e, "options", field + ".options"));
        out.push_back(std::move(mt));
    }
    return out;
}

Result<std::map<std::string, std::string>> parse_annotations(const json& root)
{
    std::map<std::string, std::string> out;
    const json* a = MOAT_TRY(object_at(root, "annotations", "annotations"));
    if (!a) return out;
    for (const auto& [k, v] : a->items()) {
        if (!v.is_string()) return bad("annotations." + k, "must be a string");
        out.emplace(k, v.get<std::string>());
    }
    return out;
}

// linux: resources mapped onto the guest's size; everything else a VM makes moot or moat does
// not apply, recorded as ignored.
Result<void> parse_linux(const json& root, Spec& s)
{
    const json* l = MOAT_TRY(object_at(root, "linux", "linux"));
    if (!l) return {};
    for (const auto& [k, v] : l->items())
        if (k != "resources" && !v.is_null()) s.ignored.push_back("linux." + k);
    const json* r = MOAT_TRY(object_at(*l, "resources", "linux.resources"));
    if (!r) return {};
    for (const auto& [k, v] : r->items())
        if (k != "memory" && k != "cpu" && !v.is_null()) s.ignored.push_back("linux.resources." + k);
    const auto max = std::numeric_limits<std::int64_t>::max();
    if (const json* m = MOAT_TRY(object_at(*r, "memory", "linux.resources.memory")))
        s.memory_limit = MOAT_TRY(int_at(*m, "limit", "linux.resources.memory.limit", -1, max));
    if (const json* c = MOAT_TRY(object_at(*r, "cpu", "linux.resources.cpu"))) {
        s.cpu_quota = MOAT_TRY(int_at(*c, "quota", "linux.resources.cpu.quota", -1, max));
        if (auto p = MOAT_TRY(int_at(*c, "period", "linux.resources.cpu.period", 0, max)))
            s.cpu_period = static_cast<std::uint64_t>(*p);
    }
    return {};
}

}  // namespace

bool Mount::is_bind() const
{
    return type == "bind" || std::any_of(options.begin(), options.end(), [](const std::string& o) {
               return o == "bind" || o == "rbind";
           });
}

bool Mount::is_read_only() const { return std::find(options.begin(), options.end(), "ro") != options.end(); }

Result<Spec> parse_spec(std::string_view text)
{
    if (text.size() > k_max_config_bytes) return bad("config.json", "larger than 1 MiB");
    const json root = json::parse(text.begin(), text.end(), nullptr, false);
    if (root.is_discarded()) return bad("config.json", "not valid JSON");
    if (!root.is_object()) return bad("config.json", "must be a JSON object");
    Spec s;
    s.oci_version = MOAT_TRY(string_at(root, "ociVersion", "ociVersion", true));
    if (s.oci_version.rfind("1.", 0) != 0) return bad("ociVersion", "'" + s.oci_version + "' is not a 1.x version");
    const json* r = MOAT_TRY(object_at(root, "root", "root"));
    if (!r) return bad("root", "missing");
    s.root_path = MOAT_TRY(string_at(*r, "path", "root.path", true));
    if (s.root_path.empty()) return bad("root.path", "must not be empty");
    s.root_readonly = MOAT_TRY(bool_at(*r, "readonly", "root.readonly"));
    if (const json* p = MOAT_TRY(object_at(root, "process", "process")))
        s.process = MOAT_TRY(parse_process(*p, s.ignored));
    s.hostname = MOAT_TRY(string_at(root, "hostname", "hostname", false));
    s.mounts = MOAT_TRY(parse_mounts(root));
    s.annotations = MOAT_TRY(parse_annotations(root));
    MOAT_TRY(parse_linux(root, s));
    for (const char* k : {"hooks", "domainname"})
        if (member(root, k)) s.ignored.push_back(k);
    return s;
}

Size guest_size(const Spec& s, std::uint64_t default_memory, std::uint64_t min_memory, std::uint32_t max_vcpus)
{
    Size z{default_memory, 1};
    if (s.memory_limit && *s.memory_limit > 0)
        z.memory = std::max<std::uint64_t>(static_cast<std::uint64_t>(*s.memory_limit), min_memory);
    if (s.cpu_quota && *s.cpu_quota > 0 && s.cpu_period && *s.cpu_period > 0) {
        const std::uint64_t q = static_cast<std::uint64_t>(*s.cpu_quota);
        const std::uint64_t n = (q + *s.cpu_period - 1) / *s.cpu_period;
        z.vcpus = static_cast<std::uint32_t>(std::clamp<std::uint64_t>(n, 1, max_vcpus));
    }
    return z;
}

}  // namespace moat::oci
