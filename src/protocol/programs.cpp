// How moat's programs find each other (see programs.hpp).
#include "protocol/programs.hpp"

#include <unistd.h>

#include <climits>

namespace moat::protocol {

std::string program_path(std::string_view name)
{
    char buf[PATH_MAX];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    const std::string self = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
    const auto slash = self.rfind('/');
    return slash == std::string::npos ? std::string() : self.substr(0, slash + 1) + std::string(name);
}

}  // namespace moat::protocol
