// moat-oci: an OCI runtime with runc's command line, for podman (conmon) and containerd (its
// stock runc shim with BinaryName), each container in a moat VM (docs/oci.md).
#include <CLI/CLI.hpp>

#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "oci/commands.hpp"
#include "oci/create.hpp"
#include "oci/signal.hpp"

namespace {

using namespace moat;
using namespace moat::oci;

struct Globals {
    std::optional<std::string> root;  // --root; else oci.toml's `state`, else k_default_root
    std::string log;
    std::string log_format = "text";
};

// An error for whoever runs us: stderr, and the --log file, where containerd's shim reads the
// last {"level":"error"} line back as the reason a command failed.
int report(const Globals& g, const std::string& msg)
{
    std::fprintf(stderr, "moat-oci: %s\n", msg.c_str());
    if (g.log.empty()) return 1;
    std::ofstream log(g.log, std::ios::app);
    char when[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    if (g.log_format == "json")
        log << nlohmann::json{{"level", "error"}, {"msg", msg}, {"time", when}}.dump() << "\n";
    else
        log << when << " error: " << msg << "\n";
    return 1;
}

int finish(const Globals& g, const Result<void>& r) { return r ? 0 : report(g, describe(r.error())); }

int print(const Globals& g, const Result<std::string>& r)
{
    if (!r) return report(g, describe(r.error()));
    std::printf("%s\n", r->c_str());
    return 0;
}

// runc's global flags: those that do not apply to a VM runtime are taken and ignored, so that
// conmon (--systemd-cgroup) and containerd (--root, --log, --log-format) can pass them.
void add_globals(CLI::App& app, Globals& g)
{
    app.add_option_function<std::string>("--root", [&g](const std::string& r) { g.root = r; },
                                         std::string("where container state lives (default: oci.toml's state, else ") +
                                             k_default_root + ")");
    app.add_option("--log", g.log, "also write errors to this file");
    app.add_option("--log-format", g.log_format, "text or json")->check(CLI::IsMember({"text", "json"}));
    app.add_flag("--debug")->description("accepted (runc's); no effect");
    app.add_flag("--systemd-cgroup")->description("accepted (runc's); no effect: the VM process's cgroup is moat's");
    app.add_option("--rootless", "accepted (runc's); no effect");
    app.add_option("--criu", "accepted (runc's); no effect: there is no checkpoint");
}

// Everything the command line can say, and the subcommands that say it.
struct Args {
    Globals g;
    std::string id, signal_name = "SIGTERM", format = "table";
    bool force = false;
    CreateOptions create;
    CLI::App *create_cmd, *start, *state, *kill, *del, *ps, *features;
};

void add_create(CLI::App& app, Args& a)
{
    CreateOptions& o = a.create;
    a.create_cmd = app.add_subcommand("create", "make the container's VM and wait until its guest is ready");
    a.create_cmd->add_option("--bundle,-b", o.bundle, "the bundle directory (config.json, the root)")->default_str(".");
    a.create_cmd->add_option("--pid-file", o.pid_file, "write the container process's pid here, last");
    a.create_cmd->add_option("--console-socket", o.console_socket,
                             "with process.terminal: the Unix socket that gets the terminal's master");
    a.create_cmd->add_flag("--no-pivot")->description("accepted (runc's); no effect: the guest has its own root");
    a.create_cmd->add_flag("--no-new-keyring")->description("accepted (runc's); no effect");
    a.create_cmd->add_option("--preserve-fds", "accepted (runc's) if 0: no descriptor passes into a VM");
    a.create_cmd->add_option("id", o.id, "the container")->required();
}

void add_commands(CLI::App& app, Args& a)
{
    add_create(app, a);
    a.start = app.add_subcommand("start", "start a created container's workload");
    a.start->add_option("id", a.id, "the container")->required();
    a.state = app.add_subcommand("state", "print the container's state (runtime-spec JSON)");
    a.state->add_option("id", a.id, "the container")->required();
    a.kill = app.add_subcommand("kill", "send a signal to the container's process (default SIGTERM)");
    a.kill->add_flag("--all,-a")->description("accepted: the VM process is the container's only process");
    a.kill->add_option("id", a.id, "the container")->required();
    a.kill->add_option("signal", a.signal_name, "a number (15) or a name (TERM, SIGKILL)");
    a.del = app.add_subcommand("delete", "remove a stopped container's state");
    a.del->add_flag("--force,-f", a.force, "kill it first if it runs; no error if it does not exist");
    a.del->add_option("id", a.id, "the container")->required();
    a.ps = app.add_subcommand("ps", "list the container's processes (the VM process)");
    a.ps->add_option("--format,-f", a.format, "table or json")->check(CLI::IsMember({"table", "json"}));
    a.ps->add_option("id", a.id, "the container")->required();
    a.ps->allow_extras();  // ps(1) options after the id: there is one process to show
    a.features = app.add_subcommand("features", "print what this runtime supports (runtime-spec JSON)");
}

// CLI11 reports an unknown command as a missing one: the unknown word, if there is one.
std::optional<std::string> unknown_command(CLI::App& app, int argc, char** argv)
{
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--root" || a == "--log" || a == "--log-format" || a == "--rootless" || a == "--criu") {
            ++i;  // its value
            continue;
        }
        if (a[0] == '-') continue;
        const auto subs = app.get_subcommands([&](CLI::App* sub) { return sub->get_name() == a; });
        return subs.empty() ? std::optional(a) : std::nullopt;
    }
    return std::nullopt;
}

int create(Args& a, const Store& store, const Settings& settings)
{
    std::string& bundle = a.create.bundle;
    if (bundle.empty()) bundle = ".";
    std::error_code ec;
    bundle = std::filesystem::absolute(bundle, ec).lexically_normal().string();
    if (!bundle.empty() && bundle.back() == '/') bundle.pop_back();
    return finish(a.g, create_command(store, settings, a.create));
}

int run(Args& a)
{
    auto settings = load_settings(a.g.root);
    if (!settings) return report(a.g, describe(settings.error()));
    const Store store{state_root(a.g.root, *settings)};
    if (a.create_cmd->parsed()) return create(a, store, *settings);
    if (a.start->parsed()) return finish(a.g, start_command(store, a.id));
    if (a.state->parsed()) return print(a.g, state_command(store, a.id));
    if (a.kill->parsed()) {
        auto sig = parse_signal(a.signal_name);
        if (!sig) return report(a.g, describe(sig.error()));
        return finish(a.g, kill_command(store, a.id, *sig));
    }
    if (a.del->parsed()) return finish(a.g, delete_command(store, a.id, a.force));
    if (a.ps->parsed()) return print(a.g, ps_command(store, a.id, a.format == "json"));
    if (a.features->parsed()) return print(a.g, Result<std::string>(features_document()));
    return 1;
}

}  // namespace

int main(int argc, char** argv)
{
    ::signal(SIGPIPE, SIG_IGN);
    CLI::App app{"moat-oci: an OCI runtime that runs each container in a moat VM (runc's command line).",
                 "moat-oci"};
    app.set_version_flag("--version,-v", std::string("moat-oci version 0.1\nspec: ") + k_oci_version);
    app.require_subcommand(1);
    Args a;
    add_globals(app, a.g);
    add_commands(app, a);
    if (auto word = unknown_command(app, argc, argv)) return report(a.g, "unknown command '" + *word + "' (see 'moat-oci --help')");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
        return report(a.g, std::string(e.what()) + " (see 'moat-oci --help')");
    }
    return run(a);
}
