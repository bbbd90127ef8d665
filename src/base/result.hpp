// Result<T> and Error: the project's error type. src/ never throws (STYLE.md §4).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "base/check.hpp"

namespace moat {

// What went wrong, by kind. Modules add their own meaning through the message at the edge
// (the CLI); inside, a kind plus the errno is enough to decide what to do.
enum class Errc : std::uint8_t {
    Io,            // a host system call failed (see sys_errno)
    InvalidInput,  // a user-supplied file or value is malformed
    Unsupported,   // well-formed but not something moat supports
    OutOfRange,    // an address or size outside what is allowed
    NoSpace,       // does not fit (memory too small for kernel, initrd, ...)
    GuestFault,    // the guest broke a device or protocol rule
    NotFound,      // a named thing does not exist
};

struct Error {
    Errc code;
    int sys_errno = 0;
    const char* what = "";  // static string naming what failed; never owns memory
    // What the error is about, outermost first, when the code that found it knows more than
    // `what` can say: "demo.toml:13: vm.web.memory", "--kernel 'bzImage'". Empty in the hot
    // paths (guest faults), so that an Error there never allocates.
    std::string context;

    static Error from_errno(const char* what_failed);
    // This error, about `outer` (prepended to any context it has).
    Error in(std::string_view outer) const&;
};

template <typename E>
struct Unexpected {
    E error;
};

inline Unexpected<Error> fail(Errc code, const char* what, int sys_errno = 0)
{
    return {Error{code, sys_errno, what, {}}};
}
// Returns an Error already made, e.g. one given a context: `return fail(e.in("--kernel 'k'"))`.
inline Unexpected<Error> fail(Error e) { return {std::move(e)}; }
// An error whose whole message is built at run time: `message` is its context, `what` empty.
inline Unexpected<Error> fail_with(Errc code, std::string message)
{
    return {Error{code, 0, "", std::move(message)}};
}
Unexpected<Error> fail_errno(const char* what);
// errno of the call that just failed, about `context` ("manifest 'x.toml'").
Unexpected<Error> fail_errno_in(std::string context);

// "context: what failed: strerror(errno)", leaving out the parts that are empty, for messages.
std::string describe(const Error& e);

// A value or an Error; its surface follows std::expected so it can become an alias later.
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : m_v(std::in_place_index<0>, std::move(value)) {}
    Result(Unexpected<Error> e) : m_v(std::in_place_index<1>, e.error) {}

    bool has_value() const { return m_v.index() == 0; }
    explicit operator bool() const { return has_value(); }

    T& value() &
    {
        MOAT_CHECK(has_value());
        return std::get<0>(m_v);
    }
    const T& value() const&
    {
        MOAT_CHECK(has_value());
        return std::get<0>(m_v);
    }
    T&& value() &&
    {
        MOAT_CHECK(has_value());
        return std::get<0>(std::move(m_v));
    }
    const Error& error() const
    {
        MOAT_CHECK(!has_value());
        return std::get<1>(m_v);
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    template <typename F>
    auto and_then(F&& f) &&
    {
        using R = std::invoke_result_t<F, T&&>;
        if (!has_value()) return R(Unexpected<Error>{error()});
        return std::forward<F>(f)(std::move(*this).value());
    }

private:
    std::variant<T, Error> m_v;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Unexpected<Error> e) : m_e(e.error) {}
    bool has_value() const { return !m_e.has_value(); }
    explicit operator bool() const { return has_value(); }
    void value() const { MOAT_CHECK(has_value()); }
    const Error& error() const
    {
        MOAT_CHECK(!has_value());
        return *m_e;
    }

private:
    std::optional<Error> m_e;
};

}  // namespace moat

// Evaluates a Result; on error returns it from the enclosing function, else yields the value.
#define MOAT_TRY(expr)                                                 \
    ({                                                                 \
        auto _moat_try = (expr);                                       \
        if (!_moat_try.has_value())                                    \
            return ::moat::Unexpected<::moat::Error>{_moat_try.error()}; \
        std::move(_moat_try).value();                                  \
    })
