// moat-oci create and start: a container's VM made from its bundle, and its workload started.
//
// create checks the bundle, makes the root image (cached by the image layers it was made from),
// starts the VM process (a descendant of create, which is the container's process), waits for
// the guest to say it is ready, and writes the state, then the pid file. start writes one byte
// to the container's start FIFO, which the VM process holds open.
#pragma once

#include <optional>
#include <string>

#include "base/result.hpp"
#include "oci/commands.hpp"
#include "oci/settings.hpp"

namespace moat::oci {

struct CreateOptions {
    std::string id;
    std::string bundle;
    std::string pid_file;        // optional
    std::string console_socket;  // optional: process.terminal's pty master goes there
};

// Creates the container; returns once its guest is ready (or failed to be).
Result<void> create_command(const Store& store, const Settings& settings, const CreateOptions& o);

// Starts a created container's workload.
Result<void> start_command(const Store& store, const std::string& id);

}  // namespace moat::oci
