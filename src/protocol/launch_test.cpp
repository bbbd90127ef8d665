// The launch message between the monitor and a VM process.
#include "protocol/launch.hpp"
#include "protocol/launch_receive.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <span>

#include "protocol/fdpass.hpp"
#include "protocol/limits.hpp"

namespace moat::protocol {
namespace {

TEST(Limits, Boundaries)
{
    EXPECT_TRUE(check_memory(k_min_vm_memory));
    EXPECT_TRUE(check_memory(k_max_vm_memory));
    EXPECT_EQ(check_memory(k_min_vm_memory - 1).error().code, Errc::OutOfRange);
    EXPECT_STREQ(check_memory(k_min_vm_memory - 1).error().what, "below the minimum of 16M");
    EXPECT_STREQ(check_memory(k_max_vm_memory + 1).error().what, "above the maximum of 1T");
    EXPECT_TRUE(check_cpus(1));
    EXPECT_TRUE(check_cpus(k_max_vcpus));
    EXPECT_STREQ(check_cpus(0).error().what, "a VM needs at least one vCPU");
    EXPECT_STREQ(check_cpus(k_max_vcpus + 1).error().what, "above moat's limit of 255 (8-bit APIC ids)");
    EXPECT_TRUE(check_host_memory(k_min_vm_memory));
    EXPECT_EQ(check_host_memory(k_max_vm_memory * 1024).error().code, Errc::OutOfRange);
    EXPECT_TRUE(describe(check_host_memory(k_max_vm_memory * 1024).error()).starts_with("more than this host's "));
    EXPECT_EQ(round_memory(1), 4096u);
    EXPECT_EQ(round_memory(4096), 4096u);
    EXPECT_TRUE(check_uid_base(k_default_uid_base));
    EXPECT_TRUE(check_uid_base(65536));
    EXPECT_TRUE(check_uid_base((std::uint64_t{1} << 31) - k_uid_span));
    EXPECT_EQ(check_uid_base(65535).error().code, Errc::OutOfRange);
    EXPECT_EQ(check_uid_base((std::uint64_t{1} << 31) - k_uid_span + 1).error().code, Errc::OutOfRange);
    EXPECT_TRUE(check_cid(3));
    EXPECT_TRUE(check_cid(0xfffffffe));
    EXPECT_EQ(check_cid(2).error().code, Errc::OutOfRange);
    EXPECT_EQ(check_cid(0xffffffff).error().code, Errc::OutOfRange);
}

TEST(LaunchMessage, RoundTrips)
{
    VmLaunch l;
    l.name = "analyst";
    l.cmdline = "console=ttyS0 moat_action=demo  with  spaces";
    l.memory = 512ull << 20;
    l.cpus = 2;
    l.disks = {DiskAccess::ReadOnly, DiskAccess::ReadWrite};
    l.console_budget = 65536;
    auto d = decode_launch(encode_launch(l, true));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->vm.name, l.name);
    EXPECT_EQ(d->vm.cmdline, l.cmdline);
    EXPECT_EQ(d->vm.memory, l.memory);
    EXPECT_EQ(d->vm.cpus, 2u);
    EXPECT_TRUE(d->initrd);
    EXPECT_EQ(d->vm.disks, l.disks);
    EXPECT_EQ(d->vm.supervision, Supervision::Monitored);
    EXPECT_FALSE(d->vm.verbose);
    EXPECT_EQ(d->vm.console_budget, 65536u);
    EXPECT_TRUE(d->vm.jail);
    EXPECT_EQ(d->vm.uid_base, k_default_uid_base);
    EXPECT_TRUE(d->vm.input_names.empty());
    EXPECT_EQ(launch_fd_count(*d), 2u + 1u + 2u + 2u);  // kvm, kernel; initrd; disks; console out, log
}

TEST(LaunchMessage, RoundTripsAStandaloneVm)
{
    VmLaunch l;
    l.cmdline = "console=ttyS0\nsecond line ends\n";  // the last field may hold newlines
    l.memory = 64ull << 20;
    l.supervision = Supervision::Standalone;
    l.verbose = true;
    l.jail = false;
    l.uid_base = 100000;
    l.disks = {DiskAccess::ReadWrite};
    l.input_names = {{"kernel", "--kernel 'bzImage'"}, {"disk 0", "--disk 'a=b\nc'"}};
    auto d = decode_launch(encode_launch(l, false));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->vm.name, "");
    EXPECT_EQ(d->vm.cmdline, l.cmdline);
    EXPECT_EQ(d->vm.supervision, Supervision::Standalone);
    EXPECT_TRUE(d->vm.verbose);
    EXPECT_EQ(d->vm.console_budget, k_console_budget);  // the default, not sent
    EXPECT_FALSE(d->vm.jail);
    EXPECT_EQ(d->vm.uid_base, 100000u);
    EXPECT_FALSE(d->initrd);
    EXPECT_EQ(d->vm.input_names.at("kernel"), "--kernel 'bzImage'");
    EXPECT_EQ(d->vm.input_names.at("disk 0"), "--disk 'a=b?c'");  // a name's newline is sent as '?'
    EXPECT_EQ(launch_fd_count(*d), 3u);  // kvm, kernel, one disk: the console is stdio
}

