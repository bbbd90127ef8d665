// A container's side of its VM (container.hpp): what reaches moat-oci through the ready
// descriptor, the status the VM process ends with, what the guest is told, and a guest that
// breaks the protocol or stops reading.
#include "vmm/container.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace moat::vmm {
namespace {

struct Pipe {
    base::UniqueFd r, w;
    Pipe()
    {
        int fds[2];
        EXPECT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
        r = base::UniqueFd(fds[0]);
        w = base::UniqueFd(fds[1]);
    }
    std::string drain() const
    {
        std::string s;
        char buf[256];
        for (ssize_t n; (n = ::read(r.get(), buf, sizeof buf)) > 0;) s.append(buf, static_cast<std::size_t>(n));
        return s;
    }
};

// A link with its ready and start pipes, recording every end it asks for.
struct Fixture {
    Pipe ready, start;
    std::vector<std::string> ends;
    ContainerLink link;
    Fixture()
        : link(std::move(ready.w), std::move(start.r), [this](const std::string& why) { ends.push_back(why); })
    {
    }
    void guest_says(const std::string& bytes)
    {
        for (char c : bytes) link.on_control_byte(static_cast<std::uint8_t>(c));
    }
};

// What a guest reads from its control port, as far as the UART's FIFO holds.
std::string guest_reads(devices::Serial& port)
{
    std::string s;
    std::byte lsr{}, rbr{};
    for (;;) {
        port.read(5, std::span(&lsr, 1));
        if ((std::to_integer<unsigned>(lsr) & 1) == 0) return s;  // LSR.DR: no data ready
        port.read(0, std::span(&rbr, 1));
        s.push_back(static_cast<char>(rbr));
    }
}

TEST(ContainerLink, ReadyThenTheWorkloadsStatus)
{
    Fixture f;
    EXPECT_EQ(f.link.status(), devices::GuestControl::k_status_broken);  // nothing said yet
    f.guest_says("ready\n");
    EXPECT_EQ(f.ready.drain(), "ready\n");
    EXPECT_TRUE(f.ends.empty());
    f.guest_says("exit 3\n");
    EXPECT_EQ(f.link.status(), 3);
    ASSERT_EQ(f.ends.size(), 1u);
    EXPECT_EQ(f.ends[0], "");  // the workload ended: the VM stops, nothing is wrong
    EXPECT_EQ(f.ready.drain(), "");
}

TEST(ContainerLink, AnErrorGoesToCreateAndIsTheStatus)
{
    Fixture f;
    f.guest_says("error ENOENT executable file 'nope' not found\n");
    EXPECT_EQ(f.ready.drain(), "error 127 executable file 'nope' not found\n");
    EXPECT_EQ(f.link.status(), 127);
    EXPECT_EQ(f.ends.size(), 1u);
}

TEST(ContainerLink, ABrokenChannelEndsTheVmOnceWith125)
{
    Fixture f;
    f.guest_says("ready\nexit 0 but more\n");
    EXPECT_EQ(f.ready.drain(), "ready\n");  // create heard ready already; nothing more goes there
    EXPECT_EQ(f.link.status(), devices::GuestControl::k_status_broken);
    ASSERT_EQ(f.ends.size(), 1u);
    EXPECT_NE(f.ends[0].find("control channel"), std::string::npos) << f.ends[0];
    f.guest_says("exit 0\nexit 0\n");  // what a broken channel says after counts for nothing
    EXPECT_EQ(f.ends.size(), 1u);
    EXPECT_EQ(f.link.status(), devices::GuestControl::k_status_broken);
}

TEST(ContainerLink, ALieBeforeReadyTellsCreate)
{
    Fixture f;
    f.guest_says("exit 0 forged by the workload?\n");
    EXPECT_EQ(f.ready.drain(), "error 125 the container's init broke its control channel\n");
    EXPECT_EQ(f.link.status(), devices::GuestControl::k_status_broken);
}

TEST(ContainerLink, LinesReachTheGuestAndAQuietGuestCannotGrowTheQueue)
{
    Fixture f;
    devices::Serial port([](std::uint8_t) {}, [] {});
    f.link.say("signal 15");
    EXPECT_FALSE(f.link.flush(port));
    EXPECT_EQ(guest_reads(port), "signal 15\n");
    // A guest that never reads: the UART's FIFO fills, then the queue, then lines are dropped.
    std::size_t said = 0;
    for (int i = 0; i < 2000; ++i) {
        f.link.say("signal 10");
        said += 10;
        f.link.flush(port);
    }
    EXPECT_TRUE(f.link.flush(port));
    std::string got = guest_reads(port);
    while (f.link.flush(port)) got += guest_reads(port);
    got += guest_reads(port);
    EXPECT_LT(got.size(), said);
    EXPECT_LE(got.size(), ContainerLink::k_max_pending + devices::Serial::k_rx_capacity);  // the queue plus the FIFO
    EXPECT_EQ(got.substr(0, 10), "signal 10\n");
    EXPECT_EQ(got.size() % 10, 0u);  // whole lines only
}

TEST(ContainerLink, StartOnceThenTheDescriptorIsDone)
{
    Fixture f;
    EXPECT_EQ(f.link.take_start(), ContainerLink::Start::Nothing);  // nothing written yet
    ASSERT_EQ(::write(f.start.w.get(), "s", 1), 1);
    EXPECT_EQ(f.link.take_start(), ContainerLink::Start::Go);
    ASSERT_EQ(::write(f.start.w.get(), "s", 1), 1);
    EXPECT_EQ(f.link.take_start(), ContainerLink::Start::Nothing);  // a second start is not one
    f.start.w.reset();
    EXPECT_EQ(f.link.take_start(), ContainerLink::Start::Closed);
}

}  // namespace
}  // namespace moat::vmm
