// The audit log: the writer's record format and durability rules, the verifier against every
// kind of tampering, and the viewer's filter and rendering.
#include "monitor/audit.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "monitor/audit_verify.hpp"

using namespace moat;
using namespace moat::monitor;

namespace {

const std::string k_zeros(64, '0');

class TempDir {
public:
    TempDir()
    {
        std::string t = (std::filesystem::temp_directory_path() / "moat-audit-XXXXXX").string();
        if (::mkdtemp(t.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
        m_path = t;
    }
    ~TempDir()
    {
        std::error_code ec;
        std::filesystem::remove_all(m_path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name) const { return m_path + "/" + name; }
    const std::string& path() const { return m_path; }

private:
    std::string m_path;
};

std::string slurp(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void spit(const std::string& path, const std::string& text)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

std::vector<std::string> split_lines(const std::string& text)
{
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        const auto nl = text.find('\n', start);
        lines.push_back(text.substr(start, nl - start));
        start = nl + 1;
    }
    return lines;
}

std::string join_lines(const std::vector<std::string>& lines)
{
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    return s;
}

std::string hash_of(const std::string& line)
{
    const auto j = nlohmann::json::parse(line);
    return j.at("hash").get<std::string>();
}

// A correctly hashed line from a hand-written body (everything up to `,"hash":`).
std::string seal(const std::string& prev, const std::string& body)
{
    const AuditHash h = audit_chain_hash(prev, body).value();
    return body + ",\"hash\":\"" + std::string(h.data(), h.size()) + "\"}";
}

// Writes `n` records: vm.start for web, then alternating events, and returns the file's text.
std::string write_log(const std::string& path, int n)
{
    auto log = AuditLog::open(path);
    EXPECT_TRUE(log.has_value());
    for (int i = 1; i <= n; ++i) {
        const std::string_view vm = i % 2 ? "web" : "analyst";
        EXPECT_TRUE(log->append("vm.start", {{"vm", vm}, {"pid", std::int64_t{1000 + i}}}).has_value());
    }
    return slurp(path);
}

}  // namespace

TEST(AuditLog, WritesTheRecordFormat)
{
    TempDir dir;
    const std::string path = dir.file("audit.log");
    auto log = AuditLog::open(path);
    ASSERT_TRUE(log.has_value());
    EXPECT_EQ(log->last_seq(), 0u);
    EXPECT_EQ(log->last_hash(), k_zeros);
    ASSERT_TRUE(log->append("vm.start", {{"vm", "web"}, {"pid", std::int64_t{1234}}}).has_value());
    ASSERT_TRUE(log->append("system.up", {}).has_value());
    EXPECT_EQ(log->last_seq(), 2u);

    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    const auto lines = split_lines(slurp(path));
    ASSERT_EQ(lines.size(), 2u);
    const std::string& l1 = lines[0];
    ASSERT_EQ(l1.rfind("{\"seq\":1,\"time\":\"", 0), 0u) << l1;
    const std::string mid = "\",\"event\":\"vm.start\",\"vm\":\"web\",\"pid\":1234,\"prev\":\"" + k_zeros + "\",\"hash\":\"";
    EXPECT_NE(l1.find(mid), std::string::npos) << l1;
    // The hash is SHA-256 over prev, '\n' and the bytes before `,"hash":`.
    const std::size_t body_len = l1.size() - (9 + 64 + 2);
    const AuditHash h = audit_chain_hash(k_zeros, l1.substr(0, body_len)).value();
    EXPECT_EQ(l1.substr(body_len), ",\"hash\":\"" + std::string(h.data(), h.size()) + "\"}");
    EXPECT_EQ(hash_of(l1), std::string(h.data(), h.size()));

    const auto j2 = nlohmann::ordered_json::parse(lines[1]);
    std::vector<std::string> keys;
    for (const auto& [k, v] : j2.items()) keys.push_back(k);
    EXPECT_EQ(keys, (std::vector<std::string>{"seq", "time", "event", "prev", "hash"}));
    EXPECT_EQ(j2["seq"], 2);
    EXPECT_EQ(j2["prev"], hash_of(l1));
    EXPECT_EQ(j2["hash"], std::string(log->last_hash()));
}

TEST(AuditLog, TimeIsUtcWithMilliseconds)
{
    TempDir dir;
    const std::string path = dir.file("audit.log");
    const std::time_t before = std::time(nullptr);
    ASSERT_TRUE(AuditLog::open(path)->append("system.up", {}).has_value());
    const std::time_t after = std::time(nullptr);
    const auto j = nlohmann::json::parse(split_lines(slurp(path)).at(0));
    const std::string t = j["time"];
    ASSERT_EQ(t.size(), 24u) << t;
    EXPECT_EQ(t[10], 'T');
    EXPECT_EQ(t[19], '.');
    EXPECT_EQ(t[23], 'Z');
    tm parsed{};
    ASSERT_NE(::strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &parsed), nullptr);
    const std::time_t when = ::timegm(&parsed);
    EXPECT_GE(when, before);
    EXPECT_LE(when, after);
}

TEST(AuditLog, ManyRecordsVerify)
{
    TempDir dir;
    const std::string text = write_log(dir.file("audit.log"), 50);
    const VerifyReport r = verify_audit(text);
    EXPECT_TRUE(r.ok) << r.why;
    EXPECT_EQ(r.records, 50u);
    EXPECT_EQ(format_report(r), "ok: 50 records");
}

TEST(AuditLog, ReopenContinuesTheChain)
{
    TempDir dir;
    const std::string path = dir.file("audit.log");
    write_log(path, 3);
    const std::string last = split_lines(slurp(path)).back();
    {
        auto log = AuditLog::open(path);
        ASSERT_TRUE(log.has_value());
        EXPECT_EQ(log->last_seq(), 3u);
        EXPECT_EQ(log->last_hash(), hash_of(last));
        ASSERT_TRUE(log->append("vm.exit", {{"vm", "web"}, {"reason", "poweroff"}}).has_value());
    }
    auto log = AuditLog::open(path);
    ASSERT_TRUE(log.has_value());
    EXPECT_EQ(log->last_seq(), 4u);
    ASSERT_TRUE(log->append("system.down", {}).has_value());
    const VerifyReport r = verify_audit(slurp(path));
    EXPECT_TRUE(r.ok) << r.why;
    EXPECT_EQ(r.records, 5u);
}

TEST(AuditLog, OpenAtADirectoryFd)
{
    TempDir dir;
    const int dfd = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(dfd, 0);
    base::UniqueFd d(dfd);
    auto log = AuditLog::open_at(d.get(), "audit.log");
    ASSERT_TRUE(log.has_value());
    ASSERT_TRUE(log->append("system.up", {}).has_value());
    EXPECT_TRUE(verify_audit(slurp(dir.file("audit.log"))).ok);
    EXPECT_FALSE(AuditLog::open_at(d.get(), "").has_value());
    EXPECT_FALSE(AuditLog::open_at(d.get(), "..").has_value());
    EXPECT_FALSE(AuditLog::open(dir.file("missing-dir/audit.log")).has_value());
}

TEST(AuditLog, OneWriterPerFile)
{
    TempDir dir;
    const std::string path = dir.file("audit.log");
    auto first = AuditLog::open(path);
    ASSERT_TRUE(first.has_value());
    auto second = AuditLog::open(path);
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(second.error().code, Errc::Io);
    EXPECT_EQ(second.error().sys_errno, EWOULDBLOCK);
}

TEST(AuditLog, RefusesASymlink)
{
    TempDir dir;
    write_log(dir.file("real.log"), 1);
    ASSERT_EQ(::symlink(dir.file("real.log").c_str(), dir.file("audit.log").c_str()), 0);
    auto log = AuditLog::open(dir.file("audit.log"));
    ASSERT_FALSE(log.has_value());
    EXPECT_EQ(log.error().sys_errno, ELOOP);
}

// The writer never continues a chain whose end it cannot vouch for; the file is left as it was.
TEST(AuditLog, RefusesADamagedTail)
{
    TempDir dir;
    const std::string good = write_log(dir.file("good.log"), 3);
    const auto lines = split_lines(good);
    std::string edited = lines[2];
    edited.replace(edited.find("\"web\""), 5, "\"wab\"");
    const std::vector<std::pair<const char*, std::string>> cases = {
        {"truncated mid-line", good.substr(0, good.size() - 20)},
        {"missing final newline", good.substr(0, good.size() - 1)},
        {"edited last record", join_lines({lines[0], lines[1], edited})},
        {"garbage line", good + "hello\n"},
        {"empty line", good + "\n"},
        {"only a newline", "\n"},
        {"record without its hash", good + lines[0].substr(0, lines[0].size() - 75) + "}\n"},
        {"overlong line", good + std::string(k_audit_max_record + 10, 'x') + "\n"},
    };
    for (const auto& [name, text] : cases) {
        const std::string path = dir.file("bad.log");
        spit(path, text);
        auto log = AuditLog::open(path);
        ASSERT_FALSE(log.has_value()) << name;
        EXPECT_EQ(log.error().code, Errc::InvalidInput) << name;
        EXPECT_EQ(slurp(path), text) << name;
    }
}

TEST(AuditLog, RefusesARecordThatIsTooLong)
{
    TempDir dir;
    const std::string path = dir.file("audit.log");
    auto log = AuditLog::open(path);
    ASSERT_TRUE(log.has_value());
    const std::string big(k_audit_max_record, 'a');
    auto r = log->append("x", {{"data", std::string_view(big)}});
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::OutOfRange);
    EXPECT_EQ(log->last_seq(), 0u);
    EXPECT_EQ(slurp(path), "");
    ASSERT_TRUE(log->append("x", {{"data", "small"}}).has_value());
    EXPECT_EQ(log->last_seq(), 1u);
}

// In a child: appends with RLIMIT_FSIZE just past the file's end, so the write comes out
// short, then tries again without the limit. 0 if both appends failed and seq stayed put.
static int write_past_the_limit(const std::string& path)
{
    std::signal(SIGXFSZ, SIG_IGN);
    auto log = AuditLog::open(path);
    if (!log) return 10;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return 11;
    const rlimit lim{static_cast<rlim_t>(st.st_size) + 20, RLIM_INFINITY};
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) return 12;
    if (log->append("vm.start", {{"vm", "web"}})) return 13;  // short write
    const rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
    if (::setrlimit(RLIMIT_FSIZE, &unlimited) != 0) return 14;
    auto again = log->append("vm.start", {{"vm", "web"}});
    if (again || again.error().sys_errno != EIO) return 15;
    return log->last_seq() == 2 ? 0 : 16;
}

