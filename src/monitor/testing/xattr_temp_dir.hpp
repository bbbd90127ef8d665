// Test helper: a fresh temporary directory on a file system with user extended attributes,
// where volumes keep their labels. Tests that use it exist to check label storage, so without
// user xattrs they fail (with the reason), they do not skip.
#pragma once

#include <stdlib.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace moat::monitor::testing {

class XattrTempDir {
public:
    // Call from SetUp() inside ASSERT_NO_FATAL_FAILURE.
    void create(const char* prefix)
    {
        std::string tmpl = std::string("/tmp/") + prefix + "-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << std::strerror(errno);
        m_dir = tmpl;
        const std::string probe = path("probe");
        std::ofstream(probe).put('x');
        ASSERT_EQ(::setxattr(probe.c_str(), "user.moat.probe", "1", 1, 0), 0)
            << "user extended attributes are unusable in " << m_dir << " (" << std::strerror(errno)
            << "): moat volumes need a file system with user xattrs (ext4, xfs, btrfs, tmpfs >= 6.6)";
        ::unlink(probe.c_str());
    }
    ~XattrTempDir()
    {
        std::error_code ec;
        if (!m_dir.empty()) std::filesystem::remove_all(m_dir, ec);
    }
    const std::string& dir() const { return m_dir; }
    std::string path(const char* name) const { return m_dir + "/" + name; }

private:
    std::string m_dir;
};

}  // namespace moat::monitor::testing
