// The newc archive, read back by Debian's cpio (install-deps has it): the names, the modes, the
// bytes.
#include "oci/cpio.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace moat::oci {
namespace {

std::string run(const std::string& cmd)
{
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return "(popen failed)";
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    ::pclose(p);
    return out;
}

TEST(OciCpio, CpioReadsItBack)
{
    Cpio c;
    ASSERT_TRUE(c.add_dir("moat"));
    ASSERT_TRUE(c.add_file("moat/config", std::string("arg\0echo\0", 9), 0600));
    ASSERT_TRUE(c.add_file("moat/files/0", "127.0.0.1 localhost\n"));
    ASSERT_TRUE(c.add_file("moat/empty", ""));
    const std::string archive = c.finish();
    EXPECT_EQ(archive.size() % 4, 0u);
    EXPECT_EQ(archive.substr(0, 6), "070701");

    char dir[] = "/tmp/oci-cpio-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    const std::string d = dir;
    std::ofstream(d + "/a.cpio", std::ios::binary) << archive;
    EXPECT_EQ(run("cpio --quiet -it < " + d + "/a.cpio"), "moat\nmoat/config\nmoat/files/0\nmoat/empty\n");
    EXPECT_EQ(run("cd " + d + " && cpio --quiet -id < a.cpio && stat -c '%a %s' moat/config moat/files/0 && stat -c '%a %F' moat"),
              "600 9\n644 20\n755 directory\n");
    std::ifstream f(d + "/moat/files/0");
    std::stringstream got;
    got << f.rdbuf();
    EXPECT_EQ(got.str(), "127.0.0.1 localhost\n");
    std::filesystem::remove_all(d);
}

TEST(OciCpio, RefusesBadNames)
{
    Cpio c;
    for (const char* bad : {"", "/etc/passwd", "../x", "a/../../x", "a/.."})
        EXPECT_FALSE(c.add_file(bad, "x")) << bad;
    EXPECT_FALSE(c.add_file(std::string_view("a\0b", 3), "x"));
    EXPECT_TRUE(c.add_file("a..b/..c", "x")) << "dots inside a name are fine";
}

}  // namespace
}  // namespace moat::oci