TEST(LaunchMessage, RefusesTooManyInputNames)
{
    std::string m = "name web\nmemory 16777216\n";
    for (std::size_t i = 0; i <= k_max_launch_input_names; ++i) m += "input k" + std::to_string(i) + "=x\n";
    EXPECT_FALSE(decode_launch(m + "cmdline a\n").has_value());
}

TEST(LaunchMessage, RefusesMalformed)
{
    const char* bad[] = {
        "",                                                       // nothing
        "name web\nmemory 16777216\n",                            // no cmdline
        "name web\nmemory 1\ncmdline a\n",                        // below the minimum
        "name web\nmemory 16777217\ncmdline a\n",                 // not whole pages
        "name web\nmemory x\ncmdline a\n",                        // bad number
        "name web\nmemory 16777216\ncpus 0\ncmdline a\n",         // no vCPU
        "name web\nmemory 16777216\ncpus 300\ncmdline a\n",       // too many
        "name web\nmemory 16777216\ndisk maybe\ncmdline a\n",     // bad mode
        "name web\nmemory 16777216\ncolour blue\ncmdline a\n",    // unknown key
        "name web\nmemory 16777216\ncmdline a",                   // unterminated
        "name\nmemory 16777216\ncmdline a\n",                     // no value
        "name web\nmemory 16777216\ninitrd yes\ncmdline a\n",     // bad flag
        "name web\nmemory 16777216\nstandalone 2\ncmdline a\n",   // bad flag
        "name web\nmemory 16777216\nverbose \ncmdline a\n",       // bad flag
        "name web\nmemory 16777216\njail yes\ncmdline a\n",       // bad flag
        "name web\nmemory 16777216\nconsole 1099511627777\ncmdline a\n",  // above 1T
        "name web\nmemory 16777216\nconsole -5\ncmdline a\n",    // bad number
        "name web\nmemory 16777216\nuidbase 0\ncmdline a\n",      // ids of root and the users
        "name web\nmemory 16777216\nuidbase 2145386497\ncmdline a\n",  // ids past 2^31
        "name web\nmemory 16777216\nuidbase -1\ncmdline a\n",     // bad number
        "name web\nmemory 16777216\ninput kernel\ncmdline a\n",   // input name without '='
        "name web\nmemory 16777216\ninput =x\ncmdline a\n",       // input name without key
        "name web\nmemory 16777216\nvsock 2 0 0\ncmdline a\n",     // the host's CID
        "name web\nmemory 16777216\nvsock 3\ncmdline a\n",         // no descriptor flags
        "name web\nmemory 16777216\nvsock 3 1\ncmdline a\n",       // one flag
        "name web\nmemory 16777216\nvsock 3 1 2\ncmdline a\n",     // bad flag
        "name web\nmemory 16777216\nvsock 3 1  1\ncmdline a\n",    // extra space
        "name web\nmemory 16777216\nvsock x 1 1\ncmdline a\n",     // bad number
        "name web\nmemory 16777216\nchannel out 4 80\ncmdline a\n",  // a channel without vsock
        "name web\nmemory 16777216\nvsock 3 0 0\nchannel out 3 80\ncmdline a\n",  // to itself
        "name web\nmemory 16777216\nvsock 3 0 0\nchannel up 4 80\ncmdline a\n",   // bad direction
        "name web\nmemory 16777216\nvsock 3 0 0\nchannel in 2 80\ncmdline a\n",   // the host's CID
        "name web\nmemory 16777216\nvsock 3 0 0\nchannel in 4 4294967295\ncmdline a\n",  // port -1
        "name web\nmemory 16777216\nvsock 3 0 0\nchannel in 4\ncmdline a\n",      // no port
        "name web\nmemory 16777216\nnet 01:00:5e:00:00:01\ncmdline a\n",  // a multicast MAC
        "name web\nmemory 16777216\nnet 00:00:00:00:00:00\ncmdline a\n",  // zero
        "name web\nmemory 16777216\nnet 02:6d:00:00:00\ncmdline a\n",     // five bytes
        "name web\nmemory 16777216\nnet tap0\ncmdline a\n",              // not a MAC
        "name web\ncmdline a\nmemory 1\n",                        // the command line runs to the end
        "cmdline",                                                // no value, no newline
    };
    for (const char* b : bad) EXPECT_FALSE(decode_launch(b).has_value()) << b;
    EXPECT_TRUE(decode_launch("name web\nmemory 16777216\ncmdline a\n").has_value());  // the smallest good one
}

