// The AML encoder: byte encodings of ACPI 6.5 §20.2 terms and §6.4 resource descriptors.
#include "boot/acpi/aml.hpp"

#include <array>
#include <initializer_list>
#include <limits>

#include "base/check.hpp"

namespace moat::boot::acpi::aml {

namespace {

// §20.2 opcodes and prefixes.
constexpr std::uint8_t k_zero_op = 0x00;
constexpr std::uint8_t k_one_op = 0x01;
constexpr std::uint8_t k_ones_op = 0xff;
constexpr std::uint8_t k_byte_prefix = 0x0a;
constexpr std::uint8_t k_word_prefix = 0x0b;
constexpr std::uint8_t k_dword_prefix = 0x0c;
constexpr std::uint8_t k_string_prefix = 0x0d;
constexpr std::uint8_t k_qword_prefix = 0x0e;
constexpr std::uint8_t k_name_op = 0x08;
constexpr std::uint8_t k_scope_op = 0x10;
constexpr std::uint8_t k_buffer_op = 0x11;
constexpr std::uint8_t k_package_op = 0x12;
constexpr std::uint8_t k_ext_op_prefix = 0x5b;
constexpr std::uint8_t k_device_op = 0x82;  // after ExtOpPrefix
constexpr std::uint8_t k_root_char = 0x5c;  // '\'
constexpr std::uint8_t k_dual_name_prefix = 0x2e;
constexpr std::uint8_t k_multi_name_prefix = 0x2f;
constexpr std::uint8_t k_null_name = 0x00;

// §6.4 resource descriptor tags.
constexpr std::uint8_t k_memory32_fixed_tag = 0x86;      // large item 0x06
constexpr std::uint8_t k_extended_interrupt_tag = 0x89;  // large item 0x09
constexpr std::uint8_t k_end_tag = 0x79;                 // small item 0x0f, length 1
constexpr std::uint8_t k_io_port_tag = 0x47;             // small item 0x08, length 7

void put(Bytes& out, std::uint8_t v)
{
    out.push_back(static_cast<std::byte>(v));
}

template <typename T>
void put_le(Bytes& out, T v)
{
    for (std::size_t i = 0; i < sizeof(T); ++i)
        out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xffU));
}

void append(Bytes& out, const Bytes& more)
{
    out.insert(out.end(), more.begin(), more.end());
}

// Opcode bytes, then PkgLength, then `contents`: the shape of every variable-length term.
Bytes with_pkg_length(std::initializer_list<std::uint8_t> opcode, const Bytes& contents)
{
    Bytes out;
    for (std::uint8_t b : opcode) put(out, b);
    append(out, pkg_length(contents.size()));
    append(out, contents);
    return out;
}

bool is_lead_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || c == '_';
}

// §20.2.2 NameSeg: LeadNameChar NameChar NameChar NameChar, padded with '_'.
void put_name_seg(Bytes& out, std::string_view seg)
{
    MOAT_CHECK(!seg.empty() && seg.size() <= 4 && is_lead_name_char(seg[0]));
    for (std::size_t i = 0; i < 4; ++i) {
        const char c = i < seg.size() ? seg[i] : '_';
        MOAT_CHECK(is_lead_name_char(c) || (c >= '0' && c <= '9'));
        put(out, static_cast<std::uint8_t>(c));
    }
}

Bytes term_list(const std::vector<Bytes>& terms)
{
    Bytes out;
    for (const Bytes& t : terms) append(out, t);
    return out;
}

}  // namespace

Bytes pkg_length(std::size_t content_len)
{
    // Largest encodable length for 1..4 bytes: 6 bits, then 4 bits plus 8 per extra byte.
    constexpr std::array<std::size_t, 4> k_max{0x3f, 0xfff, 0xfffff, 0xfffffff};
    MOAT_CHECK(content_len <= k_max[3] - 4);
    std::size_t n = 1;
    while (content_len + n > k_max[n - 1]) ++n;
    const std::size_t total = content_len + n;

    Bytes out;
    if (n == 1) {
        put(out, static_cast<std::uint8_t>(total));
        return out;
    }
    // Bits 7-6 of the lead byte: count of following bytes; bits 3-0: the low nibble.
    put(out, static_cast<std::uint8_t>(((n - 1) << 6) | (total & 0x0f)));
    for (std::size_t i = 1; i < n; ++i)
        put(out, static_cast<std::uint8_t>((total >> (4 + 8 * (i - 1))) & 0xff));
    return out;
}

