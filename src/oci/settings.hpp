// Where moat-oci finds its guest and keeps its cache: /etc/moat/oci.toml (docs/oci.md), or the
// defaults beside the program.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.hpp"

namespace moat::oci {

struct Settings {
    std::string kernel;  // the guest kernel (Debian's cloud kernel)
    std::string initrd;  // moat-init's initramfs (oci-initrd.img)
    std::string cache;   // root images by the layers they were made from
    std::uint64_t cache_max = 1ull << 30;  // bytes the cache may take; the least recently used go
    std::uint64_t memory = 256ull << 20;  // without linux.resources.memory.limit
    bool verbose = false;                 // the guest kernel's console to the container's stderr
    std::uint32_t ready_timeout = 120;    // seconds create waits for the guest to be ready
    // Labels (docs/oci.md "Labels"): the file with the lattice and the labelled volumes, and the
    // audit log every decision goes to; both or neither. Without them a container has no label
    // and no volume.
    std::string policy;
    std::string audit;
    std::string state;  // container state when --root is not given (default /run/moat-oci)
};

// The file named by $MOAT_OCI_CONFIG, else /etc/moat/oci.toml if it exists; keys `kernel`,
// `initrd`, `cache`, `policy`, `audit`, `state` (paths), `memory`, `cache_max` ("512M"), `verbose` (bool),
// `ready_timeout` (seconds). What it leaves out: the guest built beside this program
// (BIN/../guests/linux/), the cache ROOT/.cache where ROOT is `root` (--root) if given, else
// `state`, else /run/moat-oci. Errors name the file and the key.
Result<Settings> load_settings(const std::optional<std::string>& root);

// Where container state lives: --root if given, else the settings' `state`, else the default.
std::string state_root(const std::optional<std::string>& root, const Settings& s);

// The same from a file's text; `name` is how errors call it.
Result<Settings> parse_settings(std::string_view text, const std::string& name, Settings defaults);

}  // namespace moat::oci