// A socketpair as monitor and VM process have, and descriptors to pass: the receiver must get
// each one in its role (checked by inode) and refuse a message its descriptors do not match.
struct LaunchPair {
    base::UniqueFd a, b;
    LaunchPair()
    {
        int sv[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        a = base::UniqueFd(sv[0]);
        b = base::UniqueFd(sv[1]);
    }
};

ino_t inode(int fd)
{
    struct stat st {};
    EXPECT_EQ(::fstat(fd, &st), 0);
    return st.st_ino;
}

TEST(Launch, SendsEveryDescriptorInItsRole)
{
    // Six files with six inodes (a pipe's two ends share one), so that a swap of any two roles
    // shows.
    auto file = [] { return base::UniqueFd(::memfd_create("role", MFD_CLOEXEC)); };
    base::UniqueFd kvm = file(), kernel = file(), initrd = file(), disk = file(), out = file(), log = file();
    for (int fd : {kvm.get(), kernel.get(), initrd.get(), disk.get(), out.get(), log.get()}) ASSERT_GE(fd, 0);
    VmLaunch l;
    l.name = "web";
    l.cmdline = "console=ttyS0";
    l.memory = 32ull << 20;
    l.disks = {DiskAccess::ReadOnly};
    LaunchPair s;
    ASSERT_TRUE(send_launch(s.a.get(), l, {kvm.get(), kernel.get(), initrd.get(), {disk.get()}, out.get(), log.get()}));
    auto got = receive_launch(s.b.get());
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->vm.name, "web");
    EXPECT_EQ(got->vm.disks, l.disks);
    EXPECT_EQ(inode(got->kvm.get()), inode(kvm.get()));
    EXPECT_EQ(inode(got->kernel.get()), inode(kernel.get()));
    EXPECT_EQ(inode(got->initrd.get()), inode(initrd.get()));
    ASSERT_EQ(got->disks.size(), 1u);
    EXPECT_EQ(inode(got->disks[0].get()), inode(disk.get()));
    EXPECT_EQ(inode(got->console_out.get()), inode(out.get()));
    EXPECT_EQ(inode(got->console_log.get()), inode(log.get()));
    EXPECT_FALSE(got->vsock_listener.valid());

