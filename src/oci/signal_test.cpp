// Signal numbers and names as `moat-oci kill` takes them, and what it refuses.
#include "oci/signal.hpp"

#include <gtest/gtest.h>
#include <signal.h>

namespace moat::oci {
namespace {

TEST(OciSignal, NumbersAndNames)
{
    EXPECT_EQ(*parse_signal("15"), SIGTERM);
    EXPECT_EQ(*parse_signal("9"), SIGKILL);
    EXPECT_EQ(*parse_signal("64"), 64);
    EXPECT_EQ(*parse_signal("KILL"), SIGKILL);
    EXPECT_EQ(*parse_signal("SIGKILL"), SIGKILL);
    EXPECT_EQ(*parse_signal("term"), SIGTERM);
    EXPECT_EQ(*parse_signal("SigWinch"), SIGWINCH);
    EXPECT_EQ(*parse_signal("USR1"), SIGUSR1);
}

TEST(OciSignal, Refuses)
{
    for (const char* bad : {"", "0", "65", "-9", "9x", "1e3", "99999999999", "SIG", "KILLL", "SIGSIGKILL", " 9",
                            "RTMIN"}) {
        auto r = parse_signal(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, Errc::InvalidInput);
        EXPECT_NE(r.error().context.find("give a number from 1 to 64"), std::string::npos) << bad;
    }
}

}  // namespace
}  // namespace moat::oci
