// `moat volume create|show`: exact output, exit statuses and error lines.
#include "cli/volume_cmd.hpp"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "monitor/testing/xattr_temp_dir.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

using namespace moat::cli;
using ::testing::internal::CaptureStderr;
using ::testing::internal::CaptureStdout;
using ::testing::internal::GetCapturedStderr;
using ::testing::internal::GetCapturedStdout;

namespace {

struct Output {
    int status;
    std::string out;
    std::string err;
};

template <typename F>
Output run(F&& f)
{
    CaptureStdout();
    CaptureStderr();
    const int status = f();
    Output o{status, GetCapturedStdout(), {}};
    o.err = GetCapturedStderr();
    return o;
}

class VolumeCmdTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        ASSERT_NO_FATAL_FAILURE(m_tmp.create("moat-volume-cmd-test"));
        m_dir = m_tmp.dir();
    }
    std::string path(const char* name) const { return m_tmp.path(name); }

    moat::monitor::testing::XattrTempDir m_tmp;
    std::string m_dir;
};

}  // namespace

TEST_F(VolumeCmdTest, CreateThenShow)
{
    const std::string p = path("base.img");
    Output c = run([&] { return volume_create_main(p, "64M", "public", "trusted"); });
    EXPECT_EQ(c.status, 0);
    EXPECT_EQ(c.out, "created " + p + ": 64M, label public, integrity trusted\n");
    EXPECT_EQ(c.err, "");

    // Sparse: nothing allocated on ext4 (small xattrs live in the inode); compare with stat.
    struct stat st{};
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    const std::string allocated = std::to_string(st.st_blocks * 512);
    Output s = run([&] { return volume_show_main(p); });
    EXPECT_EQ(s.status, 0);
    EXPECT_EQ(s.out, "path: " + p + "\nsize: 64M (67108864 bytes)\nallocated: " + allocated +
                         " bytes\nlabel: public\nintegrity: trusted\n");
    EXPECT_EQ(s.err, "");
}

TEST_F(VolumeCmdTest, SizesThatAreNoWholeUnit)
{
    const std::string p = path("odd.img");
    Output c = run([&] { return volume_create_main(p, "1536", "secret:hr,finance", "untrusted"); });
    EXPECT_EQ(c.status, 0);
    EXPECT_EQ(c.out, "created " + p + ": 1536 bytes, label secret:hr,finance, integrity untrusted\n");
    Output s = run([&] { return volume_show_main(p); });
    EXPECT_EQ(s.status, 0);
    EXPECT_NE(s.out.find("\nsize: 1536 bytes\n"), std::string::npos) << s.out;
    EXPECT_NE(s.out.find("\nlabel: secret:hr,finance\n"), std::string::npos) << s.out;
}

TEST_F(VolumeCmdTest, CreateRefusesExistingFileWithStatus2)
{
    const std::string p = path("existing.img");
    std::ofstream(p) << "data";
    Output c = run([&] { return volume_create_main(p, "1M", "public", "trusted"); });
    EXPECT_EQ(c.status, 2);  // the user named an existing file
    EXPECT_EQ(c.out, "");
    EXPECT_EQ(c.err, "moat: volume create '" + p + "': File exists\n");
}

TEST_F(VolumeCmdTest, CreateRejectsBadInputWithStatus2)
{
    const std::string p = path("bad.img");
    struct Case {
        const char* size;
        const char* label;
        const char* integrity;
        const char* message_part;
    };
    for (const Case& k : {Case{"12Q", "public", "trusted", "size '12Q': "},
                          Case{"", "public", "trusted", "size '': "},
                          Case{"1000", "public", "trusted", "multiple of 512"},
                          Case{"0", "public", "trusted", "multiple of 512"},
                          Case{"1M", "secret:", "trusted", "label must be"},
                          Case{"1M", "top secret", "trusted", "label must be"},
                          Case{"1M", "public", "", "integrity must be"}}) {
        Output c = run([&] { return volume_create_main(p, k.size, k.label, k.integrity); });
        EXPECT_EQ(c.status, 2) << k.size << " " << k.label;
        EXPECT_EQ(c.out, "");
        EXPECT_EQ(c.err.rfind("moat: volume create '" + p + "': ", 0), 0u) << c.err;
        EXPECT_NE(c.err.find(k.message_part), std::string::npos) << c.err;
        EXPECT_EQ(std::count(c.err.begin(), c.err.end(), '\n'), 1) << c.err;
    }
    struct stat st{};
    EXPECT_NE(::lstat(p.c_str(), &st), 0) << "a refused create left a file";
}

TEST_F(VolumeCmdTest, ShowUnlabelledAndHalfLabelledFiles)
{
    const std::string p = path("plain.img");
    std::ofstream(p) << "data";
    Output s = run([&] { return volume_show_main(p); });
    EXPECT_EQ(s.status, 0);
    EXPECT_NE(s.out.find("\nsize: 4 bytes\n"), std::string::npos) << s.out;
    EXPECT_NE(s.out.find("\nlabel: none (not a moat volume)\n"), std::string::npos) << s.out;
    EXPECT_EQ(s.out.find("integrity"), std::string::npos) << s.out;

    ASSERT_EQ(::setxattr(p.c_str(), "user.moat.label", "secret\x1b", 7, 0), 0);
    Output h = run([&] { return volume_show_main(p); });
    EXPECT_EQ(h.status, 0);
    EXPECT_NE(h.out.find("\nlabel: secret?\nintegrity: none (missing)\n"), std::string::npos) << h.out;
}

TEST_F(VolumeCmdTest, ShowErrors)
{
    const std::string missing = path("missing.img");
    Output m = run([&] { return volume_show_main(missing); });
    EXPECT_EQ(m.status, 2);  // bad input: a path that names nothing
    EXPECT_EQ(m.err, "moat: volume show '" + missing + "': No such file or directory\n");
    EXPECT_EQ(m.out, "");

    Output d = run([&] { return volume_show_main(m_dir); });
    EXPECT_EQ(d.status, 2);
    EXPECT_EQ(d.err, "moat: volume show '" + m_dir + "': not a regular file\n");

    // A FIFO neither hangs the command nor passes for a volume.
    const std::string fifo = path("fifo");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    Output f = run([&] { return volume_show_main(fifo); });
    EXPECT_EQ(f.status, 2);
    EXPECT_EQ(f.err, "moat: volume show '" + fifo + "': not a regular file\n");

    Output x = run([] { return volume_show_main("/proc/version"); });
    EXPECT_EQ(x.status, 1);
    EXPECT_NE(x.err.find("Operation not supported (the file system does not support user extended attributes)"),
              std::string::npos)
        << x.err;
}