    // A vsock device's descriptors follow the console's, each only when present.
    l.vsock_cid = 42;
    base::UniqueFd listener = file(), connector = file();
    LaunchFds fds{kvm.get(), kernel.get(), -1, {disk.get()}, out.get(), log.get(), listener.get(), connector.get()};
    ASSERT_TRUE(send_launch(s.a.get(), l, fds));
    got = receive_launch(s.b.get());
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->vm.vsock_cid, 42u);
    EXPECT_EQ(inode(got->console_log.get()), inode(log.get()));
    EXPECT_EQ(inode(got->vsock_listener.get()), inode(listener.get()));
    EXPECT_EQ(inode(got->vsock_connector.get()), inode(connector.get()));
    fds.vsock_listener = -1;
    ASSERT_TRUE(send_launch(s.a.get(), l, fds));
    got = receive_launch(s.b.get());
    ASSERT_TRUE(got.has_value());
    EXPECT_FALSE(got->vsock_listener.valid());
    EXPECT_EQ(inode(got->vsock_connector.get()), inode(connector.get()));

    // Channel ends, each with its link, last.
    base::UniqueFd link1 = file(), link2 = file();
    l.channels = {{true, 43, 6379}, {false, 44, 5000}};
    fds.channels = {link1.get(), link2.get()};
    ASSERT_TRUE(send_launch(s.a.get(), l, fds));
    got = receive_launch(s.b.get());
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->vm.channels, l.channels);
    ASSERT_EQ(got->channels.size(), 2u);
    EXPECT_EQ(inode(got->channels[0].get()), inode(link1.get()));
    EXPECT_EQ(inode(got->channels[1].get()), inode(link2.get()));
    EXPECT_EQ(inode(got->vsock_connector.get()), inode(connector.get()));

    // Network interfaces, each with its tap, after the links.
    base::UniqueFd tap1 = file(), tap2 = file();
    l.nets = {base::Mac{0x02, 0x6d, 0, 0, 0, 1}, base::Mac{0x52, 0x54, 0, 0x12, 0x34, 0x56}};
    fds.taps = {tap1.get(), tap2.get()};
    ASSERT_TRUE(send_launch(s.a.get(), l, fds));
    got = receive_launch(s.b.get());
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->vm.nets, l.nets);
    ASSERT_EQ(got->taps.size(), 2u);
    EXPECT_EQ(inode(got->taps[0].get()), inode(tap1.get()));
    EXPECT_EQ(inode(got->taps[1].get()), inode(tap2.get()));
    EXPECT_EQ(inode(got->channels[1].get()), inode(link2.get()));
}

TEST(Launch, AContainersReadyAndStartDescriptorsComeLast)
{
    auto file = [] { return base::UniqueFd(::memfd_create("role", MFD_CLOEXEC)); };
    base::UniqueFd kvm = file(), kernel = file(), tap = file(), ready = file(), start = file();
    VmLaunch l;
    l.memory = 32ull << 20;
    l.supervision = Supervision::Standalone;
    l.container = true;
    l.nets = {base::Mac{0x02, 0x6d, 0, 0, 0, 1}};
    LaunchFds fds{kvm.get(), kernel.get(), -1, {}, -1, -1};
    fds.taps = {tap.get()};
    fds.ready = ready.get();
    fds.start = start.get();
    LaunchPair s;
    ASSERT_TRUE(send_launch(s.a.get(), l, fds));
    auto got = receive_launch(s.b.get());
    ASSERT_TRUE(got.has_value());
    EXPECT_TRUE(got->vm.container);
    ASSERT_EQ(got->taps.size(), 1u);
    EXPECT_EQ(inode(got->taps[0].get()), inode(tap.get()));
    EXPECT_EQ(inode(got->ready.get()), inode(ready.get()));
    EXPECT_EQ(inode(got->start.get()), inode(start.get()));

    // Not without both descriptors, not with them for a VM that is no container, not in a system.
    auto refused = [&](const VmLaunch& v, const LaunchFds& f) {
        auto r = send_launch(s.a.get(), v, f);
        return !r && r.error().code == Errc::InvalidInput;
    };
    LaunchFds no_start = fds;
    no_start.start = -1;
    EXPECT_TRUE(refused(l, no_start));
    VmLaunch plain = l;
    plain.container = false;
    EXPECT_TRUE(refused(plain, fds));
    VmLaunch monitored = l;
    monitored.supervision = Supervision::Monitored;
    LaunchFds with_console = fds;
    with_console.console_out = with_console.console_log = kvm.get();
    EXPECT_TRUE(refused(monitored, with_console));
    EXPECT_FALSE(decode_launch("name x\nmemory 16777216\ncontainer 1\ncmdline a\n").has_value());
    EXPECT_FALSE(decode_launch("name x\nmemory 16777216\nstandalone 1\ncontainer 2\ncmdline a\n").has_value());
    auto d = decode_launch("name x\nmemory 16777216\nstandalone 1\ncontainer 1\ncmdline a\n");
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(launch_fd_count(*d), 4u);  // kvm, kernel, ready, start
}

