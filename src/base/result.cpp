// Error construction and the fatal path for broken invariants.
#include "base/result.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace moat {

Error Error::from_errno(const char* what_failed)
{
    return Error{Errc::Io, errno, what_failed};
}

Unexpected<Error> fail_errno(const char* what)
{
    return {Error::from_errno(what)};
}

std::string describe(const Error& e)
{
    std::string s = e.what;
    if (e.sys_errno) s += std::string(": ") + std::strerror(e.sys_errno);
    return s;
}

void check_failed(const char* expr, const char* file, int line)
{
    std::fprintf(stderr, "moat: internal error: check '%s' failed at %s:%d\n", expr, file, line);
    std::abort();
}

}  // namespace moat
