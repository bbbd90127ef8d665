// Little-endian integer types for guest ABI structures: byte order lives in the type.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
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

// Unaligned little-endian integers, for guest structures with fields at odd offsets (the
// Linux setup header at 0x1f1, ACPI's 64-bit fields at 4-byte offsets). Le<T> has T's
// alignment: in such a layout it would insert padding, or -- packed -- be used through a
// misaligned `this`. These hold bytes and have alignment 1.
template <typename T>
struct ULe {
    static_assert(std::is_unsigned_v<T>);
    std::array<std::uint8_t, sizeof(T)> bytes;

    constexpr T get() const
    {
        T v = 0;
        for (std::size_t i = 0; i < sizeof(T); ++i)
            v = static_cast<T>(v | static_cast<T>(static_cast<T>(bytes[i]) << (8 * i)));
        return v;
    }
    constexpr void set(T v)
    {
        for (std::size_t i = 0; i < sizeof(T); ++i) bytes[i] = static_cast<std::uint8_t>(v >> (8 * i));
    }
    static constexpr ULe from(T v)
    {
        ULe r{};
        r.set(v);
        return r;
    }
    friend constexpr bool operator==(const ULe& a, const ULe& b) { return a.bytes == b.bytes; }
};

using ULe16 = ULe<std::uint16_t>;
using ULe32 = ULe<std::uint32_t>;
using ULe64 = ULe<std::uint64_t>;
static_assert(sizeof(ULe16) == 2 && alignof(ULe16) == 1);
static_assert(sizeof(ULe32) == 4 && alignof(ULe32) == 1);
static_assert(sizeof(ULe64) == 8 && alignof(ULe64) == 1);
static_assert(std::has_unique_object_representations_v<ULe64> && std::is_standard_layout_v<ULe64>);

}  // namespace moat
