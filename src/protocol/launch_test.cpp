// The launch message between the monitor and a VM process.
#include "vmm/launch.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace moat::vmm {
namespace {

TEST(LaunchMessage, RoundTrips)
{
    VmLaunch l;
    l.name = "analyst";
    l.cmdline = "console=ttyS0 moat_action=demo  with  spaces";
    l.memory = 512ull << 20;
    l.cpus = 2;
    l.initrd = true;
    l.disk_writable = {false, true};
    auto d = decode_launch(encode_launch(l));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->name, l.name);
    EXPECT_EQ(d->cmdline, l.cmdline);
    EXPECT_EQ(d->memory, l.memory);
    EXPECT_EQ(d->cpus, 2u);
    EXPECT_TRUE(d->initrd);
    EXPECT_EQ(d->disk_writable, l.disk_writable);
    EXPECT_FALSE(d->standalone);
    EXPECT_FALSE(d->verbose);
    EXPECT_TRUE(d->input_names.empty());
    EXPECT_EQ(launch_fd_count(*d), 2u + 1u + 2u + 2u);  // kvm, kernel; initrd; disks; console out, log
}

TEST(LaunchMessage, RoundTripsAStandaloneVm)
{
    VmLaunch l;
    l.cmdline = "console=ttyS0\nsecond line ends\n";  // the last field may hold newlines
    l.memory = 64ull << 20;
    l.standalone = true;
    l.verbose = true;
    l.disk_writable = {true};
    l.input_names = {{"kernel", "--kernel 'bzImage'"}, {"disk 0", "--disk 'a=b\nc'"}};
    auto d = decode_launch(encode_launch(l));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->name, "");
    EXPECT_EQ(d->cmdline, l.cmdline);
    EXPECT_TRUE(d->standalone);
    EXPECT_TRUE(d->verbose);
    EXPECT_FALSE(d->initrd);
    EXPECT_EQ(d->input_names.at("kernel"), "--kernel 'bzImage'");
    EXPECT_EQ(d->input_names.at("disk 0"), "--disk 'a=b?c'");  // a name's newline is sent as '?'
    EXPECT_EQ(launch_fd_count(*d), 3u);  // kvm, kernel, one disk: the console is stdio
}

TEST(LaunchMessage, RefusesTooManyInputNames)
{
    std::string m = "name web\nmemory 1\n";
    for (std::size_t i = 0; i <= kMaxLaunchInputNames; ++i) m += "input k" + std::to_string(i) + "=x\n";
    EXPECT_FALSE(decode_launch(m + "cmdline a\n").has_value());
}

TEST(LaunchMessage, RefusesMalformed)
{
    const char* bad[] = {
        "",                                                      // nothing
        "name web\nmemory 1\n",                                  // no cmdline
        "name web\nmemory x\ncmdline a\n",                       // bad number
        "name web\nmemory 1\ncpus 0\ncmdline a\n",               // no vCPU
        "name web\nmemory 1\ncpus 300\ncmdline a\n",             // too many
        "name web\nmemory 1\ndisk maybe\ncmdline a\n",           // bad mode
        "name web\nmemory 1\ncolour blue\ncmdline a\n",          // unknown key
        "name web\nmemory 1\ncmdline a",                         // unterminated
        "name\nmemory 1\ncmdline a\n",                           // no value
        "name web\nmemory 1\ninitrd yes\ncmdline a\n",          // bad flag
        "name web\nmemory 1\nstandalone 2\ncmdline a\n",        // bad flag
        "name web\nmemory 1\nverbose \ncmdline a\n",            // bad flag
        "name web\nmemory 1\ninput kernel\ncmdline a\n",        // input name without '='
        "name web\nmemory 1\ninput =x\ncmdline a\n",            // input name without key
        "name web\ncmdline a\nmemory 1\n",                       // the command line runs to the end
        "cmdline",                                               // no value, no newline
    };
    for (const char* b : bad) EXPECT_FALSE(decode_launch(b).has_value()) << b;
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
        if (::fstat(kLaunchFd, &got) != 0 || got.st_ino != want.st_ino) ::_exit(13);  // the same pipe
        if (::fcntl(kLaunchFd, F_GETFD) != 0) ::_exit(14);                           // no FD_CLOEXEC
        if (::fcntl(spare, F_GETFD) != -1 || (p[1] > kLaunchFd && ::fcntl(p[1], F_GETFD) != -1)) ::_exit(15);
        ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace moat::vmm
