// state, kill, delete and ps on a store whose container process is a real child of the test.
#include "oci/commands.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

namespace moat::oci {
namespace {

class OciCommands : public ::testing::Test {
protected:
    void SetUp() override
    {
        char dir[] = "/tmp/oci-store-XXXXXX";
        ASSERT_NE(::mkdtemp(dir), nullptr);
        store.root = dir;
    }
    void TearDown() override
    {
        if (child > 0) {
            ::kill(child, SIGKILL);
            ::waitpid(child, nullptr, 0);
        }
        std::filesystem::remove_all(store.root);
    }
    // A container "c1" whose process is a child that sleeps until killed.
    State make_container(Status status = Status::Created)
    {
        child = ::fork();
        if (child == 0) {
            ::pause();
            ::_exit(0);
        }
        State s;
        s.id = "c1";
        s.bundle = "/b";
        s.pid = child;
        s.pid_start = process_start(child).value_or(0);
        s.created = "2026-12-07T00:00:00Z";
        s.status = status;
        EXPECT_EQ(::mkdir(store.dir("c1").c_str(), 0700), 0);
        EXPECT_TRUE(store.save(s));
        return s;
    }
    // Reaps the child once it died, so that its pid stops naming a process.
    void reap()
    {
        ::waitpid(child, nullptr, 0);
        child = 0;
    }

    Store store;
    pid_t child = 0;
};

TEST_F(OciCommands, StateOfALiveAndADeadContainer)
{
    const State s = make_container();
    auto out = state_command(store, "c1");
    ASSERT_TRUE(out) << describe(out.error());
    auto j = nlohmann::json::parse(*out);
    EXPECT_EQ(j["status"], "created");
    EXPECT_EQ(j["pid"], s.pid);
    ::kill(child, SIGKILL);
    reap();
    j = nlohmann::json::parse(*state_command(store, "c1"));
    EXPECT_EQ(j["status"], "stopped");
    EXPECT_EQ(j["pid"], 0);
}

TEST_F(OciCommands, UnknownAndBadIds)
{
    auto r = state_command(store, "nosuch");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::NotFound);
    EXPECT_EQ(describe(r.error()), "container 'nosuch' does not exist");
    EXPECT_FALSE(state_command(store, "../etc"));
    EXPECT_FALSE(kill_command(store, "nosuch", SIGTERM));
    EXPECT_FALSE(delete_command(store, "nosuch", false));
    EXPECT_TRUE(delete_command(store, "nosuch", true)) << "delete --force of an unknown container succeeds";
    EXPECT_FALSE(delete_command(store, "../etc", true)) << "a bad id is an error even with --force";
}

TEST_F(OciCommands, KillSignalsTheProcessAndRefusesAStoppedOne)
{
    make_container(Status::Running);
    ASSERT_TRUE(kill_command(store, "c1", SIGTERM));
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    child = 0;
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    auto again = kill_command(store, "c1", SIGTERM);
    ASSERT_FALSE(again);
    EXPECT_EQ(describe(again.error()), "container 'c1' is stopped, not running");
}

TEST_F(OciCommands, DeleteRefusesALiveContainerUnlessForced)
{
    make_container();
    auto r = delete_command(store, "c1", false);
    ASSERT_FALSE(r);
    EXPECT_EQ(describe(r.error()), "container 'c1' is created: stop it first, or delete --force");
    EXPECT_TRUE(std::filesystem::exists(store.state_file("c1")));
    // --force kills it; the test reaps it meanwhile, as conmon or the shim would.
    std::thread reaper([this] { ::waitpid(child, nullptr, 0); });
    EXPECT_TRUE(delete_command(store, "c1", true));
    reaper.join();
    child = 0;
    EXPECT_FALSE(std::filesystem::exists(store.dir("c1")));
    EXPECT_TRUE(delete_command(store, "c1", true)) << "a second delete --force (containerd's) is no error";
}

TEST_F(OciCommands, DeleteOfAStoppedContainerRemovesItsState)
{
    make_container();
    ::kill(child, SIGKILL);
    reap();
    EXPECT_TRUE(delete_command(store, "c1", false));
    EXPECT_FALSE(std::filesystem::exists(store.dir("c1")));
}

TEST_F(OciCommands, PsListsTheVmProcessWhileItLives)
{
    const State s = make_container(Status::Running);
    EXPECT_EQ(*ps_command(store, "c1", true), "[" + std::to_string(s.pid) + "]");
    EXPECT_EQ(*ps_command(store, "c1", false), "PID\n" + std::to_string(s.pid) + "\n");
    ::kill(child, SIGKILL);
    reap();
    EXPECT_EQ(*ps_command(store, "c1", true), "[]");
}

TEST_F(OciCommands, CorruptStateIsAnErrorNamingTheFile)
{
    ASSERT_EQ(::mkdir(store.dir("c1").c_str(), 0700), 0);
    ASSERT_TRUE(write_atomic(store.state_file("c1"), "{\"id\": 3}", 0600));
    auto r = state_command(store, "c1");
    ASSERT_FALSE(r);
    EXPECT_NE(describe(r.error()).find(store.state_file("c1")), std::string::npos);
    State other;
    other.id = "c2";
    other.pid_start = 0;
    ASSERT_TRUE(write_atomic(store.state_file("c1"), to_json(other), 0600));
    r = state_command(store, "c1");
    ASSERT_FALSE(r);
    EXPECT_NE(describe(r.error()).find("names another container"), std::string::npos);
}

TEST(OciFeatures, NamesTheVersions)
{
    const auto j = nlohmann::json::parse(features_document());
    EXPECT_EQ(j["ociVersionMin"], "1.0.0");
    EXPECT_EQ(j["ociVersionMax"], k_oci_version);
}

}  // namespace
}  // namespace moat::oci
