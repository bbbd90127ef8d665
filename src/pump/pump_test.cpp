// The pump: its schedule (the moving average, the random waits and their bounds, the rate cap)
// and the process's core end to end over socketpairs, the test playing both VM processes.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "protocol/vsock_link.hpp"
#include "pump/pump.hpp"
#include "pump/schedule.hpp"

using namespace moat;
using namespace moat::pump;
using namespace std::chrono_literals;
using base::UniqueFd;

namespace {

TEST(PumpSchedule, WaitsFollowTheHighSidesAverageRate)
{
    Schedule s(0, 42);
    // Before the high side has made the pump wait: the initial rate, short waits.
    EXPECT_LT(s.next_delay(0s), 1ms);
    for (int i = 0; i < 16; ++i) s.high_took(64 * 1024, 0s);
    EXPECT_EQ(s.average_rate(0s), Schedule::k_initial_rate) << "a high side that keeps up";
    // The high side takes 64 KiB per 62.5 ms of waiting for it: 1 MiB/s.
    for (int i = 0; i < 16; ++i) s.high_took(64 * 1024, 62500us);
    EXPECT_NEAR(s.average_rate(0s), 1024.0 * 1024, 1024.0 * 1024 * 0.01);
    const double mean_wanted = static_cast<double>(Schedule::k_chunk) / (1024.0 * 1024);  // 15.6 ms
    double sum = 0, most = 0;
    const int n = 20000;
    for (int i = 0; i < n; ++i) {
        const double d = std::chrono::duration<double>(s.next_delay(0s)).count();
        EXPECT_LE(d, 4 * mean_wanted + 1e-9);
        sum += d;
        most = std::max(most, d);
    }
    // The mean of an exponential cut at four means is 98% of its mean.
    EXPECT_NEAR(sum / n, 0.98 * mean_wanted, 0.03 * mean_wanted);
    EXPECT_GT(most, 2 * mean_wanted) << "the waits are random, not fixed";
}

TEST(PumpSchedule, AStalledReaderSlowsTheLowSideWithinItsBound)
{
    Schedule s(0, 7);
    for (int i = 0; i < 16; ++i) s.high_took(64 * 1024, 1ms);  // 64 KiB per ms: 62.5 MiB/s
    EXPECT_NEAR(s.average_rate(0s), 65536000.0, 1000.0);
    // Then the pump has waited a minute for it.
    EXPECT_LT(s.average_rate(60s), 20 * 1024.0);
    for (int i = 0; i < 1000; ++i) EXPECT_LE(s.next_delay(60s), Schedule::k_max_delay);
}

TEST(PumpSchedule, TheRateCapHolds)
{
    Schedule s(1024 * 1024, 1);  // 1 MiB/s
    std::uint64_t total = 0;
    const Clock::time_point t0 = Clock::time_point{} + 1h;
    for (int ms = 0; ms <= 2000; ++ms) {
        const std::uint64_t n = s.allowance(t0 + ms * 1ms, 1 << 20);
        s.took_from_low(n);
        total += n;
    }
    // Two seconds at 1 MiB/s and the first chunk.
    EXPECT_LE(total, 2 * 1024 * 1024 + Schedule::k_chunk + 1024);
    EXPECT_GE(total, 2 * 1024 * 1024 - Schedule::k_chunk);
    Schedule free(0, 1);
    EXPECT_EQ(free.allowance(t0, 1 << 20), Schedule::k_chunk);
    EXPECT_EQ(free.allowance(t0, 100), 100u);
}

std::pair<UniqueFd, UniqueFd> pair(int type)
{
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0);
    return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

// The pump between two links; the test is the low VM's process and the high VM's.
struct Rig {
    UniqueFd low_link, high_link;
    std::unique_ptr<Pump> pump;
    explicit Rig(std::uint64_t rate = 0, Pump::Limits limits = {})
    {
        auto [l_vm, l_pump] = pair(SOCK_SEQPACKET);
        auto [h_vm, h_pump] = pair(SOCK_SEQPACKET);
        low_link = std::move(l_vm);
        high_link = std::move(h_vm);
        pump = std::move(Pump::create(std::move(l_pump), std::move(h_pump), 5000, rate, 99, limits)).value();
    }
    // The low side connects: its end of the stream.
    UniqueFd connect(std::uint32_t port = 5000)
    {
        auto [mine, theirs] = pair(SOCK_STREAM);
        EXPECT_TRUE(protocol::send_link_open(low_link.get(), {1234, port}, theirs.get()).has_value());
        return std::move(mine);
    }
    void run(std::chrono::milliseconds total)
    {
        const auto end = Clock::now() + total;
        while (Clock::now() < end) pump->step(5ms);
    }
    // The high VM's process accepts the connection the pump opened: its end of the stream.
    UniqueFd accept_high()
    {
        auto opened = protocol::receive_link_open(high_link.get());
        if (!opened || !*opened) {
            ADD_FAILURE() << "the pump opened no connection to the high side";
            return {};
        }
        UniqueFd high = std::move((*opened)->stream);
        const std::uint8_t yes = protocol::k_link_accepted;
        EXPECT_EQ(::write(high.get(), &yes, 1), 1);
        return high;
    }
};

std::string read_some(int fd)
{
    std::string out;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) return out;
        out.append(buf, static_cast<std::size_t>(n));
    }
}

