// The reference monitor's control server: `moat ls | stop | down | console` over a Unix
// socket only the owner may reach (SO_PEERCRED checked again per connection), one request per
// connection, parsed strictly (control.hpp), every command audited with its caller before it is
// carried out.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "monitor/system_internal.hpp"
#include "policy/label.hpp"
#include "protocol/report.hpp"

namespace moat::monitor {

namespace {

std::string error_reply(const std::string& message)
{
    return R"({"ok":false,"error":)" + json_string(message) + "}";
}

}  // namespace

void System::on_accept()
{
    for (;;) {
        UniqueFd fd(::accept4(m_listen.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (!fd.valid()) return;
        // A client that never finishes its request holds a slot; past the limit, new ones are
        // turned away, so a stuck client cannot exhaust the monitor's descriptors.
        if (m_clients.size() >= k_max_clients) continue;
        auto cred = protocol::peer_credentials(fd.get());
        if (!cred) continue;
        const std::uint32_t id = m_next_client++;
        if (!watch(fd.get(), tag(Tag::Client, id))) continue;
        m_clients[id] = Client{std::move(fd), *cred, {}};
    }
}

void System::reply(Client& c, const std::string& json)
{
    const std::string line = json + "\n";
    // Replies are small; a client that does not read them loses them.
    [[maybe_unused]] auto n = ::send(c.fd.get(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

void System::on_client(std::uint32_t id)
{
    auto it = m_clients.find(id);
    if (it == m_clients.end()) return;
    Client& c = it->second;
    char buf[512];
    const ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    bool done = n <= 0;
    if (n > 0) {
        c.buf.append(buf, static_cast<std::size_t>(n));
        const auto nl = c.buf.find('\n');
        if (nl != std::string::npos || c.buf.size() > k_max_request) {
            const std::string line = c.buf.substr(0, std::min(nl, c.buf.size()));
            const std::int64_t uid = c.cred.uid, pid = c.cred.pid;
            // Only root and the user who started the system may command it.
            if (c.cred.uid != 0 && c.cred.uid != ::getuid()) {
                audit("control", {{"cmd", "?"}, {"uid", uid}, {"pid", pid}, {"result", "refused: not the owner"}});
                reply(c, error_reply("permission denied: only root and the system's owner may use it"));
            } else if (auto r = parse_request(line); !r) {
                audit("control", {{"cmd", "?"}, {"uid", uid}, {"pid", pid}, {"result", "refused: bad request"}});
                reply(c, error_reply(r.error().what));
            } else {
                handle_request(c, *r);
            }
            done = true;
        }
    }
    if (done) {
        ::epoll_ctl(m_ep.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
        m_clients.erase(it);
    }
}

// `moat ls`: every VM with its label, vsock CID, state, pid, uptime and memory; the client adds what it
// can read itself (the resident memory, from /proc).
std::string System::ls_reply() const
{
    std::string out = R"({"ok":true,"vms":[)";
    const std::uint64_t now = now_ms();
    for (std::size_t i = 0; i < m_vms.size(); ++i) {
        const Vm& v = m_vms[i];
        out += std::string(i ? "," : "") + "{\"name\":" + json_string(v.spec->name) +
               ",\"label\":" + json_string(policy::format_label(m_manifest.lattice, v.spec->label)) +
               ",\"cid\":" + std::to_string(v.spec->cid) +
               ",\"state\":\"" + to_string(v.state) + "\",\"pid\":" + std::to_string(v.pid > 0 ? v.pid : 0) +
               ",\"uptime_ms\":" + std::to_string(v.pid > 0 ? now - v.started_ms : 0) +
               ",\"memory\":" + std::to_string(v.spec->memory) + ",\"restarts\":" + std::to_string(v.restarts) +
               ",\"last_end\":" + json_string(v.last_end) + "}";
    }
    return out + "]}";
}

void System::handle_request(Client& c, const Request& r)
{
    // Every command is audited with its caller before it is carried out, refusals too.
    auto audit_command = [&](const char* result) {
        std::vector<AuditField> f{{"cmd", to_string(r.cmd)}};
        if (!r.vm.empty()) f.push_back({"vm", std::string_view(r.vm)});
        f.push_back({"uid", std::int64_t{c.cred.uid}});
        f.push_back({"pid", std::int64_t{c.cred.pid}});
        f.push_back({"result", result});
        return audit("control", f);
    };
    Vm* vm = nullptr;
    if (!r.vm.empty()) {
        for (auto& v : m_vms)
            if (v.spec->name == r.vm) vm = &v;
        if (!vm) {
            audit_command("refused: no such VM");
            reply(c, error_reply("no VM named '" + r.vm + "'"));
            return;
        }
    }
    const bool running = vm && vm->state == VmState::Running;
    if ((r.cmd == Command::Stop || r.cmd == Command::Console) && !running) {
        audit_command("refused: VM not running");
        reply(c, error_reply("VM '" + r.vm + "' is " + to_string(vm->state)));
        return;
    }
    if (!audit_command("ok")) {
        reply(c, error_reply("the audit log failed"));
        return;
    }
    switch (r.cmd) {
    case Command::Ls: reply(c, ls_reply()); return;
    case Command::Stop:
        stop_vm(*vm);
        reply(c, R"({"ok":true})");
        return;
    case Command::Down:
        reply(c, R"({"ok":true})");
        begin_down("down requested");
        return;
    case Command::Console: {
        // The client's connection itself goes to the VM process, which streams the console
        // over it; the monitor keeps no copy and never sees the bytes.
        reply(c, R"({"ok":true})");
        const protocol::Report msg{static_cast<std::uint32_t>(protocol::ReportKind::AttachConsole), 0, 0, 0};
        const int fds[] = {c.fd.get()};
        if (auto s = protocol::send_message(vm->sock.get(), std::as_bytes(std::span(&msg, 1)), fds); !s)
            report(vm->spec->name + ": attaching a console: " + describe(s.error()));
        return;
    }
    }
}

}  // namespace moat::monitor
