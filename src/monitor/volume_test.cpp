// Labelled volumes: creation (sparse, mode, labels), every refusal, reading and checking the
// stored label against a manifest lattice. Needs user extended attributes on /tmp.
#include "monitor/volume_create.hpp"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "monitor/testing/xattr_temp_dir.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "base/unique_fd.hpp"

using namespace moat;
using namespace moat::monitor;
using moat::base::UniqueFd;

namespace {

policy::Lattice design_lattice()
{
    return policy::Lattice::create({"public", "internal", "secret"}, {"finance", "hr"}, {"untrusted", "trusted"})
        .value();
}

policy::Label label_of(std::string_view secrecy, std::string_view integrity)
{
    return policy::parse_label(design_lattice(), secrecy, integrity).value();
}

std::string get_attr(const std::string& path, const char* name)
{
    char buf[256];
    const ssize_t n = ::getxattr(path.c_str(), name, buf, sizeof(buf));
    if (n < 0) return "<errno " + std::to_string(errno) + ">";
    return std::string(buf, static_cast<std::size_t>(n));
}

class VolumeTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        ASSERT_NO_FATAL_FAILURE(m_tmp.create("moat-volume-test"));
        m_dir = m_tmp.dir();
    }
    std::string path(const char* name) const { return m_tmp.path(name); }

    UniqueFd open_ro(const std::string& p) const { return UniqueFd(::open(p.c_str(), O_RDONLY | O_CLOEXEC)); }

    // A plain file with content, as left by something other than create_volume.
    std::string plain_file(const char* name, const char* content = "keep") const
    {
        const std::string p = path(name);
        std::ofstream(p) << content;
        return p;
    }

    static bool exists(const std::string& p)
    {
        struct stat st{};
        return ::lstat(p.c_str(), &st) == 0;
    }

    moat::monitor::testing::XattrTempDir m_tmp;
    std::string m_dir;
};

}  // namespace

TEST(LabelSyntax, AcceptsLevelsAndCategories)
{
    for (const char* ok : {"public", "secret:finance", "secret:hr,finance", "x_1-2:A-b,c_3", "trusted"})
        EXPECT_TRUE(check_label_syntax(ok).has_value()) << ok;
}

TEST(LabelSyntax, RejectsMalformedText)
{
    const std::string too_long(k_max_label_text + 1, 'a');
    for (std::string_view bad : {std::string_view(""), std::string_view(":finance"), std::string_view("secret:"),
                                 std::string_view("secret:a,,b"), std::string_view("secret:a,"),
                                 std::string_view("secret:,a"), std::string_view("secret:a,a"),
                                 std::string_view("sec ret"), std::string_view("secret:fin/ance"),
                                 std::string_view("a:b:c"), std::string_view("caf\xc3\xa9"),
                                 std::string_view("public\n"), std::string_view("se\0cret", 7),
                                 std::string_view(too_long)}) {
        auto r = check_label_syntax(bad);
        ASSERT_FALSE(r.has_value()) << bad;
        EXPECT_EQ(r.error().code, Errc::InvalidInput) << bad;
    }
    EXPECT_TRUE(check_label_syntax(std::string(k_max_label_text, 'a')).has_value());
}

TEST_F(VolumeTest, CreatesSparseImageWithModeSizeAndLabels)
{
    const std::string p = path("base.img");
    auto r = create_volume(p, 64u << 20, "secret:hr,finance", "trusted");
    ASSERT_TRUE(r.has_value()) << r.error().what << ": " << std::strerror(r.error().sys_errno);

    struct stat st{};
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_size, 64 << 20);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_LE(st.st_blocks * 512, 64 << 10) << "the image is not sparse";
    // Stored exactly as written; no lattice is known at creation.
    EXPECT_EQ(get_attr(p, k_label_xattr), "secret:hr,finance");
    EXPECT_EQ(get_attr(p, k_integrity_xattr), "trusted");

    UniqueFd fd = open_ro(p);
    auto info = volume_info(fd.get());
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->size, 64u << 20);
    EXPECT_EQ(info->allocated, static_cast<std::uint64_t>(st.st_blocks) * 512u);
    ASSERT_TRUE(info->label.has_value());
    EXPECT_EQ(info->label->label, "secret:hr,finance");
    EXPECT_EQ(info->label->integrity, "trusted");
}

TEST_F(VolumeTest, SmallestSizeIsOneSector)
{
    const std::string p = path("tiny.img");
    ASSERT_TRUE(create_volume(p, 512, "public", "untrusted").has_value());
    struct stat st{};
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 512);
}

TEST_F(VolumeTest, RefusesExistingFile)
{
    const std::string p = plain_file("existing.img");
    auto r = create_volume(p, 1 << 20, "public", "trusted");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::Io);
    EXPECT_EQ(r.error().sys_errno, EEXIST);
    EXPECT_STREQ(r.error().what, "open");
    // Untouched: same content, no label added, and not removed by the failure path.
    std::ifstream in(p);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "keep");
    UniqueFd fd = open_ro(p);
    auto stored = read_volume_label(fd.get());
    ASSERT_TRUE(stored.has_value());
    EXPECT_FALSE(stored->has_value());
}