// A failed write poisons the log: no record may follow a possibly partial one.
TEST(AuditLogDeathTest, AWriteErrorPoisonsTheLog)
{
    TempDir dir;
    const std::string path = dir.file("audit.log");
    write_log(path, 2);
    EXPECT_EXIT(std::_Exit(write_past_the_limit(path)), ::testing::ExitedWithCode(0), "");
    // What was left is refused by the next writer and by the verifier.
    EXPECT_FALSE(AuditLog::open(path).has_value());
    const VerifyReport r = verify_audit(slurp(path));
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.bad_seq, 3u);
}

TEST(AuditLogDeathTest, KeysComeFromOurCode)
{
    TempDir dir;
    auto log = AuditLog::open(dir.file("audit.log"));
    ASSERT_TRUE(log.has_value());
    EXPECT_DEATH((void)log->append("vm.start", {{"Vm", "web"}}), "check");
    EXPECT_DEATH((void)log->append("vm.start", {{"vm id", "web"}}), "check");
    EXPECT_DEATH((void)log->append("vm.start", {{"", "web"}}), "check");
    EXPECT_DEATH((void)log->append("vm.start", {{"hash", "web"}}), "check");
    EXPECT_DEATH((void)log->append("vm.start", {{"vm", "a"}, {"vm", "b"}}), "check");
    EXPECT_DEATH((void)log->append("vm \"start\"", {}), "check");
    EXPECT_DEATH((void)log->append("", {}), "check");
}

