// The manifest model (manifest.hpp) apart from its parser: lookups, message prefixes, paths.
#include "policy/manifest.hpp"

namespace moat::policy {

const VolumeSpec* Manifest::find_volume(std::string_view name) const
{
    for (const auto& v : volumes)
        if (v.name == name) return &v;
    return nullptr;
}

const NetworkSpec* Manifest::find_network(std::string_view name) const
{
    for (const auto& n : networks)
        if (n.name == name) return &n;
    return nullptr;
}

const VmSpec* Manifest::find_vm(std::string_view name) const
{
    for (const auto& v : vms)
        if (v.name == name) return &v;
    return nullptr;
}

std::string where(std::string_view source, std::uint32_t line, std::string_view dotted_key)
{
    std::string out(source);
    if (line != 0) {
        out += ':';
        out += std::to_string(line);
    }
    out += ": ";
    out += dotted_key;
    return out;
}

std::string Manifest::where(std::uint32_t line, std::string_view dotted_key) const
{
    return policy::where(source, line, dotted_key);
}

std::string join_path(std::string_view base_dir, std::string_view path)
{
    if (base_dir.empty() || path.starts_with('/')) return std::string(path);
    std::string out(base_dir);
    if (!out.ends_with('/')) out += '/';
    out += path;
    return out;
}

const char* to_string(Restart restart) { return restart == Restart::Never ? "never" : "on-failure"; }

const char* to_string(ChannelKind kind) { return kind == ChannelKind::BothWays ? "both-ways" : "pump"; }

}  // namespace moat::policy
