// state, kill, delete, ps on a container's state directory.
#include "oci/commands.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/unique_fd.hpp"

namespace moat::oci {

Result<State> Store::load(const std::string& id) const
{
    MOAT_TRY(check_id(id));
    auto read = read_capped(state_file(id), 1 << 20);
    if (!read) {
        if (read.error().code == Errc::NotFound) return fail_with(Errc::NotFound, "container '" + id + "' does not exist");
        return fail(read.error());
    }
    const std::string& text = *read;
    auto s = parse_state(text);
    if (!s) return fail(s.error().in("'" + state_file(id) + "'"));
    if (s->id != id) return fail_with(Errc::InvalidInput, "'" + state_file(id) + "': it names another container");
    return s;
}

Result<void> Store::save(const State& s) const
{
    MOAT_TRY(check_id(s.id));
    return write_atomic(state_file(s.id), to_json(s), 0600);
}

Result<std::string> state_command(const Store& store, const std::string& id)
{
    const State s = MOAT_TRY(store.load(id));
    return runtime_state(s, current_status(s));
}

Result<void> kill_command(const Store& store, const std::string& id, int signal)
{
    const State s = MOAT_TRY(store.load(id));
    const Status now = current_status(s);
    if (now != Status::Created && now != Status::Running)
        return fail_with(Errc::InvalidInput, "container '" + id + "' is " + to_string(now) + ", not running");
    if (::kill(s.pid, signal) != 0) return fail_errno_in("signalling container '" + id + "'");
    return {};
}

Result<void> delete_command(const Store& store, const std::string& id, bool force, std::chrono::milliseconds wait)
{
    auto loaded = store.load(id);
    if (!loaded) {
        if (force && loaded.error().code == Errc::NotFound) return {};
        return fail(loaded.error());
    }
    const State& s = *loaded;
    Status now = current_status(s);
    if (now == Status::Created || now == Status::Running) {
        if (!force)
            return fail_with(Errc::InvalidInput,
                             "container '" + id + "' is " + to_string(now) + ": stop it first, or delete --force");
        ::kill(s.pid, SIGKILL);
        const auto until = std::chrono::steady_clock::now() + wait;
        while ((now = current_status(s)) != Status::Stopped && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (now != Status::Stopped)
            return fail_with(Errc::Io, "container '" + id + "': its process did not end after SIGKILL");
    }
    std::error_code ec;
    std::filesystem::remove_all(store.dir(id), ec);
    if (ec) return fail_with(Errc::Io, "removing '" + store.dir(id) + "': " + ec.message());
    return {};
}

Result<std::string> ps_command(const Store& store, const std::string& id, bool json)
{
    const State s = MOAT_TRY(store.load(id));
    const Status now = current_status(s);
    const bool alive = now == Status::Created || now == Status::Running;
    if (json) return nlohmann::json(alive ? nlohmann::json::array({s.pid}) : nlohmann::json::array()).dump();
    return std::string("PID\n") + (alive ? std::to_string(s.pid) + "\n" : "");
}

std::string features_document()
{
    nlohmann::json j = {{"ociVersionMin", "1.0.0"}, {"ociVersionMax", k_oci_version}};
    return j.dump(2);
}

}  // namespace moat::oci