TEST(Pump, BytesGoLowToHighOnlyAndTheLowSideIsAnsweredAtOnce)
{
    Rig r;
    UniqueFd low = r.connect();
    r.run(20ms);
    EXPECT_EQ(read_some(low.get()), std::string(1, '\x01')) << "accepted before the high side was asked";
    auto opened = protocol::receive_link_open(r.high_link.get());
    ASSERT_TRUE(opened.has_value() && opened->has_value());
    EXPECT_EQ((*opened)->open.src_port, 1234u);
    EXPECT_EQ((*opened)->open.dst_port, 5000u);
    UniqueFd high = std::move((*opened)->stream);
    const std::uint8_t yes = protocol::k_link_accepted;
    ASSERT_EQ(::write(high.get(), &yes, 1), 1);

    std::string sent;
    for (int i = 0; i < 256 * 1024; ++i) sent += static_cast<char>(i * 31 + i / 251);
    std::thread writer([&] {
        std::size_t off = 0;
        while (off < sent.size()) {
            const ssize_t n = ::write(low.get(), sent.data() + off, sent.size() - off);
            if (n > 0) off += static_cast<std::size_t>(n);
        }
        ::shutdown(low.get(), SHUT_WR);
    });
    // The high side talks back; none of it may reach the low side.
    ASSERT_EQ(::write(high.get(), "back-channel", 12), 12);
    std::string got;
    const auto end = Clock::now() + 10s;
    while (got.size() < sent.size() && Clock::now() < end) {
        r.pump->step(5ms);
        got += read_some(high.get());
    }
    writer.join();
    r.run(50ms);
    EXPECT_EQ(got.size(), sent.size());
    EXPECT_TRUE(got == sent) << "bytes differ";
    EXPECT_EQ(read_some(low.get()), "") << "nothing of the high side reached the low side";
    EXPECT_EQ(r.pump->stats().delivered, sent.size());
    EXPECT_EQ(r.pump->flows(), 0u) << "the low side finished and everything was delivered";
}

TEST(Pump, ARefusingHighSideIsInvisibleToTheLowSide)
{
    Rig r;
    UniqueFd low = r.connect();
    r.run(20ms);
    EXPECT_EQ(read_some(low.get()), std::string(1, '\x01'));
    auto opened = protocol::receive_link_open(r.high_link.get());
    ASSERT_TRUE(opened.has_value() && opened->has_value());
    (*opened)->stream.reset();  // the high guest refused
    ASSERT_EQ(::write(low.get(), "into the void", 13), 13);
    r.run(50ms);
    EXPECT_EQ(r.pump->stats().dropped, 13u);
    ::shutdown(low.get(), SHUT_WR);
    r.run(50ms);
    EXPECT_EQ(r.pump->flows(), 0u);
}

TEST(Pump, OnlyTheChannelsPortAndWellFormedRecords)
{
    Rig r;
    UniqueFd wrong = r.connect(22);
    r.run(20ms);
    char c;
    EXPECT_EQ(::recv(wrong.get(), &c, 1, MSG_DONTWAIT), 0) << "refused: the stream is closed unanswered";
    const char junk[5] = {'l', 'i', 'n', 'k', 0};
    ASSERT_EQ(::send(r.low_link.get(), junk, sizeof junk, 0), 5);
    r.run(20ms);
    EXPECT_EQ(r.pump->stats().refused_records, 2u);
    EXPECT_EQ(r.pump->stats().connections, 0u);
    // The low link gone and no connection left: the pump is done.
    r.low_link.reset();
    EXPECT_FALSE(r.pump->step(10ms) && r.pump->step(10ms));
}

