// `moat volume create` and `moat volume show`: labelled raw images from the command line.
#pragma once

#include <string>

namespace moat::cli {

// Creates a sparse raw image labelled `label` (secrecy) and `integrity`; `size_text` as
// parse_size takes it ("64M"). Prints "created PATH: 64M, label L, integrity I" on stdout.
// Returns 0 on success, 2 for bad input (size, label text), 1 for host errors (the file
// exists, permissions, no xattr support, ...), each with one "moat: volume create 'PATH': ..."
// line on stderr.
int volume_create_main(const std::string& path, const std::string& size_text, const std::string& label,
                       const std::string& integrity);

// Prints path, size, allocated bytes and the stored label of an image, one "key: value" line
// each; "label: none (not a moat volume)" when it carries no label. Returns 0, 2 when the path
// is not a regular file or its label cannot be read as text, 1 for host errors.
int volume_show_main(const std::string& path);

}  // namespace moat::cli
