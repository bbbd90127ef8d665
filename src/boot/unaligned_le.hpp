// Unaligned little-endian integers for boot-protocol structures that sit at odd offsets.
//
// The Linux setup header starts at 0x1f1 of the zero page, so its 16/32/64-bit fields are not
// naturally aligned. base::Le<T> has the alignment of T: packing it into such a struct would
// call get()/set() through a misaligned `this` (undefined behaviour, flagged by UBSan). These
// wrappers hold bytes, have alignment 1, and therefore need no `packed` attribute at all.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace moat::boot {

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

}  // namespace moat::boot
