// ConsoleOutput: whole lines behind a prefix, and the budget that bounds what a guest printing
// forever costs the terminal and the log file.
#include "vmm/console.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace moat::vmm {
namespace {

// Everything written to a pipe so far (the test writes far less than a pipe holds).
std::string drain(int fd)
{
    std::string s;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        s.append(buf, static_cast<std::size_t>(n));
    }
    return s;
}

struct Pipe {
    int r = -1, w = -1;
    Pipe()
    {
        int fds[2];
        EXPECT_EQ(::pipe2(fds, O_NONBLOCK), 0);
        r = fds[0];
        w = fds[1];
    }
    ~Pipe()
    {
        ::close(r);
        ::close(w);
    }
};

void put(ConsoleOutput& c, const std::string& s)
{
    for (char ch : s) c.put(static_cast<std::uint8_t>(ch));
}

TEST(ConsoleOutput, LinesGoBehindThePrefixAndWholeToTheLog)
{
    Pipe out, log;
    ConsoleOutput c(out.w, log.w, "web | ");
    put(c, "one\r\ntwo\n");
    EXPECT_EQ(drain(out.r), "web | one\nweb | two\n");
    EXPECT_EQ(drain(log.r), "one\r\ntwo\n");
    EXPECT_EQ(c.take_dropped(), 0u);
}

TEST(ConsoleOutput, PastTheBudgetBytesAreDroppedCountedAndSaidOnce)
{
    Pipe out, log;
    int drops = 0;
    ConsoleOutput c(out.w, log.w, "web | ", 10, [&drops] { ++drops; });
    put(c, "0123456\nabcdefgh\nmore\n");  // 10 bytes pass: "0123456\nab"
    const std::string notice = "[moat: console output past its budget; the rest is dropped and counted]\n";
    EXPECT_EQ(drain(out.r), "web | 0123456\nweb | ab\nweb | " + notice);
    EXPECT_EQ(drain(log.r), "0123456\nab\n" + notice);
    EXPECT_EQ(drops, 12);
    EXPECT_EQ(c.take_dropped(), 12u);
    EXPECT_EQ(c.take_dropped(), 0u);  // taken
    put(c, "xyz");
    EXPECT_EQ(drain(out.r), "");  // no second notice
    EXPECT_EQ(drain(log.r), "");
    EXPECT_EQ(c.take_dropped(), 3u);
    c.flush();
    EXPECT_EQ(drain(out.r), "");
}

TEST(ConsoleOutput, NoBudgetNoBound)
{
    Pipe out, log;
    ConsoleOutput c(out.w, log.w, "");
    const std::string text(5000, 'x');
    put(c, text);
    EXPECT_EQ(drain(out.r), text);
    c.flush();
    EXPECT_EQ(drain(log.r).size(), text.size());
    EXPECT_EQ(c.take_dropped(), 0u);
}

}  // namespace
}  // namespace moat::vmm