TEST_F(VolumeTest, RefusesSymlinkEvenDangling)
{
    const std::string target = path("target.img");
    const std::string link = path("link.img");
    ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
    auto r = create_volume(link, 1 << 20, "public", "trusted");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().sys_errno, EEXIST);
    EXPECT_FALSE(exists(target));
    EXPECT_TRUE(exists(link));
}

TEST_F(VolumeTest, RejectsBadLabelTextBeforeCreating)
{
    const std::string p = path("bad.img");
    for (const char* bad : {"", "secret:", "secret:a,,b", "top secret", "a:b:c"}) {
        auto r = create_volume(p, 1 << 20, bad, "trusted");
        ASSERT_FALSE(r.has_value()) << bad;
        EXPECT_EQ(r.error().code, Errc::InvalidInput) << bad;
        EXPECT_NE(std::strstr(r.error().what, "label"), nullptr) << r.error().what;
        auto i = create_volume(p, 1 << 20, "public", bad);
        ASSERT_FALSE(i.has_value()) << bad;
        EXPECT_EQ(i.error().code, Errc::InvalidInput) << bad;
        EXPECT_NE(std::strstr(i.error().what, "integrity"), nullptr) << i.error().what;
    }
    EXPECT_FALSE(exists(p));
}

TEST_F(VolumeTest, RejectsBadSizeBeforeCreating)
{
    const std::string p = path("bad.img");
    for (std::uint64_t bad : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{511}, std::uint64_t{513},
                              std::uint64_t{1000}, (std::uint64_t{1} << 20) + 1, ~std::uint64_t{511}}) {
        auto r = create_volume(p, bad, "public", "trusted");
        ASSERT_FALSE(r.has_value()) << bad;
        EXPECT_EQ(r.error().code, Errc::OutOfRange) << bad;
    }
    EXPECT_FALSE(exists(p));
}

TEST_F(VolumeTest, RemovesTheFileWhenAStepAfterCreationFails)
{
    // A file-size limit makes ftruncate fail with EFBIG after the file was created (SIGXFSZ
    // ignored so the failure is an errno, setrlimit(2)).
    struct rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
    struct rlimit small = old;
    small.rlim_cur = 1 << 20;
    auto* old_handler = ::signal(SIGXFSZ, SIG_IGN);
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    const std::string p = path("big.img");
    auto r = create_volume(p, 64u << 20, "public", "trusted");
    ::setrlimit(RLIMIT_FSIZE, &old);
    ::signal(SIGXFSZ, old_handler);

    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::Io);
    EXPECT_EQ(r.error().sys_errno, EFBIG);
    EXPECT_FALSE(exists(p)) << "a half-made volume was left behind";
}

TEST_F(VolumeTest, ReadLabelOfUnlabelledFileIsNullopt)
{
    UniqueFd fd = open_ro(plain_file("plain.img"));
    auto stored = read_volume_label(fd.get());
    ASSERT_TRUE(stored.has_value());
    EXPECT_FALSE(stored->has_value());

    auto info = volume_info(fd.get());
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->size, 4u);
    EXPECT_FALSE(info->label.has_value());
}

TEST_F(VolumeTest, ReadLabelReportsOneMissingHalfAsEmpty)
{
    const std::string p = plain_file("half.img");
    ASSERT_EQ(::setxattr(p.c_str(), k_label_xattr, "secret", 6, 0), 0);
    UniqueFd fd = open_ro(p);
    auto stored = read_volume_label(fd.get());
    ASSERT_TRUE(stored.has_value());
    ASSERT_TRUE(stored->has_value());
    EXPECT_EQ((*stored)->label, "secret");
    EXPECT_EQ((*stored)->integrity, "");

    auto check = check_volume_label(fd.get(), design_lattice(), label_of("secret", "trusted"));
    EXPECT_EQ(check.result, LabelCheck::Unparsable);
    EXPECT_EQ(check.stored, "secret/");
}

TEST_F(VolumeTest, ReadLabelRefusesOverlongAttribute)
{
    const std::string p = plain_file("long.img");
    const std::string big(k_max_label_text + 1, 'a');
    ASSERT_EQ(::setxattr(p.c_str(), k_label_xattr, big.data(), big.size(), 0), 0);
    UniqueFd fd = open_ro(p);
    auto stored = read_volume_label(fd.get());
    ASSERT_FALSE(stored.has_value());
    EXPECT_EQ(stored.error().code, Errc::InvalidInput);
    EXPECT_EQ(check_volume_label(fd.get(), design_lattice(), label_of("public", "trusted")).result,
              LabelCheck::Unparsable);
}