TEST(Launch, RefusesToSendAnInconsistentLaunch)
{
    LaunchPair s;
    VmLaunch good;
    good.memory = 32ull << 20;
    good.supervision = Supervision::Standalone;
    const LaunchFds fds{0, 0, -1, {}, -1, -1};
    ASSERT_TRUE(send_launch(s.a.get(), good, fds));

    auto refused = [&](VmLaunch l, LaunchFds f) {
        auto r = send_launch(s.a.get(), l, f);
        return !r && r.error().code == Errc::InvalidInput;
    };
    VmLaunch small = good;
    small.memory = 1 << 20;
    EXPECT_TRUE(refused(small, fds));
    VmLaunch odd = good;
    odd.memory += 1;
    EXPECT_TRUE(refused(odd, fds));
    VmLaunch many = good;
    many.cpus = 256;
    EXPECT_TRUE(refused(many, fds));
    VmLaunch disk = good;
    disk.disks = {DiskAccess::ReadWrite};
    EXPECT_TRUE(refused(disk, fds));  // a disk without its descriptor
    EXPECT_TRUE(refused(good, {-1, 0, -1, {}, -1, -1}));  // no /dev/kvm
    EXPECT_TRUE(refused(good, {0, 0, -1, {}, 1, 1}));     // console descriptors for a standalone VM
    VmLaunch monitored = good;
    monitored.supervision = Supervision::Monitored;
    EXPECT_TRUE(refused(monitored, fds));  // a monitored VM without its console
    EXPECT_TRUE(refused(good, {0, 0, -1, {}, -1, -1, 0, -1}));  // a vsock listener without a CID
    VmLaunch host_cid = good;
    host_cid.vsock_cid = 2;
    EXPECT_TRUE(refused(host_cid, fds));
    VmLaunch channel = good;
    channel.vsock_cid = 3;
    channel.channels = {{true, 4, 80}};
    EXPECT_TRUE(refused(channel, fds));  // no link for it
    LaunchFds with_link = fds;
    with_link.channels = {0};
    EXPECT_TRUE(send_launch(s.a.get(), channel, with_link).has_value());
    channel.channels = {{true, 3, 80}};
    EXPECT_TRUE(refused(channel, with_link));  // to itself
    channel.vsock_cid = 0;
    channel.channels = {{true, 4, 80}};
    EXPECT_TRUE(refused(channel, with_link));  // without vsock
    VmLaunch net = good;
    net.nets = {base::Mac{0x02, 0x6d, 0, 0, 0, 1}};
    EXPECT_TRUE(refused(net, fds));  // no tap for it
    LaunchFds with_tap = fds;
    with_tap.taps = {0};
    EXPECT_TRUE(send_launch(s.a.get(), net, with_tap).has_value());
    net.nets = {base::Mac{0x03, 0x6d, 0, 0, 0, 1}};
    EXPECT_TRUE(refused(net, with_tap));  // multicast
    net.nets.assign(k_max_launch_nets + 1, base::Mac{0x02, 0x6d, 0, 0, 0, 1});
    with_tap.taps.assign(k_max_launch_nets + 1, 0);
    EXPECT_TRUE(refused(net, with_tap));
}

TEST(Launch, ReceiverRefusesDescriptorsThatDoNotMatch)
{
    LaunchPair s;
    const std::string m = "name web\nmemory 16777216\ninitrd 1\ncmdline a\n";  // wants 3 + 2 descriptors
    const int fds[] = {0, 0, 0};
    ASSERT_TRUE(send_message(s.a.get(), std::as_bytes(std::span(m.data(), m.size())), fds));
    auto r = receive_launch(s.b.get());
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::InvalidInput);

    s.a.reset();  // the sender went away: no launch at all
    auto none = receive_launch(s.b.get());
    ASSERT_FALSE(none.has_value());
    EXPECT_EQ(none.error().code, Errc::NotFound);
}

// In a child process: it closes every descriptor above fd 3 of the process that calls it.
TEST(LaunchSocket, LandsOnFd3KeptAcrossExecAndNothingAbove)
{
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) ::_exit(10);
        const int spare = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        struct stat want {}, got {};
        if (spare < 0 || ::fstat(p[1], &want) != 0) ::_exit(11);
        if (!install_launch_socket(p[1])) ::_exit(12);
        if (::fstat(k_launch_fd, &got) != 0 || got.st_ino != want.st_ino) ::_exit(13);  // the same pipe
        if (::fcntl(k_launch_fd, F_GETFD) != 0) ::_exit(14);                           // no FD_CLOEXEC
        if (::fcntl(spare, F_GETFD) != -1 || (p[1] > k_launch_fd && ::fcntl(p[1], F_GETFD) != -1)) ::_exit(15);
        ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace moat::protocol
