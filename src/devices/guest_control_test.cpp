// The guest init's control lines: the protocol's sentences, and every way a guest can break it.
#include "devices/guest_control.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace moat::devices {
namespace {

using Kind = GuestControl::Event::Kind;

// Feeds `bytes`; the events that came out, and the first error's text (empty without one).
struct Fed {
    std::vector<GuestControl::Event> events;
    std::string error;
};
Fed feed(GuestControl& c, const std::string& bytes)
{
    Fed f;
    for (char ch : bytes) {
        auto r = c.feed(static_cast<std::uint8_t>(ch));
        if (!r) {
            if (f.error.empty()) f.error = r.error().what;
            EXPECT_EQ(r.error().code, Errc::GuestFault);
        } else if (*r) {
            f.events.push_back(**r);
        }
    }
    return f;
}

TEST(GuestControl, ReadyThenExit)
{
    GuestControl c;
    Fed f = feed(c, "ready\n");
    ASSERT_EQ(f.events.size(), 1u);
    EXPECT_EQ(f.events[0].kind, Kind::Ready);
    EXPECT_TRUE(c.ready());
    f = feed(c, "exit 42\n");
    ASSERT_EQ(f.events.size(), 1u);
    EXPECT_EQ(f.events[0].kind, Kind::Exit);
    EXPECT_EQ(f.events[0].status, 42);
    EXPECT_TRUE(c.exited());
    EXPECT_TRUE(f.error.empty());
}

TEST(GuestControl, StatusesAtTheEdges)
{
    for (const auto& [line, status] : std::vector<std::pair<std::string, int>>{{"exit 0\n", 0}, {"exit 255\n", 255}}) {
        GuestControl c;
        Fed f = feed(c, line);
        ASSERT_EQ(f.events.size(), 1u) << line;
        EXPECT_EQ(f.events[0].status, status);
    }
}

TEST(GuestControl, ErrorsMapAsRuncDoes)
{
    struct Case {
        const char* line;
        int status;
        const char* message;
    };
    for (const Case& k : {Case{"error ENOENT /nonexistent: no such file or directory\n", 127,
                               "/nonexistent: no such file or directory"},
                          Case{"error EACCES /bin/x: permission denied\n", 126, "/bin/x: permission denied"},
                          Case{"error EIO\n", 125, ""}}) {
        GuestControl c;
        Fed f = feed(c, k.line);
        ASSERT_EQ(f.events.size(), 1u) << k.line;
        EXPECT_EQ(f.events[0].kind, Kind::Error);
        EXPECT_EQ(f.events[0].status, k.status);
        EXPECT_EQ(f.events[0].message, k.message);
        EXPECT_TRUE(c.exited()) << "an error ends the container";
    }
}

TEST(GuestControl, Violations)
{
    struct Case {
        std::string bytes;
        const char* why;
    };
    const std::vector<Case> cases = {
        {"hello\n", "an unknown control line"},
        {"ready\nready\n", "ready said twice"},
        {"exit\n", "an unknown control line"},
        {"exit \n", "exit without a status from 0 to 255"},
        {"exit 256\n", "exit without a status from 0 to 255"},
        {"exit -1\n", "exit without a status from 0 to 255"},
        {"exit 1x\n", "exit without a status from 0 to 255"},
        {"exit 0001\n", "exit without a status from 0 to 255"},
        {"exit 99999999999999999999\n", "exit without a status from 0 to 255"},
        {"exit 3\nready\n", "a control line after exit"},
        {"exit 3\nexit 4\n", "a control line after exit"},
        {"error \n", "error without a code"},
        {"rea\rdy\n", "a control line holds a byte that is not printable ASCII"},
        {std::string("exit \x00\n", 7), "a control line holds a byte that is not printable ASCII"},
        {"\xff\n", "a control line holds a byte that is not printable ASCII"},
        {std::string(161, 'a'), "a control line is longer than 160 bytes"},
    };
    for (const Case& k : cases) {
        GuestControl c;
        Fed f = feed(c, k.bytes);
        EXPECT_EQ(f.error, k.why) << k.bytes;
        // Broken for good: even a well-formed line is refused now.
        auto after = c.feed('\n');
        ASSERT_FALSE(after);
        EXPECT_STREQ(after.error().what, "the control channel was broken before");
    }
}

TEST(GuestControl, TheLongestLineIsTaken)
{
    GuestControl c;
    Fed f = feed(c, "error ENOENT " + std::string(GuestControl::k_max_line - 13, 'p') + "\n");
    EXPECT_TRUE(f.error.empty()) << f.error;
    ASSERT_EQ(f.events.size(), 1u);
    EXPECT_EQ(f.events[0].message.size(), GuestControl::k_max_line - 13);
}

}  // namespace
}  // namespace moat::devices
