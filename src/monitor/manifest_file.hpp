// A system's manifest read from its file: what `moat-monitor` starts and `moat policy check`
// examines.
#pragma once

#include <string>

#include "base/result.hpp"
#include "policy/manifest.hpp"

namespace moat::monitor {

inline constexpr std::size_t k_max_manifest_bytes = 1u << 20;  // far beyond any real system

struct ManifestFile {
    policy::Manifest manifest;  // relative paths joined to `dir`
    std::string dir;            // the manifest's directory, as written ("." for a bare name)
};

// Reads and parses the manifest at `path`. Errors carry their one-line message: "manifest
// 'x.toml': No such file or directory", or the parser's "x.toml:12: vm.web.memory: ...".
Result<ManifestFile> load_manifest(const std::string& path);

}  // namespace moat::monitor
