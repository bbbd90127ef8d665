// The rootfs image: an erofs superblock where the kernel looks for it, and mkfs.erofs's own
// words when it fails.
#include "oci/image.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace moat::oci {
namespace {

class OciImage : public ::testing::Test {
protected:
    void SetUp() override
    {
        char d[] = "/tmp/oci-image-XXXXXX";
        ASSERT_NE(::mkdtemp(d), nullptr);
        dir = d;
        std::filesystem::create_directories(dir + "/root/bin");
        std::ofstream(dir + "/root/bin/hello") << "#!/bin/sh\necho hello\n";
    }
    void TearDown() override { std::filesystem::remove_all(dir); }
    std::string dir;
};

TEST_F(OciImage, MakesAnErofsImage)
{
    const std::string image = dir + "/rootfs.erofs";
    auto r = make_erofs(dir + "/root", image);
    ASSERT_TRUE(r) << describe(r.error());
    // EROFS_SUPER_MAGIC_V1, little-endian, at the superblock's offset (1024).
    std::ifstream f(image, std::ios::binary);
    f.seekg(1024);
    std::uint8_t magic[4] = {};
    f.read(reinterpret_cast<char*>(magic), 4);
    EXPECT_EQ(magic[0], 0xe2);
    EXPECT_EQ(magic[1], 0xe1);
    EXPECT_EQ(magic[2], 0xf5);
    EXPECT_EQ(magic[3], 0xe0);
    EXPECT_FALSE(std::filesystem::exists(image + ".tmp"));
}

TEST_F(OciImage, SaysWhyItFailed)
{
    const std::string image = dir + "/rootfs.erofs";
    auto r = make_erofs(dir + "/nosuch", image);
    ASSERT_FALSE(r);
    const std::string msg = describe(r.error());
    EXPECT_EQ(msg.rfind("mkfs.erofs of '" + dir + "/nosuch' exited ", 0), 0u) << msg;
    EXPECT_GT(msg.size(), std::string("mkfs.erofs of '" + dir + "/nosuch' exited 1").size()) << "its words follow";
    EXPECT_FALSE(std::filesystem::exists(image));
    EXPECT_FALSE(std::filesystem::exists(image + ".tmp"));
}

}  // namespace
}  // namespace moat::oci