TEST_F(VolumeTest, ReadLabelErrorsWhereXattrsAreUnsupported)
{
    // procfs has no extended attributes: the error must surface, not read as "no label".
    UniqueFd proc = open_ro("/proc/version");
    ASSERT_TRUE(proc.valid());
    auto stored = read_volume_label(proc.get());
    ASSERT_FALSE(stored.has_value());
    EXPECT_EQ(stored.error().code, Errc::Io);
    EXPECT_EQ(stored.error().sys_errno, ENOTSUP);
    auto check = check_volume_label(proc.get(), design_lattice(), label_of("public", "trusted"));
    EXPECT_EQ(check.result, LabelCheck::Unparsable);
    EXPECT_EQ(check.stored, "");

    auto info = volume_info(proc.get());
    ASSERT_FALSE(info.has_value());
    EXPECT_EQ(info.error().code, Errc::Io);
    EXPECT_EQ(info.error().sys_errno, ENOTSUP);
}

TEST_F(VolumeTest, VolumeInfoRefusesNonRegularFiles)
{
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    UniqueFd r(fds[0]);
    UniqueFd w(fds[1]);
    auto pipe_info = volume_info(r.get());
    ASSERT_FALSE(pipe_info.has_value());
    EXPECT_EQ(pipe_info.error().code, Errc::InvalidInput);

    UniqueFd dir(::open(m_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(dir.valid());
    auto info = volume_info(dir.get());
    ASSERT_FALSE(info.has_value());
    EXPECT_EQ(info.error().code, Errc::InvalidInput);
    EXPECT_FALSE(volume_info(-1).has_value());
}

TEST_F(VolumeTest, CheckMatchMissingDiffers)
{
    const policy::Lattice lattice = design_lattice();
    const std::string p = path("analyst.img");
    ASSERT_TRUE(create_volume(p, 1 << 20, "secret:finance", "untrusted").has_value());
    UniqueFd fd = open_ro(p);

    auto match = check_volume_label(fd.get(), lattice, label_of("secret:finance", "untrusted"));
    EXPECT_EQ(match.result, LabelCheck::Match);
    EXPECT_EQ(match.stored, "secret:finance/untrusted");

    auto other_secrecy = check_volume_label(fd.get(), lattice, label_of("secret:finance,hr", "untrusted"));
    EXPECT_EQ(other_secrecy.result, LabelCheck::Differs);
    EXPECT_EQ(other_secrecy.stored, "secret:finance/untrusted");
    EXPECT_EQ(check_volume_label(fd.get(), lattice, label_of("secret:finance", "trusted")).result,
              LabelCheck::Differs);
    EXPECT_EQ(check_volume_label(fd.get(), lattice, label_of("public", "untrusted")).result, LabelCheck::Differs);

    UniqueFd plain = open_ro(plain_file("plain.img"));
    auto missing = check_volume_label(plain.get(), lattice, label_of("public", "trusted"));
    EXPECT_EQ(missing.result, LabelCheck::Missing);
    EXPECT_EQ(missing.stored, "");
}

TEST_F(VolumeTest, CheckIgnoresCategoryOrder)
{
    const std::string p = path("both.img");
    ASSERT_TRUE(create_volume(p, 1 << 20, "secret:hr,finance", "trusted").has_value());
    UniqueFd fd = open_ro(p);
    auto r = check_volume_label(fd.get(), design_lattice(), label_of("secret:finance,hr", "trusted"));
    EXPECT_EQ(r.result, LabelCheck::Match);
    EXPECT_EQ(r.stored, "secret:hr,finance/trusted");  // as stored, not canonicalised
}

TEST_F(VolumeTest, CheckUnparsableAgainstThisLattice)
{
    const policy::Lattice lattice = design_lattice();
    const policy::Label expected = label_of("secret", "trusted");
    struct Case {
        const char* label;
        const char* integrity;
        const char* shown;
    };
    // Names this lattice lacks, swapped dimensions, malformed text written behind moat's back,
    // and control bytes (shown as '?').
    for (const Case& c : {Case{"topsecret", "trusted", "topsecret/trusted"},
                          Case{"secret:legal", "trusted", "secret:legal/trusted"},
                          Case{"trusted", "secret", "trusted/secret"}, Case{"secret:", "trusted", "secret:/trusted"},
                          Case{"secret\x1b[2J", "trusted", "secret?[2J/trusted"}}) {
        const std::string p = plain_file("odd.img");
        ASSERT_EQ(::setxattr(p.c_str(), k_label_xattr, c.label, std::strlen(c.label), 0), 0);
        ASSERT_EQ(::setxattr(p.c_str(), k_integrity_xattr, c.integrity, std::strlen(c.integrity), 0), 0);
        UniqueFd fd = open_ro(p);
        auto r = check_volume_label(fd.get(), lattice, expected);
        EXPECT_EQ(r.result, LabelCheck::Unparsable) << c.label;
        EXPECT_EQ(r.stored, c.shown);
        ::unlink(p.c_str());
    }
}
