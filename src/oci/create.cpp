// moat-oci create and start (create.hpp).
#include "oci/create.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "base/unique_fd.hpp"
#include "oci/bundle.hpp"
#include "oci/guest_config.hpp"
#include "oci/image.hpp"
#include "oci/labels.hpp"
#include "oci/root_image.hpp"
#include "oci/spec.hpp"
#include "protocol/exit_status.hpp"
#include "protocol/fdpass.hpp"
#include "protocol/launch.hpp"
#include "protocol/limits.hpp"
#include "protocol/programs.hpp"

namespace moat::oci {

namespace {

// The guest's kernel command line: the kernel's console on COM4, which the VM process drops
// unless verbose; a panic ends the VM (and so the container, as broken).
constexpr const char* k_cmdline = "console=ttyS3 quiet panic=1 reboot=k 8250.nr_uarts=4";

std::string now_rfc3339()
{
    char buf[40];
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    tm t{};
    ::gmtime_r(&ts.tv_sec, &t);
    const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
    std::snprintf(buf + n, sizeof buf - n, ".%09ldZ", ts.tv_nsec);
    return buf;
}

Result<base::UniqueFd> open_input(const std::string& path, const char* what)
{
    base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return fail_with(Errc::NotFound, std::string(what) + " '" + path + "': " + std::strerror(errno));
    return fd;
}

// moat-init's initramfs with this container's archive appended (Linux unpacks both), in memory.
Result<base::UniqueFd> guest_initrd(const std::string& base, const std::string& archive)
{
    std::string all = MOAT_TRY(read_capped(base, 64 << 20));
    base::UniqueFd fd(::memfd_create("moat-oci-initrd", MFD_CLOEXEC));
    if (!fd.valid()) return fail_errno("memfd_create");
    all.resize((all.size() + 3) & ~std::size_t{3}, '\0');  // each archive starts 4-byte aligned
    all += archive;
    for (std::size_t at = 0; at < all.size();) {
        const ssize_t n = ::write(fd.get(), all.data() + at, all.size() - at);
        if (n <= 0) return fail_errno("writing the guest's initramfs");
        at += static_cast<std::size_t>(n);
    }
    return fd;
}

// Sends the pty's master to the engine's console socket (runc's protocol: one SCM_RIGHTS message).
Result<void> send_console(const std::string& path, int master)
{
    base::UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof a.sun_path) return fail_with(Errc::InvalidInput, "--console-socket: path too long");
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    if (!s.valid() || ::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        return fail_errno_in("--console-socket '" + path + "'");
    const char name[] = "/dev/ptmx";
    const int fds[] = {master};
    if (auto r = protocol::send_message(s.get(), std::as_bytes(std::span(name, sizeof name - 1)), fds); !r)
        return fail(r.error().in("--console-socket '" + path + "'"));
    return {};
}

// process.terminal: a pty whose master goes to the engine and whose slave (raw: the guest's own
// terminal does the line discipline) becomes the VM process's stdio.
Result<base::UniqueFd> terminal(const std::string& console_socket)
{
    if (console_socket.empty()) return fail_with(Errc::InvalidInput, "process.terminal is true but there is no --console-socket");
    base::UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!master.valid() || ::grantpt(master.get()) != 0 || ::unlockpt(master.get()) != 0) return fail_errno("posix_openpt");
    char name[64];
    if (::ptsname_r(master.get(), name, sizeof name) != 0) return fail_errno("ptsname");
    base::UniqueFd slave(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
    termios t{};
    if (!slave.valid() || ::tcgetattr(slave.get(), &t) != 0) return fail_errno_in(name);
    ::cfmakeraw(&t);
    ::tcsetattr(slave.get(), TCSANOW, &t);
    MOAT_TRY(send_console(console_socket, master.get()));
    return slave;
}

// What the VM is made of, open.
struct Inputs {
    protocol::VmLaunch launch;
    base::UniqueFd kvm, kernel, initrd, ready_read, ready_write, start;
    std::vector<base::UniqueFd> disks;
    base::UniqueFd tty;  // process.terminal's slave, or invalid
};

Result<Inputs> prepare(const Store& store, const Settings& settings, const CreateOptions& o)
{
    const std::string config = MOAT_TRY(read_capped(o.bundle + "/config.json", 4 << 20));
    const Spec spec = MOAT_TRY(parse_spec(config));
    const auto objects = MOAT_TRY(load_policy(settings));
    const Plan plan = MOAT_TRY(plan_bundle(spec, o.bundle, volume_paths(objects)));
    const policy::Label label = MOAT_TRY(container_label(objects, spec));
    Inputs in;
    // Decided (and recorded) before anything is made for the container.
    Admission admitted;
    if (objects) admitted = MOAT_TRY(admit(*objects, settings.audit, o.id, label, spec, plan));
    const std::string dir = store.dir(o.id);
    in.disks.push_back(MOAT_TRY(root_image(plan.rootfs, settings.cache, settings.cache_max, dir + "/root.erofs")));
    for (std::size_t i = 0; i < plan.dirs.size(); ++i) {
        const std::string image = dir + "/bind" + std::to_string(i) + ".erofs";
        MOAT_TRY(make_erofs(plan.dirs[i].source, image));
        in.disks.push_back(MOAT_TRY(open_input(image, "a bound directory's image")));
    }
    for (auto& v : admitted.volumes) in.disks.push_back(std::move(v));
    in.kernel = MOAT_TRY(open_input(settings.kernel, "the guest kernel"));
    const std::string archive = MOAT_TRY(guest_archive(spec, plan));
    in.initrd = MOAT_TRY(guest_initrd(settings.initrd, archive));
    const auto size = guest_size(spec, settings.memory, 64ull << 20, 16);
    protocol::VmLaunch& l = in.launch;
    l.cmdline = k_cmdline;
    if (settings.verbose) l.cmdline.replace(l.cmdline.find("quiet"), 5, "loglevel=7 printk.devkmsg=on");
    l.memory = protocol::round_memory(size.memory);
    l.cpus = size.vcpus;
    l.disks.assign(in.disks.size() - plan.volumes.size(), DiskAccess::ReadOnly);
    for (const auto& v : plan.volumes) l.disks.push_back(v.read_only ? DiskAccess::ReadOnly : DiskAccess::ReadWrite);
    l.supervision = protocol::Supervision::Standalone;
    l.container = true;
    l.verbose = settings.verbose;
    l.input_names = {{"kernel", "kernel '" + settings.kernel + "'"}, {"initrd", "initrd '" + settings.initrd + "'"}};
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return fail_errno("pipe2");
    in.ready_read = base::UniqueFd(p[0]);
    in.ready_write = base::UniqueFd(p[1]);
    const std::string fifo = dir + "/start";
    if (::mkfifo(fifo.c_str(), 0600) != 0) return fail_errno_in(fifo);
    in.start = base::UniqueFd(::open(fifo.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!in.start.valid()) return fail_errno_in(fifo);
    if (spec.process && spec.process->terminal) in.tty = MOAT_TRY(terminal(o.console_socket));
    in.kvm = base::UniqueFd(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
    if (!in.kvm.valid()) return fail_with(Errc::Unsupported, protocol::dev_kvm_error(errno));
    return in;
}

// In the child: the terminal as stdio (its controlling terminal), then moat-vmm in its place.
[[noreturn]] void become_vm(Inputs& in)
{
    if (in.tty.valid()) {
        ::setsid();
        ::ioctl(in.tty.get(), TIOCSCTTY, 0);
        for (int fd = 0; fd < 3; ++fd) ::dup2(in.tty.get(), fd);
    }
    protocol::LaunchFds fds{in.kvm.get(), in.kernel.get(), in.initrd.get(), {}, -1, -1};
    for (const auto& d : in.disks) fds.disks.push_back(d.get());
    fds.ready = in.ready_write.get();
    fds.start = in.start.get();
    const std::string why = protocol::exec_vm(in.launch, fds);
    std::fprintf(stderr, "moat-oci: %s\n", why.c_str());
    ::_exit(protocol::k_exit_vm_failed);
}

// The VM process's one line: "ready", or "error STATUS MESSAGE"; empty when it ended first.
Result<std::string> wait_ready(int fd, std::chrono::seconds timeout)
{
    std::string line;
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (line.find('\n') == std::string::npos) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return fail_with(Errc::Io, "the container's guest was not ready within " + std::to_string(timeout.count()) +
                                           " s (oci.toml: ready_timeout)");
        pollfd p{fd, POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno != EINTR) return fail_errno("poll");
        if (ready <= 0) continue;
        char buf[256];
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return std::string();
        line.append(buf, static_cast<std::size_t>(n));
    }
    return line.substr(0, line.find('\n'));
}

Result<void> started(const Store& store, const CreateOptions& o, pid_t child, const std::string& said)
{
    if (said.rfind("error ", 0) == 0) {
        const auto sp = said.find(' ', 6);
        return fail_with(Errc::InvalidInput, sp == std::string::npos ? said : said.substr(sp + 1));
    }
    if (said != "ready")
        return fail_with(Errc::Io, "the container's VM ended before its guest was ready (its output says why)");
    State s;
    s.id = o.id;
    s.bundle = o.bundle;
    s.pid = child;
    s.pid_start = process_start(child).value_or(0);
    s.created = now_rfc3339();
    s.status = Status::Created;
    MOAT_TRY(store.save(s));
    if (!o.pid_file.empty()) MOAT_TRY(write_atomic(o.pid_file, std::to_string(child), 0644));
    return {};
}

}  // namespace

Result<void> create_command(const Store& store, const Settings& settings, const CreateOptions& o)
{
    MOAT_TRY(check_id(o.id));
    const std::string dir = store.dir(o.id);
    std::error_code ec;
    std::filesystem::create_directories(store.root, ec);
    if (::mkdir(dir.c_str(), 0700) != 0) {
        if (errno == EEXIST) return fail_with(Errc::InvalidInput, "container '" + o.id + "' exists");
        return fail_errno_in(dir);
    }
    auto in = prepare(store, settings, o);
    if (!in) {
        std::filesystem::remove_all(dir, ec);
        return fail(in.error());
    }
    std::fflush(nullptr);
    const pid_t child = ::fork();
    if (child < 0) return fail_errno("fork");
    if (child == 0) become_vm(*in);
    in->ready_write.reset();
    in->tty.reset();
    auto said = wait_ready(in->ready_read.get(), std::chrono::seconds(settings.ready_timeout));
    Result<void> r = said ? started(store, o, child, *said) : fail(said.error());
    if (!r) {
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
        std::filesystem::remove_all(dir, ec);
    }
    return r;
}

Result<void> start_command(const Store& store, const std::string& id)
{
    State s = MOAT_TRY(store.load(id));
    const Status now = current_status(s);
    if (now != Status::Created)
        return fail_with(Errc::InvalidInput, "container '" + id + "' is " + to_string(now) + ", not created");
    const std::string fifo = store.dir(id) + "/start";
    base::UniqueFd fd(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid() || ::write(fd.get(), "s", 1) != 1)
        return fail_with(Errc::Io, "container '" + id + "': its VM does not take the start (" + std::strerror(errno) + ")");
    s.status = Status::Running;
    return store.save(s);
}

}  // namespace moat::oci