Bytes name_string(std::string_view path)
{
    Bytes out;
    if (!path.empty() && path.front() == '\\') {
        put(out, k_root_char);
        path.remove_prefix(1);
    }
    if (path.empty()) {
        put(out, k_null_name);
        return out;
    }
    std::vector<std::string_view> segs;
    for (;;) {
        const std::size_t dot = path.find('.');
        segs.push_back(path.substr(0, dot));
        if (dot == std::string_view::npos) break;
        path.remove_prefix(dot + 1);
    }

    MOAT_CHECK(segs.size() <= 255);
    if (segs.size() == 2) {
        put(out, k_dual_name_prefix);
    } else if (segs.size() > 2) {
        put(out, k_multi_name_prefix);
        put(out, static_cast<std::uint8_t>(segs.size()));
    }
    for (std::string_view seg : segs) put_name_seg(out, seg);
    return out;
}

Bytes integer(std::uint64_t value)
{
    Bytes out;
    if (value == 0) {
        put(out, k_zero_op);
    } else if (value == 1) {
        put(out, k_one_op);
    } else if (value == std::numeric_limits<std::uint64_t>::max()) {
        put(out, k_ones_op);  // all ones, given the DSDT revision 2 (64-bit integers)
    } else if (value <= 0xff) {
        put(out, k_byte_prefix);
        put_le(out, static_cast<std::uint8_t>(value));
    } else if (value <= 0xffff) {
        put(out, k_word_prefix);
        put_le(out, static_cast<std::uint16_t>(value));
    } else if (value <= 0xffff'ffff) {
        put(out, k_dword_prefix);
        put_le(out, static_cast<std::uint32_t>(value));
    } else {
        put(out, k_qword_prefix);
        put_le(out, value);
    }
    return out;
}

Bytes string(std::string_view ascii)
{
    Bytes out;
    put(out, k_string_prefix);
    for (char c : ascii) {
        MOAT_CHECK(c >= 0x01 && c <= 0x7f);
        put(out, static_cast<std::uint8_t>(c));
    }
    put(out, 0x00);  // NullChar
    return out;
}

Bytes package(const std::vector<Bytes>& elements)
{
    MOAT_CHECK(elements.size() <= 255);
    Bytes contents;
    put(contents, static_cast<std::uint8_t>(elements.size()));  // NumElements
    append(contents, term_list(elements));
    return with_pkg_length({k_package_op}, contents);
}

Bytes buffer(std::span<const std::byte> data)
{
    Bytes contents = integer(data.size());  // BufferSize
    contents.insert(contents.end(), data.begin(), data.end());
    return with_pkg_length({k_buffer_op}, contents);
}

Bytes name(std::string_view path, const Bytes& object)
{
    Bytes out;
    put(out, k_name_op);
    append(out, name_string(path));
    append(out, object);
    return out;
}

Bytes scope(std::string_view path, const std::vector<Bytes>& terms)
{
    Bytes contents = name_string(path);
    append(contents, term_list(terms));
    return with_pkg_length({k_scope_op}, contents);
}

Bytes device(std::string_view path, const std::vector<Bytes>& terms)
{
    Bytes contents = name_string(path);
    append(contents, term_list(terms));
    return with_pkg_length({k_ext_op_prefix, k_device_op}, contents);
}

Bytes memory32_fixed(Access access, std::uint32_t base, std::uint32_t length)
{
    Bytes out;
    put(out, k_memory32_fixed_tag);
    put_le<std::uint16_t>(out, 9);                           // length of the rest
    put(out, access == Access::ReadWrite ? 0x01 : 0x00);     // bit 0: write status
    put_le(out, base);
    put_le(out, length);
    return out;
}

Bytes io_port(std::uint16_t base, std::uint8_t length)
{
    Bytes out;
    put(out, k_io_port_tag);
    put(out, 0x01);            // bit 0: decodes 16 address bits
    put_le(out, base);         // minimum base
    put_le(out, base);         // maximum base
    put(out, 0x01);            // alignment
    put(out, length);
    return out;
}

Bytes extended_interrupt(Trigger trigger, Polarity polarity, Sharing sharing, std::uint32_t gsi)
{
    // Flags: bit 0 consumer, bit 1 edge-triggered, bit 2 active-low, bit 3 shared.
    std::uint8_t flags = 0x01;
    if (trigger == Trigger::Edge) flags |= 0x02;
    if (polarity == Polarity::ActiveLow) flags |= 0x04;
    if (sharing == Sharing::Shared) flags |= 0x08;

    Bytes out;
    put(out, k_extended_interrupt_tag);
    put_le<std::uint16_t>(out, 6);  // flags, table length, one DWORD; no ResourceSource
    put(out, flags);
    put(out, 1);                    // interrupt table length
    put_le(out, gsi);
    return out;
}

Bytes resource_template(const std::vector<Bytes>& descriptors)
{
    Bytes data = term_list(descriptors);
    put(data, k_end_tag);
    put(data, 0x00);  // checksum 0: "treat as correct" (§6.4.2.9)
    return buffer(data);
}

}  // namespace moat::boot::acpi::aml
