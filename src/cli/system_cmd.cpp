// `moat up`, `moat policy check`, the control clients and the VM process.
#include "cli/system_cmd.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "base/unique_fd.hpp"
#include "cli/guest_check.hpp"
#include "monitor/manifest_file.hpp"
#include "monitor/system.hpp"
#include "monitor/vm_files.hpp"
#include "policy/manifest.hpp"
#include "policy/plan.hpp"
#include "protocol/limits.hpp"
#include "protocol/programs.hpp"

namespace moat::cli {

namespace {

using base::UniqueFd;

constexpr int k_usage = 2;

// The state directory a control command talks to.
std::string resolve_state(const std::string& state_dir)
{
    if (!state_dir.empty()) return state_dir;
    const std::string link = monitor::current_system_link();
    struct stat st{};
    char target[PATH_MAX];
    // Only a link this user made counts (it may live in a shared /tmp).
    if (::lstat(link.c_str(), &st) != 0 || !S_ISLNK(st.st_mode) || st.st_uid != ::getuid()) return "state";
    const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    if (n <= 0) return "state";
    return std::string(target, static_cast<std::size_t>(n));
}

// Connects to a system's control socket, sends one request, and reads the one-line reply.
// Leaves the connection open in `conn` (the console keeps using it).
std::optional<nlohmann::json> request(const std::string& state_dir, const std::string& line, UniqueFd* conn = nullptr)
{
    const std::string dir = resolve_state(state_dir);
    const std::string path = monitor::control_socket_path(dir);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) {
        std::fprintf(stderr, "moat: control socket path '%s' is too long\n", path.c_str());
        return std::nullopt;
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid() || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        std::fprintf(stderr, "moat: no running system at '%s' (%s); start one with 'moat up', or pass --state\n",
                     dir.c_str(), std::strerror(errno));
        return std::nullopt;
    }
    const std::string out = line + "\n";
    if (::send(fd.get(), out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) {
        std::fprintf(stderr, "moat: control socket: %s\n", std::strerror(errno));
        return std::nullopt;
    }
    // Read up to the first newline, byte by byte: whatever follows belongs to the console.
    std::string reply;
    char c;
    while (reply.size() < (1u << 20)) {
        const ssize_t n = ::read(fd.get(), &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || c == '\n') break;
        reply.push_back(c);
    }
    auto j = nlohmann::json::parse(reply, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("ok")) {
        std::fprintf(stderr, "moat: the monitor sent no valid reply\n");
        return std::nullopt;
    }
    if (!j["ok"].get<bool>()) {
        std::fprintf(stderr, "moat: %s\n", j.value("error", std::string("refused")).c_str());
        return std::nullopt;
    }
    if (conn) *conn = std::move(fd);
    return j;
}

std::string human_bytes(std::uint64_t b)
{
    char buf[32];
    if (b >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.1fG", static_cast<double>(b) / (1ull << 30));
    else if (b >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.1fM", static_cast<double>(b) / (1ull << 20));
    else std::snprintf(buf, sizeof buf, "%lluK", static_cast<unsigned long long>(b >> 10));
    return buf;
}

std::string human_time(std::uint64_t ms)
{
    char buf[32];
    const std::uint64_t s = ms / 1000;
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%lluh%02llum", static_cast<unsigned long long>(s / 3600),
                                 static_cast<unsigned long long>(s / 60 % 60));
    else std::snprintf(buf, sizeof buf, "%llum%02llus", static_cast<unsigned long long>(s / 60),
                       static_cast<unsigned long long>(s % 60));
    return buf;
}

}  // namespace

int up_main(const std::string& manifest, const std::string& state_dir, bool no_jail)
{
    const std::string exe = protocol::program_path(protocol::k_monitor_program);
    std::vector<const char*> argv{"moat-monitor"};
    if (no_jail) argv.push_back("--no-jail");
    if (!state_dir.empty()) {
        argv.push_back("--state");
        argv.push_back(state_dir.c_str());
    }
    argv.push_back("--");
    argv.push_back(manifest.c_str());
    argv.push_back(nullptr);
    std::fflush(nullptr);
    ::execv(exe.c_str(), const_cast<char* const*>(argv.data()));
    std::fprintf(stderr, "moat: cannot start the monitor '%s': %s\n", exe.c_str(), std::strerror(errno));
    return k_usage;
}

namespace {

// What `moat up` would find wrong with one VM after the decisions: its files, opened and
// labels checked exactly as the monitor does; its size against this host; its kernel, initrd
// and command line as its VM process would load them. "" when nothing.
std::string vm_problem(const policy::Manifest& m, const policy::VmSpec& vm)
{
    auto files = monitor::open_vm_files(m, vm, [](const monitor::LabelSeen&) { return true; });
    if (!files) return describe(files.error());
    const std::string key = "vm." + vm.name;
    if (auto ok = protocol::check_host_memory(vm.memory); !ok)
        return describe(ok.error().in(m.where(vm.memory_line ? vm.memory_line : vm.line, key + ".memory")));
    GuestSoftware g;
    g.memory = protocol::round_memory(vm.memory);
    g.kernel_fd = files->kernel.get();
    g.initrd_fd = files->initrd.valid() ? files->initrd.get() : -1;
    g.cmdline = vm.cmdline ? std::string_view(*vm.cmdline) : std::string_view(protocol::k_default_cmdline);
    g.kernel_name = m.where(vm.kernel.line, key + ".kernel") + ": '" + vm.kernel.written + "'";
    if (vm.initrd) g.initrd_name = m.where(vm.initrd->line, key + ".initrd") + ": '" + vm.initrd->written + "'";
    g.cmdline_name = m.where(vm.cmdline_line ? vm.cmdline_line : vm.line, key + ".cmdline");
    if (auto ok = check_guest_software(g); !ok) return describe(ok.error());
    return "";
}

}  // namespace

int policy_check_main(const std::string& manifest)
{
    auto loaded = monitor::load_manifest(manifest);
    if (!loaded) {
        std::fprintf(stderr, "moat: %s\n", describe(loaded.error()).c_str());
        return k_usage;
    }
    const auto& m = loaded->manifest;
    for (const auto& net : m.networks) {
        std::printf("network %s: %s, subnet %s/%u", net.name.c_str(), policy::format_label(m.lattice, net.label).c_str(),
                    base::format_ipv4(net.subnet.base).c_str(), net.subnet.prefix);
        if (net.host) std::printf(", host %s", base::format_ipv4(*net.host).c_str());
        if (net.uplink) std::printf(", uplink %s", net.uplink->c_str());
        std::printf("\n");
    }
    for (const auto& vm : m.vms) {
        std::printf("vm %s: %s, vsock CID %llu", vm.name.c_str(), policy::format_label(m.lattice, vm.label).c_str(),
                    static_cast<unsigned long long>(vm.cid));
        for (std::size_t i = 0; i < vm.networks.size(); ++i)
            std::printf(", eth%zu %s on %s (%s)", i, base::format_ipv4(vm.networks[i].address).c_str(),
                        vm.networks[i].network.c_str(), base::format_mac(vm.networks[i].mac).c_str());
        std::printf("\n");
    }
    const auto decisions = policy::plan(m);
    for (const auto& d : decisions) std::printf("%s\n", policy::describe(m, d).c_str());
    const bool denied = policy::any_denied(decisions);
    // Then the dry run of everything else `moat up` would open and check; nothing starts.
    std::size_t errors = 0;
    for (const auto& vm : m.vms) {
        if (const std::string problem = vm_problem(m, vm); !problem.empty()) {
            std::printf("error: %s\n", problem.c_str());
            ++errors;
        }
    }
    std::string verdict = denied ? "some denied" : "all allowed";
    if (errors) verdict += "; " + std::to_string(errors) + (errors == 1 ? " error" : " errors");
    if (denied || errors) verdict += ": 'moat up' would refuse to start this system";
    std::printf("%zu decision%s, %s\n", decisions.size(), decisions.size() == 1 ? "" : "s", verdict.c_str());
    return denied || errors ? k_usage : 0;
}

namespace {

// Resident memory of a process (proc(5) statm, second field, in pages); 0 when unreadable.
std::uint64_t resident_bytes(int pid)
{
    std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
    unsigned long long size = 0, resident = 0;
    if (!(statm >> size >> resident)) return 0;
    return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

// A VM's resident memory: its process and that process's children (a jailed VM process is the
// child of its reaper, whose pid the monitor knows).
std::uint64_t vm_resident_bytes(int pid)
{
    std::uint64_t total = resident_bytes(pid);
    std::ifstream children("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
    for (int child = 0; children >> child;) total += resident_bytes(child);
    return total;
}

}  // namespace

int ls_main(const std::string& state_dir)
{
    auto j = request(state_dir, R"({"cmd":"ls"})");
    if (!j) return 1;
    std::printf("%-16s %-28s %5s %-9s %8s %9s %8s %8s\n", "NAME", "LABEL", "CID", "STATE", "PID", "UPTIME", "MEMORY",
                "RSS");
    for (const auto& v : (*j)["vms"]) {
        const auto pid = v.value("pid", 0);
        std::printf("%-16s %-28s %5llu %-9s %8s %9s %8s %8s\n", v.value("name", std::string()).c_str(),
                    v.value("label", std::string()).c_str(),
                    static_cast<unsigned long long>(v.value("cid", std::uint64_t{0})), v.value("state", std::string()).c_str(),
                    pid ? std::to_string(pid).c_str() : "-",
                    pid ? human_time(v.value("uptime_ms", std::uint64_t{0})).c_str() : "-",
                    human_bytes(v.value("memory", std::uint64_t{0})).c_str(),
                    pid ? human_bytes(vm_resident_bytes(pid)).c_str() : "-");
    }
    return 0;
}

int stop_main(const std::string& state_dir, const std::string& vm)
{
    nlohmann::json req{{"cmd", "stop"}, {"vm", vm}};
    return request(state_dir, req.dump()) ? 0 : 1;
}

int down_main(const std::string& state_dir)
{
    return request(state_dir, R"({"cmd":"down"})") ? 0 : 1;
}

int console_main(const std::string& state_dir, const std::string& vm)
{
    UniqueFd conn;
    nlohmann::json req{{"cmd", "console"}, {"vm", vm}};
    if (!request(state_dir, req.dump(), &conn)) return 1;
    const bool tty = ::isatty(STDIN_FILENO) == 1;
    termios saved{};
    if (tty && ::tcgetattr(STDIN_FILENO, &saved) == 0) {
        termios raw = saved;
        ::cfmakeraw(&raw);
        ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    std::fprintf(stderr, "moat: attached to %s; Ctrl-A x detaches\r\n", vm.c_str());
    bool escape = false, in_open = true;
    for (;;) {
        pollfd p[2] = {{conn.get(), POLLIN, 0}, {STDIN_FILENO, static_cast<short>(in_open ? POLLIN : 0), 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        char buf[512];
        if (p[0].revents) {
            const ssize_t n = ::read(conn.get(), buf, sizeof buf);
            if (n <= 0) break;  // the VM ended
            [[maybe_unused]] auto w = ::write(STDOUT_FILENO, buf, static_cast<std::size_t>(n));
        }
        if (p[1].revents) {
            const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
            if (n <= 0) {
                in_open = false;
                if (!tty) break;  // piped input ended: detach
                continue;
            }
            std::string out;
            bool quit = false;
            for (ssize_t i = 0; i < n; ++i) {
                const char c = buf[i];
                if (escape) {
                    escape = false;
                    if (c == 'x' || c == 'X') {
                        quit = true;
                        break;
                    }
                    if (c != 0x01) continue;
                } else if (c == 0x01) {
                    escape = true;
                    continue;
                }
                out.push_back(c);
            }
            if (!out.empty() && ::send(conn.get(), out.data(), out.size(), MSG_NOSIGNAL) < 0) break;
            if (quit) break;
        }
    }
    if (tty) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::fprintf(stderr, "\r\nmoat: detached from %s\n", vm.c_str());
    return 0;
}

}  // namespace moat::cli
