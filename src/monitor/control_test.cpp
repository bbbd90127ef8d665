// The control protocol's request parser: what it accepts and every way it refuses.
#include "monitor/control.hpp"

#include <gtest/gtest.h>

namespace moat::monitor {
namespace {

TEST(ControlRequest, ParsesEachCommand)
{
    auto ls = parse_request(R"({"cmd":"ls"})");
    ASSERT_TRUE(ls.has_value());
    EXPECT_EQ(ls->cmd, Command::Ls);
    EXPECT_EQ(ls->vm, "");
    auto down = parse_request(R"(  { "cmd" : "down" }  )");
    ASSERT_TRUE(down.has_value());
    EXPECT_EQ(down->cmd, Command::Down);
    auto stop = parse_request(R"({"vm":"web","cmd":"stop"})");
    ASSERT_TRUE(stop.has_value());
    EXPECT_EQ(stop->cmd, Command::Stop);
    EXPECT_EQ(stop->vm, "web");
    auto console = parse_request(R"({"cmd":"console","vm":"an\u0061lyst"})");
    ASSERT_TRUE(console.has_value());
    EXPECT_EQ(console->cmd, Command::Console);
    EXPECT_EQ(console->vm, "analyst");
}

TEST(ControlRequest, RefusesWhatIsNotARequest)
{
    const char* bad[] = {
        "",                                   // empty
        "ls",                                 // not JSON
        "[]",                                 // not an object
        "{}",                                 // no cmd
        R"({"cmd":"reboot"})",                // unknown command
        R"({"cmd":"ls","vm":"web"})",         // ls takes no vm
        R"({"cmd":"stop"})",                  // stop needs a vm
        R"({"cmd":"stop","vm":""})",          // empty vm
        R"({"cmd":"ls","cmd":"ls"})",         // repeated key
        R"({"cmd":"ls","extra":"x"})",        // unknown key
        R"({"cmd":1})",                       // not a string
        R"({"cmd":"ls"} trailing)",           // bytes after the object
        R"({"cmd":"ls",})",                   // trailing comma
        R"({"cmd":"ls")",                     // unterminated object
        R"({"cmd":"l)",                       // unterminated string
        "{\"cmd\":\"l\ts\"}",                 // raw control byte in a string
        R"({"cmd":"\x"})",                    // unknown escape
        R"({"cmd":"\u00e9"})",                // \u beyond ASCII
        R"({"cmd":"\u12"})",                  // short \u
        R"({"cmd":"\u00zz"})",                // bad hex
        R"({"cmd":"ls"}})",                   // extra brace
    };
    for (const char* b : bad) EXPECT_FALSE(parse_request(b).has_value()) << b;
    EXPECT_FALSE(parse_request(std::string(k_max_request + 1, ' ')).has_value());
}

TEST(ControlRequest, JsonStringEscapes)
{
    EXPECT_EQ(json_string("web"), "\"web\"");
    EXPECT_EQ(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
}

}  // namespace
}  // namespace moat::monitor
