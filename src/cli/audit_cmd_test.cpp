// `moat audit verify|show`: exit statuses and what is printed.
#include "cli/audit_cmd.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "monitor/audit.hpp"

using moat::monitor::AuditLog;

namespace {

class AuditCmd : public ::testing::Test {
protected:
    void SetUp() override
    {
        std::string t = (std::filesystem::temp_directory_path() / "moat-audit-cli-XXXXXX").string();
        ASSERT_NE(::mkdtemp(t.data()), nullptr);
        m_dir = t;
        m_log = m_dir + "/audit.log";
        auto log = AuditLog::open(m_log);
        ASSERT_TRUE(log.has_value());
        ASSERT_TRUE(log->append("system.up", {}).has_value());
        ASSERT_TRUE(log->append("vm.start", {{"vm", "web"}, {"pid", std::int64_t{42}}}).has_value());
        ASSERT_TRUE(log->append("vm.exit", {{"vm", "web"}, {"reason", "power off"}}).has_value());
        m_anchor = "3:" + std::string(log->last_hash());
    }
    void TearDown() override
    {
        std::error_code ec;
        std::filesystem::remove_all(m_dir, ec);
    }
    std::string read() const
    {
        std::ifstream in(m_log, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    void write(const std::string& text) const { std::ofstream(m_log, std::ios::binary | std::ios::trunc) << text; }

    std::string m_dir;
    std::string m_log;
    std::string m_anchor;
};

}  // namespace

TEST_F(AuditCmd, VerifyOk)
{
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(moat::cli::audit_verify_main(m_log), 0);
    EXPECT_EQ(::testing::internal::GetCapturedStdout(), "ok: 3 records\n");
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(moat::cli::audit_verify_main(m_log, m_anchor), 0);
    EXPECT_EQ(::testing::internal::GetCapturedStdout(), "ok: 3 records\n");
}

TEST_F(AuditCmd, VerifyNamesTheFirstBadRecord)
{
    std::string text = read();
    text.replace(text.find("\"pid\":42"), 8, "\"pid\":43");  // not a "42" in a time or hash
    write(text);
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(moat::cli::audit_verify_main(m_log), 1);
    EXPECT_EQ(::testing::internal::GetCapturedStdout(), "audit: seq 2 (line 2): hash mismatch: record was changed\n");
}

TEST_F(AuditCmd, VerifyWithAnchorSeesACutEnd)
{
    std::string text = read();
    text.resize(text.rfind('\n', text.size() - 2) + 1);
    write(text);
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(moat::cli::audit_verify_main(m_log), 0);
    EXPECT_EQ(::testing::internal::GetCapturedStdout(), "ok: 2 records\n");
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(moat::cli::audit_verify_main(m_log, m_anchor), 1);
    EXPECT_NE(::testing::internal::GetCapturedStdout().find("audit: seq 3 (line 3): "), std::string::npos);
}

TEST_F(AuditCmd, FileErrorsAreStatusTwoAndNameThePath)
{
    const std::string missing = m_dir + "/missing.log";
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(moat::cli::audit_verify_main(missing), 2);
    EXPECT_NE(::testing::internal::GetCapturedStderr().find(missing), std::string::npos);
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(moat::cli::audit_show_main(m_dir, std::nullopt, std::nullopt, false), 2);
    EXPECT_NE(::testing::internal::GetCapturedStderr().find("not a regular file"), std::string::npos);
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(moat::cli::audit_verify_main(m_log, std::string("3:abc")), 2);
    EXPECT_NE(::testing::internal::GetCapturedStderr().find("anchor"), std::string::npos);
}

TEST_F(AuditCmd, Show)
{
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(moat::cli::audit_show_main(m_log, std::string("web"), std::string("vm"), false), 0);
    const std::string out = ::testing::internal::GetCapturedStdout();
    // "#2 <time> vm.start vm=web pid=42" then "#3 <time> vm.exit vm=web reason=\"power off\"".
    ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
    EXPECT_EQ(out.rfind("#2 ", 0), 0u) << out;
    EXPECT_NE(out.find(" vm.start vm=web pid=42\n#3 "), std::string::npos) << out;
    EXPECT_NE(out.find(" vm.exit vm=web reason=\"power off\"\n"), std::string::npos) << out;

    ::testing::internal::CaptureStdout();
    EXPECT_EQ(moat::cli::audit_show_main(m_log, std::nullopt, std::string("system"), true), 0);
    const std::string raw = ::testing::internal::GetCapturedStdout();
    EXPECT_EQ(raw, read().substr(0, read().find('\n') + 1));
}