TEST(AuditEscape, ControlCharactersQuotesAndUtf8)
{
    auto esc = [](std::string_view s) {
        std::string out;
        audit_escape(s, out);
        return out;
    };
    EXPECT_EQ(esc("plain"), "plain");
    EXPECT_EQ(esc("a\"b\\c"), "a\\\"b\\\\c");
    EXPECT_EQ(esc("l1\nl2\r\t"), "l1\\u000al2\\u000d\\u0009");
    EXPECT_EQ(esc(std::string_view("\0\x1f\x7f", 3)), "\\u0000\\u001f\\u007f");
    EXPECT_EQ(esc("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    EXPECT_EQ(esc("\xc2\x85\xc2\x9b"), "\\u0085\\u009b");          // C1 controls
    EXPECT_EQ(esc("\xc2\xa0"), "\xc2\xa0");                        // first non-control
    EXPECT_EQ(esc("\xff"), "\\ufffd");                             // never valid
    EXPECT_EQ(esc("\xc0\x80"), "\\ufffd\\ufffd");                  // overlong NUL
    EXPECT_EQ(esc("\xe0\x80\x80"), "\\ufffd\\ufffd\\ufffd");       // overlong
    EXPECT_EQ(esc("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd");       // surrogate
    EXPECT_EQ(esc("\xf4\x90\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd");  // above U+10FFFF
    EXPECT_EQ(esc("x\xe2\x82"), "x\\ufffd\\ufffd");                // cut short at the end
    EXPECT_EQ(esc("\xe2\x82x"), "\\ufffd\\ufffdx");                // cut short by ASCII
}

TEST(AuditEscape, ValuesRoundTripThroughAJsonParser)
{
    TempDir dir;
    const std::string path = dir.file("audit.log");
    const std::string nasty = std::string("quote\" back\\slash\nnew line\ttab\x01\x1b[31m\x7f", 34) +
                              "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xc2\x85";
    const std::string invalid = "a\xff" "b\xc0\x80" "c";
    {
        auto log = AuditLog::open(path);
        ASSERT_TRUE(log.has_value());
        ASSERT_TRUE(log->append("control.stop", {{"caller", std::string_view(nasty)},
                                                  {"bytes", std::string_view(invalid)},
                                                  {"uid", std::int64_t{0}},
                                                  {"min", INT64_MIN},
                                                  {"max", INT64_MAX},
                                                  {"neg", std::int64_t{-42}}})
                        .has_value());
    }
    const std::string text = slurp(path);
    const auto lines = split_lines(text);
    ASSERT_EQ(lines.size(), 1u);  // the newline inside the value did not split the record
    for (char c : lines[0]) EXPECT_GE(static_cast<unsigned char>(c), 0x20u);
    const auto j = nlohmann::json::parse(lines[0]);
    EXPECT_EQ(j["caller"], nasty);
    EXPECT_EQ(j["bytes"], "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c");
    EXPECT_EQ(j["uid"], 0);
    EXPECT_EQ(j["min"].get<std::int64_t>(), INT64_MIN);
    EXPECT_EQ(j["max"].get<std::int64_t>(), INT64_MAX);
    EXPECT_EQ(j["neg"], -42);
    EXPECT_TRUE(verify_audit(text).ok) << verify_audit(text).why;
}

// Every kind of tampering is found, and the first bad record is named by position.
class AuditTamper : public ::testing::Test {
protected:
    void SetUp() override
    {
        m_text = write_log(m_dir.file("audit.log"), 6);
        m_lines = split_lines(m_text);
        ASSERT_EQ(m_lines.size(), 6u);
        ASSERT_TRUE(verify_audit(m_text).ok);
    }
    static void expect_bad(const std::string& text, std::uint64_t seq, std::uint64_t line, const std::string& why,
                           const std::optional<AuditAnchor>& anchor = std::nullopt)
    {
        const VerifyReport r = verify_audit(text, anchor);
        EXPECT_FALSE(r.ok);
        EXPECT_EQ(r.bad_seq, seq);
        EXPECT_EQ(r.bad_line, line);
        EXPECT_EQ(r.records, seq - 1);
        EXPECT_NE(r.why.find(why), std::string::npos) << r.why;
    }
    TempDir m_dir;
    std::string m_text;
    std::vector<std::string> m_lines;
};

TEST_F(AuditTamper, EditedValue)
{
    auto l = m_lines;
    l[2].replace(l[2].find("\"web\""), 5, "\"wab\"");
    expect_bad(join_lines(l), 3, 3, "hash mismatch: record was changed");
    auto m = m_lines;
    m[4].replace(m[4].find("\"pid\":1005"), 10, "\"pid\":1006");
    expect_bad(join_lines(m), 5, 5, "hash mismatch");
}

TEST_F(AuditTamper, EditedHash)
{
    auto l = m_lines;
    char& c = l[3][l[3].size() - 3];
    c = c == 'a' ? 'b' : 'a';
    expect_bad(join_lines(l), 4, 4, "hash mismatch");
}

TEST_F(AuditTamper, RehashedEditBreaksTheNextLink)
{
    // Editing a record and fixing its own hash still breaks the chain at the next record.
    auto l = m_lines;
    std::string body = l[1].substr(0, l[1].size() - 75);
    body.replace(body.find("\"pid\":1002"), 10, "\"pid\":6666");
    l[1] = seal(hash_of(l[0]), body);
    expect_bad(join_lines(l), 3, 3, "prev does not match");
}

TEST_F(AuditTamper, DeletedFirstMiddleLast)
{
    auto first = m_lines;
    first.erase(first.begin());
    expect_bad(join_lines(first), 1, 1, "found seq 2");
    auto middle = m_lines;
    middle.erase(middle.begin() + 2);
    expect_bad(join_lines(middle), 3, 3, "found seq 4");
    // Cutting the end leaves a valid, shorter chain: only an anchor kept elsewhere shows it.
    auto last = m_lines;
    last.pop_back();
    const VerifyReport r = verify_audit(join_lines(last));
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.records, 5u);
    expect_bad(join_lines(last), 6, 6, "removed from the end", AuditAnchor{6, hash_of(m_lines[5])});
    expect_bad("", 1, 1, "removed from the end", AuditAnchor{6, hash_of(m_lines[5])});
}

TEST_F(AuditTamper, Anchor)
{
    EXPECT_TRUE(verify_audit(m_text, AuditAnchor{6, hash_of(m_lines[5])}).ok);
    EXPECT_TRUE(verify_audit(m_text, AuditAnchor{2, hash_of(m_lines[1])}).ok);  // later records may follow
    expect_bad(m_text, 2, 2, "differs from the anchor", AuditAnchor{2, hash_of(m_lines[2])});

    const auto a = parse_audit_anchor("6:" + hash_of(m_lines[5]));
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->seq, 6u);
    EXPECT_EQ(a->hash, hash_of(m_lines[5]));
    EXPECT_FALSE(parse_audit_anchor("").has_value());
    EXPECT_FALSE(parse_audit_anchor("6").has_value());
    EXPECT_FALSE(parse_audit_anchor("0:" + k_zeros).has_value());
    EXPECT_FALSE(parse_audit_anchor("x:" + k_zeros).has_value());
    EXPECT_FALSE(parse_audit_anchor("6:" + k_zeros.substr(1)).has_value());
    EXPECT_FALSE(parse_audit_anchor("6:" + std::string(64, 'A')).has_value());
}

TEST_F(AuditTamper, InsertedCopy)
{
    auto l = m_lines;
    l.insert(l.begin() + 2, l[1]);
    expect_bad(join_lines(l), 3, 3, "found seq 2");
}

TEST_F(AuditTamper, SwappedLines)
{
    auto l = m_lines;
    std::swap(l[2], l[3]);
    expect_bad(join_lines(l), 3, 3, "found seq 4");
}

TEST_F(AuditTamper, Truncated)
{
    expect_bad(m_text.substr(0, m_text.size() - 30), 6, 6, "truncated record");
    expect_bad(m_text.substr(0, m_text.size() - 1), 6, 6, "truncated record");
    // Cut mid-line, then a newline: the line is no longer a JSON object.
    auto l = m_lines;
    l[3].resize(l[3].size() / 2);
    expect_bad(join_lines(l), 4, 4, "not a JSON object");
}

TEST_F(AuditTamper, AppendedGarbage)
{
    expect_bad(m_text + "garbage\n", 7, 7, "not a JSON object");
    expect_bad(m_text + "\n", 7, 7, "empty line");
    expect_bad(m_text + "{}\n", 7, 7, "missing key \"seq\"");
    expect_bad(m_text + std::string("\xff\xfe\n"), 7, 7, "not a JSON object");
}

TEST_F(AuditTamper, MalformedButCorrectlyHashedRecords)
{
    // Records an attacker re-hashed: the chain holds, the shape does not.
    const std::string prev = hash_of(m_lines[5]);
    const std::string head = "{\"seq\":7,\"time\":\"2026-11-27T01:02:03.456Z\",\"event\":\"x\"";
    const std::string tail = ",\"prev\":\"" + prev + "\"";
    auto bad_record = [&](const std::string& body, const std::string& why) {
        expect_bad(m_text + seal(prev, body) + "\n", 7, 7, why);
    };
    bad_record("{\"seq\":7,\"event\":\"x\"" + tail, "missing key \"time\"");
    bad_record("{\"time\":\"2026-11-27T01:02:03.456Z\",\"seq\":7,\"event\":\"x\"" + tail, "keys out of place");
    bad_record(head + tail + ",\"extra\":1", "keys out of place");
    bad_record(head + ",\"vm\":\"a\",\"vm\":\"b\"" + tail, "duplicate key");
    bad_record(head + ",\"n\":[1,2]" + tail, "object or an array");
    bad_record(head + ",\"n\":{\"a\":{}}" + tail, "object or an array");
    bad_record(head + ",\"n\":1.5" + tail, "not a string or an integer");
    bad_record(head + ",\"n\":true" + tail, "not a string or an integer");
    bad_record(head + ",\"n\":null" + tail, "not a string or an integer");
    bad_record("{\"seq\":-7,\"time\":\"2026-11-27T01:02:03.456Z\",\"event\":\"x\"" + tail, "seq is not");
    bad_record("{\"seq\":\"7\",\"time\":\"2026-11-27T01:02:03.456Z\",\"event\":\"x\"" + tail, "seq is not");
    bad_record("{\"seq\":7,\"time\":\"yesterday\",\"event\":\"x\"" + tail, "time is not");
    bad_record("{\"seq\":7,\"time\":\"2026-11-27T01:02:03.456Z\",\"event\":\"\"" + tail, "event is not");
    bad_record(head + ",\"prev\":\"" + prev.substr(1) + "\"", "prev is not");
    // Whitespace before the hash: valid JSON, but the hashed bytes would be ambiguous.
    const std::string spaced = head + tail + ", \"hash\": \"" + std::string(64, 'a') + "\"}";
    expect_bad(m_text + spaced + "\n", 7, 7, "canonical form");
    // Upper-case hash digits.
    std::string upper = seal(prev, head + tail);
    for (std::size_t i = upper.size() - 66; i < upper.size() - 2; ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
    expect_bad(m_text + upper + "\n", 7, 7, "hash is not");
    // A well-formed record with seq 7 and a wrong prev.
    expect_bad(m_text + seal(k_zeros, head + ",\"prev\":\"" + k_zeros + "\"") + "\n", 7, 7, "prev does not match");
    // And a correct one is accepted.
    EXPECT_TRUE(verify_audit(m_text + seal(prev, head + tail) + "\n").ok);
}

TEST(AuditVerify, EmptyLogAndReportText)
{
    const VerifyReport r = verify_audit("");
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.records, 0u);
    EXPECT_EQ(format_report(r), "ok: 0 records");
    EXPECT_EQ(format_report(VerifyReport{true, 1, 0, 0, ""}), "ok: 1 record");
    EXPECT_EQ(format_report(VerifyReport{false, 16, 17, 17, "hash mismatch: record was changed"}),
              "seq 17 (line 17): hash mismatch: record was changed");
    const VerifyReport nl = verify_audit("\n");
    EXPECT_FALSE(nl.ok);
    EXPECT_EQ(nl.bad_seq, 1u);
    EXPECT_EQ(nl.bad_line, 1u);
}

TEST(AuditShow, FilterByVmAndEvent)
{
    TempDir dir;
    const std::string path = dir.file("audit.log");
    {
        auto log = AuditLog::open(path);
        ASSERT_TRUE(log.has_value());
        ASSERT_TRUE(log->append("system.up", {{"uid", std::int64_t{1000}}}).has_value());
        ASSERT_TRUE(log->append("vm.start", {{"vm", "web"}, {"pid", std::int64_t{10}}}).has_value());
        ASSERT_TRUE(log->append("vm.start", {{"vm", "analyst"}, {"pid", std::int64_t{11}}}).has_value());
        ASSERT_TRUE(log->append("decision", {{"vm", "web"}, {"rule", "read_down"}}).has_value());
        ASSERT_TRUE(log->append("vmm.note", {{"vm", "web"}}).has_value());
        ASSERT_TRUE(log->append("vm.exit", {{"vm", "web"}, {"reason", "killed"}}).has_value());
        ASSERT_TRUE(log->append("vm", {{"vm", "webx"}}).has_value());
    }
    const std::string text = slurp(path) + "not json\n{\"vm\":\"web\",\"event\":[1]}\n";
    auto seqs = [](const std::vector<std::string_view>& lines) {
        std::vector<int> out;
        for (auto l : lines) {
            const auto j = nlohmann::json::parse(l);
            out.push_back(j.contains("seq") ? j["seq"].get<int>() : 0);
        }
        return out;
    };
    EXPECT_EQ(seqs(filter_audit(text, std::nullopt, std::nullopt)), (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 0}));
    EXPECT_EQ(seqs(filter_audit(text, "web", std::nullopt)), (std::vector<int>{2, 4, 5, 6, 0}));
    EXPECT_EQ(seqs(filter_audit(text, std::nullopt, "vm")), (std::vector<int>{2, 3, 6, 7}));
    EXPECT_EQ(seqs(filter_audit(text, "web", "vm")), (std::vector<int>{2, 6}));
    EXPECT_EQ(seqs(filter_audit(text, "web", "vm.exit")), (std::vector<int>{6}));
    EXPECT_EQ(seqs(filter_audit(text, std::nullopt, "vm.st")), (std::vector<int>{}));
    EXPECT_EQ(seqs(filter_audit(text, "nobody", std::nullopt)), (std::vector<int>{}));
    EXPECT_TRUE(filter_audit("", std::nullopt, std::nullopt).empty());
    // Lines are views into the text, without their newline.
    const auto all = filter_audit(text, std::nullopt, std::nullopt);
    EXPECT_EQ(all[0], split_lines(text)[0]);
}

TEST(AuditShow, RenderRecord)
{
    const std::string prev = k_zeros;
    const std::string line = seal(prev,
                                  "{\"seq\":12,\"time\":\"2026-11-27T01:02:03.456Z\",\"event\":\"vm.start\","
                                  "\"vm\":\"web\",\"pid\":1234,\"prev\":\"" + prev + "\"");
    EXPECT_EQ(render_record(line), "#12 2026-11-27T01:02:03.456Z vm.start vm=web pid=1234");
    // Values that are not plain words are quoted, and nothing reaches the terminal raw.
    const std::string odd = "{\"seq\":3,\"time\":\"t\",\"event\":\"control.stop\",\"caller\":\"a b\","
                            "\"esc\":\"\\u001b[2J\\u0085\",\"uni\":\"caf\xc3\xa9\",\"empty\":\"\",\"n\":-5}";
    EXPECT_EQ(render_record(odd),
              "#3 t control.stop caller=\"a b\" esc=\"\\u001b[2J\\u0085\" uni=\"caf\\u00e9\" empty=\"\" n=-5");
    EXPECT_EQ(render_record("{\"event\":\"x\"}"), "#? ? x");
    EXPECT_EQ(render_record("{\"seq\":1,\"time\":\"t\",\"event\":\"x\",\"k y\":\"v\"}"), "#1 t x \"k y\"=v");
    EXPECT_EQ(render_record("not json"), "(not a record)");
    EXPECT_EQ(render_record("[1,2]"), "(not a record)");
    EXPECT_EQ(render_record(""), "(not a record)");
}
