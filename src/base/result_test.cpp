// Error messages: the context an error carries, and how describe() joins the parts.
#include "base/result.hpp"

#include <gtest/gtest.h>

#include <cerrno>

namespace moat {
namespace {

TEST(Error, DescribeJoinsTheNonEmptyParts)
{
    EXPECT_EQ(describe(Error{Errc::InvalidInput, 0, "bad size", {}}), "bad size");
    EXPECT_EQ(describe(Error{Errc::Io, ENOENT, "open", {}}), "open: No such file or directory");
    EXPECT_EQ(describe(Error{Errc::Io, ENOENT, "", "manifest 'x'"}), "manifest 'x': No such file or directory");
    EXPECT_EQ(describe(Error{Errc::Io, ENOENT, "open", "--kernel 'k'"}), "--kernel 'k': open: No such file or directory");
    EXPECT_EQ(describe(Error{Errc::InvalidInput, 0, "", "x.toml:3: vm.web: bad"}), "x.toml:3: vm.web: bad");
}

TEST(Error, ContextNestsOutermostFirst)
{
    const Error inner{Errc::OutOfRange, 0, "below the minimum of 16M", "memory"};
    const Error outer = inner.in("vm web");
    EXPECT_EQ(outer.context, "vm web: memory");
    EXPECT_EQ(describe(outer), "vm web: memory: below the minimum of 16M");
    EXPECT_EQ(outer.code, Errc::OutOfRange);
    EXPECT_EQ(describe(Error{Errc::Io, 0, "read", {}}.in("disk 0")), "disk 0: read");
}

TEST(Error, FailWithAndFailErrnoIn)
{
    Result<int> r = fail_with(Errc::Unsupported, "x.toml:1: channel: not supported yet");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::Unsupported);
    EXPECT_EQ(describe(r.error()), "x.toml:1: channel: not supported yet");
    errno = EACCES;
    Result<int> e = fail_errno_in("volume 'base'");
    EXPECT_EQ(e.error().code, Errc::Io);
    EXPECT_EQ(describe(e.error()), "volume 'base': Permission denied");
}

}  // namespace
}  // namespace moat
