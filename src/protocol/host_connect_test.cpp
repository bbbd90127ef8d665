// The vsock connector's protocol: a connect through it reaches PATH_<port> and nothing else.
#include "protocol/host_connect.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>

using namespace moat;
using namespace moat::protocol;

namespace {

base::UniqueFd listen_at(const std::string& path)
{
    base::UniqueFd l(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.data(), path.size());
    EXPECT_EQ(::bind(l.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    EXPECT_EQ(::listen(l.get(), 4), 0);
    return l;
}

TEST(HostConnect, ReachesPathUnderscorePortOnly)
{
    char dir[] = "/tmp/moat-connect-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    const std::string path = std::string(dir) + "/v.sock";
    base::UniqueFd listener = listen_at(path + "_52");
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    base::UniqueFd vm(sv[0]), connector(sv[1]);
    std::thread t([&] { serve_connects(connector.get(), path); });

    auto fd = connect_through(vm.get(), 52);
    ASSERT_TRUE(fd.has_value()) << describe(fd.error());
    base::UniqueFd accepted(::accept(listener.get(), nullptr, nullptr));
    ASSERT_TRUE(accepted.valid());
    ASSERT_EQ(::write(fd->get(), "hi", 2), 2);
    char buf[2];
    ASSERT_EQ(::read(accepted.get(), buf, 2), 2);
    EXPECT_EQ(std::string(buf, 2), "hi");

    auto none = connect_through(vm.get(), 53);
    ASSERT_FALSE(none.has_value());
    EXPECT_EQ(none.error().code, Errc::NotFound);
    EXPECT_EQ(none.error().sys_errno, ENOENT);

    vm.reset();  // the VM process ends: so does the connector's loop
    t.join();
    ::unlink((path + "_52").c_str());
    ::rmdir(dir);
}

TEST(HostConnect, PortPathsFitASocketAddress)
{
    EXPECT_EQ(port_path("/run/v.sock", 4294967295u).value(), "/run/v.sock_4294967295");
    EXPECT_EQ(port_path(std::string(97, 'a'), 1234567890u).error().code, Errc::OutOfRange);
    EXPECT_TRUE(port_path(std::string(97, 'a'), 1u).has_value());
}

TEST(HostConnect, AGoneConnectorIsAnError)
{
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    base::UniqueFd vm(sv[0]);
    ::close(sv[1]);
    auto r = connect_through(vm.get(), 1);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::Io);
}

}  // namespace