// Writes what the socket takes of `n` bytes within `for_at_most`, running the pump meanwhile.
std::size_t push(Rig& r, int low, std::size_t n, std::chrono::milliseconds for_at_most)
{
    static const std::string chunk(65536, 'p');
    std::size_t sent = 0;
    const auto end = Clock::now() + for_at_most;
    while (sent < n && Clock::now() < end) {
        const ssize_t w = ::send(low, chunk.data(), std::min(chunk.size(), n - sent), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) sent += static_cast<std::size_t>(w);
        r.pump->step(1ms);
    }
    return sent;
}

TEST(Pump, AStalledHighSideHoldsTheLowSideBackForABoundedTime)
{
    Rig r(0, Pump::Limits{Pump::k_buffer, 1s});
    UniqueFd low = r.connect();
    r.run(20ms);
    UniqueFd high = r.accept_high();  // and never reads
    // The pump's buffer and the sockets fill, then the low side waits...
    const std::size_t before = push(r, low.get(), 64 << 20, 700ms);
    EXPECT_LT(before, 8u << 20) << "the low side was held back";
    EXPECT_GE(before, Pump::k_buffer);
    // ...for the full buffer's timeout at most, then goes on (its bytes dropped).
    const std::size_t after = push(r, low.get(), 4 << 20, 2500ms);
    EXPECT_EQ(after, 4u << 20) << "the low side is never stopped for good";
    EXPECT_EQ(read_some(low.get()), std::string(1, '\x01')) << "nothing but the answer for the low side";
}

TEST(Pump, ABufferFullTooLongEndsTheHighSide)
{
    Rig r(0, Pump::Limits{64 * 1024, 300ms});
    UniqueFd low = r.connect();
    r.run(20ms);
    UniqueFd high = r.accept_high();  // and never reads
    push(r, low.get(), 64 << 20, 1500ms);
    EXPECT_GT(r.pump->stats().dropped, 0u) << "the buffer was dropped with the high side";
    char c;
    while (::recv(high.get(), &c, 1, MSG_DONTWAIT) > 0) {
    }
    EXPECT_EQ(::recv(high.get(), &c, 1, MSG_DONTWAIT), 0) << "the high side's connection ended";
    // Then the low side's bytes are taken at the past average and dropped.
    const std::size_t after = push(r, low.get(), 4 << 20, 3000ms);
    EXPECT_EQ(after, 4u << 20);
    EXPECT_EQ(read_some(low.get()), std::string(1, '\x01'));
}

// Steps the pump until `done` holds, for 10 s at most (a loaded machine is slow, not wrong).
template <typename Done>
bool step_until(Rig& r, Done done)
{
    const auto end = Clock::now() + 10s;
    while (!done()) {
        if (Clock::now() >= end) return false;
        r.pump->step(5ms);
    }
    return true;
}

// Whether the pump accepts a new connection from the low side: its answer, or its refusal (the
// stream closed unanswered).
bool accepts(Rig& r)
{
    UniqueFd low = r.connect();
    ssize_t n = -1;
    char c = 0;
    EXPECT_TRUE(step_until(r, [&] { return (n = ::recv(low.get(), &c, 1, MSG_DONTWAIT)) >= 0; })) << "no answer";
    return n == 1 && c == '\x01';
}

// The low side opens k_max_flows connections, writes a byte on each and closes it; the test's
// high side acts as `high` says on each connection the pump opens to it (a high side that takes
// everything, until every flow has finished). Returns the high side's ends.
enum class HighSide { NeverAnswers, TakesEverything };
std::vector<UniqueFd> fill_and_close(Rig& r, HighSide high)
{
    std::vector<UniqueFd> highs;
    for (std::size_t i = 0; i < Pump::k_max_flows; ++i) {
        UniqueFd low = r.connect();
        std::string answer;
        EXPECT_TRUE(step_until(r, [&] { return !(answer = read_some(low.get())).empty(); }));
        EXPECT_EQ(answer, std::string(1, '\x01')) << "each accepted at once";
        EXPECT_EQ(::write(low.get(), "x", 1), 1);
    }
    for (std::size_t i = 0; i < Pump::k_max_flows; ++i) {
        if (high == HighSide::TakesEverything) {
            highs.push_back(r.accept_high());
            continue;
        }
        auto opened = protocol::receive_link_open(r.high_link.get());
        EXPECT_TRUE(opened && *opened);
        if (opened && *opened) highs.push_back(std::move((*opened)->stream));  // and never answers
    }
    if (high == HighSide::TakesEverything) {
        EXPECT_TRUE(step_until(r, [&] {
            for (auto& h : highs) (void)read_some(h.get());
            return r.pump->flows() == 0;
        })) << "every flow delivered and finished";
    } else {
        r.run(100ms);
    }
    return highs;
}

