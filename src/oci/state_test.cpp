// The state file round trip, the runtime-spec state, ids, and telling a live process.
#include "oci/state.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace moat::oci {
namespace {

State sample()
{
    State s;
    s.id = "c1";
    s.bundle = "/run/b";
    s.pid = 4242;
    s.pid_start = 777;
    s.created = "2026-12-07T01:02:03.456Z";
    s.status = Status::Created;
    s.annotations = {{"moat.label", "secret"}};
    return s;
}

TEST(OciState, Ids)
{
    const std::vector<std::string> good = {"c1", "a", "My_container-1.2+3", std::string(128, 'x')};
    for (const std::string& id : good) EXPECT_TRUE(check_id(id)) << id;
    const std::vector<std::string> bad = {"", ".", "..", "a/b", "../etc", "a b", "\xc3\xa9", std::string(129, 'x')};
    for (const std::string& id : bad) {
        auto r = check_id(id);
        ASSERT_FALSE(r) << id;
        EXPECT_NE(r.error().context.find("use 1 to 128 letters"), std::string::npos);
    }
}

TEST(OciState, RoundTrips)
{
    const State s = sample();
    auto back = parse_state(to_json(s));
    ASSERT_TRUE(back) << back.error().context;
    EXPECT_EQ(back->id, "c1");
    EXPECT_EQ(back->bundle, "/run/b");
    EXPECT_EQ(back->pid, 4242);
    EXPECT_EQ(back->pid_start, 777u);
    EXPECT_EQ(back->created, s.created);
    EXPECT_EQ(back->status, Status::Created);
    EXPECT_EQ(back->annotations, s.annotations);
}

TEST(OciState, RefusesWhatItDidNotWrite)
{
    EXPECT_FALSE(parse_state(""));
    EXPECT_FALSE(parse_state("[]"));
    EXPECT_FALSE(parse_state(R"({"id": "c1"})"));
    std::string j = to_json(sample());
    auto with = [&](const std::string& from, const std::string& to) {
        std::string t = j;
        t.replace(t.find(from), from.size(), to);
        return parse_state(t);
    };
    EXPECT_FALSE(with(R"("status":"created")", R"("status":"paused")"));
    EXPECT_FALSE(with(R"("id":"c1")", R"("id":"../x")"));
    EXPECT_FALSE(with(R"("pid":4242)", R"("pid":-1)"));
    EXPECT_FALSE(with(R"("pid":4242)", R"("pid":4294967296)"));
    EXPECT_FALSE(with(R"("pidStart":777)", R"("pidStart":"777")"));
}

TEST(OciState, RuntimeStateHasThePidOnlyWhileAlive)
{
    const auto created = nlohmann::json::parse(runtime_state(sample(), Status::Created));
    EXPECT_EQ(created["ociVersion"], k_oci_version);
    EXPECT_EQ(created["id"], "c1");
    EXPECT_EQ(created["status"], "created");
    EXPECT_EQ(created["pid"], 4242);
    EXPECT_EQ(created["bundle"], "/run/b");
    EXPECT_EQ(created["annotations"]["moat.label"], "secret");
    const auto stopped = nlohmann::json::parse(runtime_state(sample(), Status::Stopped));
    EXPECT_EQ(stopped["status"], "stopped");
    EXPECT_EQ(stopped["pid"], 0);
}

TEST(OciState, StartTimeFromStat)
{
    // 52 fields as the kernel writes them; the name holds spaces and a parenthesis.
    std::string stat = "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 1 0 987654 1000 200";
    EXPECT_EQ(start_from_stat(stat), 987654u);
    EXPECT_FALSE(start_from_stat("1234 no parenthesis"));
    EXPECT_FALSE(start_from_stat("1234 (x) S 1 2"));  // too short
    EXPECT_FALSE(start_from_stat("1234 (x) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 1 0 98x7 1"));
}

TEST(OciState, TellsALiveProcessFromAGoneOne)
{
    State s = sample();
    s.pid = static_cast<int>(::getpid());
    const auto start = process_start(::getpid());
    ASSERT_TRUE(start);
    s.pid_start = *start;
    EXPECT_EQ(current_status(s), Status::Created);
    s.pid_start = *start + 1;  // the pid now names another process
    EXPECT_EQ(current_status(s), Status::Stopped);
    s.pid = 0;
    EXPECT_EQ(current_status(s), Status::Stopped);
    s.status = Status::Creating;
    EXPECT_EQ(current_status(s), Status::Creating);
}

TEST(OciState, WritesAtomically)
{
    char dir[] = "/tmp/oci-state-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    const std::string path = std::string(dir) + "/state.json";
    ASSERT_TRUE(write_atomic(path, "one\n", 0600));
    ASSERT_TRUE(write_atomic(path, "two\n", 0600));
    std::ifstream f(path);
    std::string line;
    std::getline(f, line);
    EXPECT_EQ(line, "two");
    EXPECT_NE(::access((path + ".tmp").c_str(), F_OK), 0);
    auto r = write_atomic(std::string(dir) + "/missing/state.json", "x", 0600);
    ASSERT_FALSE(r);
    EXPECT_NE(describe(r.error()).find("missing/state.json.tmp"), std::string::npos);
    ::unlink(path.c_str());
    ::rmdir(dir);
}

}  // namespace
}  // namespace moat::oci
