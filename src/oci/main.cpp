// moat-oci: an OCI runtime with runc's command line, for podman (conmon) and containerd (its
// stock runc shim with BinaryName), each container in a moat VM (docs/oci.md).
#include <CLI/CLI.hpp>

#include <signal.h>

#include <cstdio>
#include <filesystem>
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
    std::string root = k_default_root;
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
    app.add_option("--root", g.root, "where container state lives")->default_val(k_default_root);
    app.add_option("--log", g.log, "also write errors to this file");
    app.add_option("--log-format", g.log_format, "text or json")->check(CLI::IsMember({"text", "json"}));
    app.add_flag("--debug")->description("accepted (runc's); no effect");
    app.add_flag("--systemd-cgroup")->description("accepted (runc's); no effect: the VM process's cgroup is moat's");
    app.add_option("--rootless", "accepted (runc's); no effect");
    app.add_option("--criu", "accepted (runc's); no effect: there is no checkpoint");
}

}  // namespace

int main(int argc, char** argv)
{
    ::signal(SIGPIPE, SIG_IGN);
    CLI::App app{"moat-oci: an OCI runtime that runs each container in a moat VM (runc's command line).",
                 "moat-oci"};
    app.set_version_flag("--version,-v", std::string("moat-oci version 0.1\nspec: ") + k_oci_version);
    app.require_subcommand(1);
    Globals g;
    add_globals(app, g);
    std::string id, signal_name = "SIGTERM", format = "table";
    bool force = false;

    CreateOptions create_options;
    auto* create = app.add_subcommand("create", "make the container's VM and wait until its guest is ready");
    create->add_option("--bundle,-b", create_options.bundle, "the bundle directory (config.json, the root)")->default_str(".");
    create->add_option("--pid-file", create_options.pid_file, "write the container process's pid here, last");
    create->add_option("--console-socket", create_options.console_socket,
                       "with process.terminal: the Unix socket that gets the terminal's master");
    create->add_flag("--no-pivot")->description("accepted (runc's); no effect: the guest has its own root");
    create->add_flag("--no-new-keyring")->description("accepted (runc's); no effect");
    create->add_option("--preserve-fds", "accepted (runc's) if 0: no descriptor passes into a VM");
    create->add_option("id", create_options.id, "the container")->required();
    auto* start = app.add_subcommand("start", "start a created container's workload");
    start->add_option("id", id, "the container")->required();
    auto* state = app.add_subcommand("state", "print the container's state (runtime-spec JSON)");
    state->add_option("id", id, "the container")->required();
    auto* kill = app.add_subcommand("kill", "send a signal to the container's process (default SIGTERM)");
    kill->add_flag("--all,-a")->description("accepted: the VM process is the container's only process");
    kill->add_option("id", id, "the container")->required();
    kill->add_option("signal", signal_name, "a number (15) or a name (TERM, SIGKILL)");
    auto* del = app.add_subcommand("delete", "remove a stopped container's state");
    del->add_flag("--force,-f", force, "kill it first if it runs; no error if it does not exist");
    del->add_option("id", id, "the container")->required();
    auto* ps = app.add_subcommand("ps", "list the container's processes (the VM process)");
    ps->add_option("--format,-f", format, "table or json")->check(CLI::IsMember({"table", "json"}));
    ps->add_option("id", id, "the container")->required();
    ps->allow_extras();  // ps(1) options after the id: there is one process to show
    auto* features = app.add_subcommand("features", "print what this runtime supports (runtime-spec JSON)");

    // CLI11 reports an unknown command as a missing one; name it instead.
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--root" || a == "--log" || a == "--log-format" || a == "--rootless" || a == "--criu") {
            ++i;  // its value
            continue;
        }
        if (a[0] == '-') continue;
        const auto subs = app.get_subcommands([&](CLI::App* sub) { return sub->get_name() == a; });
        if (subs.empty()) return report(g, "unknown command '" + a + "' (see 'moat-oci --help')");
        break;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
        return report(g, std::string(e.what()) + " (see 'moat-oci --help')");
    }
    const Store store{g.root};
    if (create->parsed()) {
        if (create_options.bundle.empty()) create_options.bundle = ".";
        std::error_code ec;
        create_options.bundle = std::filesystem::absolute(create_options.bundle, ec).lexically_normal().string();
        if (!create_options.bundle.empty() && create_options.bundle.back() == '/') create_options.bundle.pop_back();
        auto settings = load_settings(g.root);
        if (!settings) return report(g, describe(settings.error()));
        return finish(g, create_command(store, *settings, create_options));
    }
    if (start->parsed()) return finish(g, start_command(store, id));
    if (state->parsed()) return print(g, state_command(store, id));
    if (kill->parsed()) {
        auto sig = parse_signal(signal_name);
        if (!sig) return report(g, describe(sig.error()));
        return finish(g, kill_command(store, id, *sig));
    }
    if (del->parsed()) return finish(g, delete_command(store, id, force));
    if (ps->parsed()) return print(g, ps_command(store, id, format == "json"));
    if (features->parsed()) return print(g, Result<std::string>(features_document()));
    return 1;
}
