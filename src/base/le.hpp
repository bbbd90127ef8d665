// Little-endian integer types for guest ABI structures: byte order lives in the type.
#pragma once

#include <bit>
#include <cstdint>
#include <type_traits>

namespace moat {

static_assert(std::endian::native == std::endian::little, "moat supports little-endian hosts only");

// On a little-endian host the stored representation is the value; the wrapper keeps guest
// layouts explicit and stops arithmetic on unconverted fields.
template <typename T>
struct Le {
    static_assert(std::is_unsigned_v<T>);
    T raw;

    constexpr T get() const { return raw; }
    constexpr void set(T v) { raw = v; }
    static constexpr Le from(T v) { return Le{v}; }
    friend constexpr bool operator==(Le a, Le b) { return a.raw == b.raw; }
};

using Le16 = Le<std::uint16_t>;
using Le32 = Le<std::uint32_t>;
using Le64 = Le<std::uint64_t>;
static_assert(sizeof(Le16) == 2 && sizeof(Le32) == 4 && sizeof(Le64) == 8);
static_assert(std::is_trivially_copyable_v<Le64> && std::is_standard_layout_v<Le64>);

}  // namespace moat
