// `moat-monitor`: the reference monitor of one system, a program of its own. `moat up` execs it
// in its own place (same pid, terminal and signals), so that the process that decides, opens,
// launches and audits runs only the trusted base: the policy, the manifest parser, the monitor
// and the protocol, with no argument parser, JSON library or audit reader (docs/architecture.md).
//
//   moat-monitor [--state DIR] [--no-jail] [--] MANIFEST
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "monitor/manifest_file.hpp"
#include "monitor/system.hpp"
#include "protocol/programs.hpp"

namespace {

using namespace moat;

int usage(const char* why)
{
    std::fprintf(stderr, "moat-monitor: %s\nusage: moat-monitor [--state DIR] [--no-jail] [--] MANIFEST (started by 'moat up')\n", why);
    return monitor::k_system_refused;
}

}  // namespace

int main(int argc, char** argv)
{
    ::signal(SIGPIPE, SIG_IGN);  // a closed control client or console pipe is an error on write
    std::string state, manifest;
    bool jail = true;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; ++i) {
        if (std::strcmp(argv[i], "--") == 0) {
            ++i;
            break;
        }
        if (std::strcmp(argv[i], "--no-jail") == 0) {
            jail = false;
            continue;
        }
        if (std::strcmp(argv[i], "--state") != 0) return usage("unknown option");
        if (++i == argc) return usage("--state needs a directory");
        state = argv[i];
    }
    if (argc - i != 1) return usage("one manifest expected");
    manifest = argv[i];

    auto loaded = monitor::load_manifest(manifest);
    if (!loaded) {
        std::fprintf(stderr, "moat: %s\n", describe(loaded.error()).c_str());
        return monitor::k_system_refused;
    }
    monitor::SystemOptions o;
    o.state_dir = state.empty() ? loaded->dir + "/state" : state;
    o.vmm_exe = protocol::program_path(protocol::k_vmm_program);
    o.pump_exe = protocol::program_path(protocol::k_pump_program);
    o.default_cmdline = protocol::k_default_cmdline;
    o.jail = jail;
    return monitor::run_system(loaded->manifest, o);
}
