// The launch message between the monitor and a VM process.
#include "vmm/launch.hpp"

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
    };
    for (const char* b : bad) EXPECT_FALSE(decode_launch(b).has_value()) << b;
}

}  // namespace
}  // namespace moat::vmm
