// Error construction and the fatal path for broken invariants.
#include "base/result.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace moat {

Error Error::from_errno(const char* what_failed)
{
    return Error{Errc::Io, errno, what_failed};
}

Unexpected<Error> fail_errno(const char* what)
{
    return {Error::from_errno(what)};
}

void check_failed(const char* expr, const char* file, int line)
{
    std::fprintf(stderr, "moat: internal error: check '%s' failed at %s:%d\n", expr, file, line);
    std::abort();
}

}  // namespace moat