TEST(Pump, AHighSideThatNeverAnswersKeepsNoFlowBeyondTheBound)
{
    Rig r(0, Pump::Limits{Pump::k_buffer, 300ms});
    std::vector<UniqueFd> highs = fill_and_close(r, HighSide::NeverAnswers);
    // The high side never answers: each flow ends full_timeout after the pump closed its low
    // stream (without the bound, never).
    EXPECT_TRUE(step_until(r, [&] { return r.pump->flows() == 0; })) << r.pump->flows() << " flows kept";
    for (auto& h : highs) {
        char c;
        EXPECT_EQ(::recv(h.get(), &c, 1, MSG_DONTWAIT), 0) << "the high side's connection was ended";
    }
    EXPECT_EQ(r.pump->stats().dropped, Pump::k_max_flows) << "the bytes it never took";
    // And the 65th connection is accepted.
    EXPECT_TRUE(accepts(r));
    EXPECT_EQ(r.pump->stats().connections, Pump::k_max_flows + 1);
}

TEST(Pump, WhetherTheNextConnectionIsAcceptedDoesNotDependOnTheHighSide)
{
    // Within the bound (an hour: never reached here), a place is held whatever the high side did:
    // one that took everything at once frees no place sooner than one that never answered.
    for (HighSide high : {HighSide::TakesEverything, HighSide::NeverAnswers}) {
        Rig r(0, Pump::Limits{Pump::k_buffer, 1h});
        std::vector<UniqueFd> highs = fill_and_close(r, high);
        if (high == HighSide::TakesEverything) EXPECT_EQ(r.pump->stats().delivered, Pump::k_max_flows);
        else EXPECT_EQ(r.pump->flows(), Pump::k_max_flows);
        EXPECT_FALSE(accepts(r)) << "the 65th refused in both";
        EXPECT_EQ(r.pump->stats().connections, Pump::k_max_flows);
    }
}

TEST(Pump, AFullBufferWaitsWithoutSpinning)
{
    // A buffer the high side leaves full, and a full_timeout never reached here.
    Rig r(0, Pump::Limits{64 * 1024, 1h});
    UniqueFd low = r.connect();
    r.run(20ms);
    UniqueFd high = r.accept_high();  // and reads nothing for now
    const std::size_t sent = push(r, low.get(), 64 << 20, 500ms);
    ASSERT_LT(sent, 64u << 20) << "the low side was held back: the buffer is full";
    // Nothing happens for 300 ms: a step waits for an event or its max_wait, not 0 ms.
    int steps = 0;
    const auto end = Clock::now() + 300ms;
    while (Clock::now() < end) {
        r.pump->step(50ms);
        ++steps;
    }
    EXPECT_LE(steps, 20) << "the pump spun on its full buffer";
    EXPECT_EQ(r.pump->flows(), 1u);
    EXPECT_EQ(r.pump->stats().dropped, 0u);
    // The high side's reading is the event that makes room: the low side goes on.
    std::size_t got = 0;
    const auto until = Clock::now() + 10s;
    while (got <= sent && Clock::now() < until) {
        got += read_some(high.get()).size();
        (void)::send(low.get(), "more", 4, MSG_DONTWAIT | MSG_NOSIGNAL);
        r.pump->step(50ms);
    }
    EXPECT_GT(got, sent) << "the pump took from the low side again once the high side read";
}

TEST(Pump, TheRateCapHoldsEndToEnd)
{
    Rig r(512 * 1024);  // 512 KiB/s
    UniqueFd low = r.connect();
    r.run(20ms);
    UniqueFd high = r.accept_high();
    ASSERT_TRUE(high.valid());
    // Feed it for a second while the high side reads everything.
    std::size_t got = 0;
    static const std::string chunk(65536, 'c');
    const auto start = Clock::now();
    while (Clock::now() - start < 1s) {
        (void)::send(low.get(), chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        r.pump->step(1ms);
        got += read_some(high.get()).size();
    }
    // One second at 512 KiB/s, and the first chunk and the bucket's burst (a tenth of a second).
    EXPECT_LE(got, 512u * 1024 + Schedule::k_chunk + 64 * 1024);
    EXPECT_GE(got, 256u * 1024);
}

}  // namespace

