// Error construction and the fatal path for broken invariants.
#include "base/result.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace moat {

Error Error::from_errno(const char* what_failed)
{
    return Error{Errc::Io, errno, what_failed, {}};
}

Error Error::in(std::string_view outer) const&
{
    Error e = *this;
    e.context = context.empty() ? std::string(outer) : std::string(outer) + ": " + context;
    return e;
}

Unexpected<Error> fail_errno(const char* what)
{
    return {Error::from_errno(what)};
}

Unexpected<Error> fail_errno_in(std::string context)
{
    return {Error{Errc::Io, errno, "", std::move(context)}};
}

std::string describe(const Error& e)
{
    std::string s = e.context;
    auto add = [&s](std::string_view part) {
        if (part.empty()) return;
        if (!s.empty()) s += ": ";
        s += part;
    };
    add(e.what);
    if (e.sys_errno) add(std::strerror(e.sys_errno));
    return s;
}

void check_failed(const char* expr, const char* file, int line)
{
    std::fprintf(stderr, "moat: internal error: check '%s' failed at %s:%d\n", expr, file, line);
    std::abort();
}

}  // namespace moat
