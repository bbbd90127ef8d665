// Byte-exact checks of the AML encoder against ACPI 6.5 §20.2 and §6.4.
#include "boot/acpi/aml.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>

namespace aml = moat::boot::acpi::aml;

namespace {

aml::Bytes bytes(std::initializer_list<unsigned> values)
{
    aml::Bytes out;
    for (unsigned v : values) out.push_back(static_cast<std::byte>(v));
    return out;
}

}  // namespace

TEST(AmlPkgLength, OneByteFormUpTo63)
{
    EXPECT_EQ(aml::pkg_length(0), bytes({0x01}));
    EXPECT_EQ(aml::pkg_length(62), bytes({0x3f}));
}

TEST(AmlPkgLength, MultiByteFormsAtTheirBoundaries)
{
    // 63 + 1 = 64 no longer fits 6 bits; with 2 bytes the total is 65 = 0x41.
    EXPECT_EQ(aml::pkg_length(63), bytes({0x41, 0x04}));
    EXPECT_EQ(aml::pkg_length(0xfff - 2), bytes({0x4f, 0xff}));           // total 0xfff
    EXPECT_EQ(aml::pkg_length(0xfff - 1), bytes({0x81, 0x00, 0x01}));     // total 0x1001
    EXPECT_EQ(aml::pkg_length(0xfffff - 3), bytes({0x8f, 0xff, 0xff}));   // total 0xfffff
    EXPECT_EQ(aml::pkg_length(0xfffff - 2), bytes({0xc1, 0x00, 0x00, 0x01}));  // 0x100001
    EXPECT_EQ(aml::pkg_length(0xfffffff - 4), bytes({0xcf, 0xff, 0xff, 0xff}));
}

TEST(AmlPkgLengthDeathTest, RejectsLengthBeyond28Bits)
{
    EXPECT_DEATH(static_cast<void>(aml::pkg_length(0xfffffff - 3)), "internal error");
}

TEST(AmlInteger, ChoosesTheShortestEncoding)
{
    EXPECT_EQ(aml::integer(0), bytes({0x00}));
    EXPECT_EQ(aml::integer(1), bytes({0x01}));
    EXPECT_EQ(aml::integer(~std::uint64_t{0}), bytes({0xff}));
    EXPECT_EQ(aml::integer(2), bytes({0x0a, 0x02}));
    EXPECT_EQ(aml::integer(0xff), bytes({0x0a, 0xff}));
    EXPECT_EQ(aml::integer(0x100), bytes({0x0b, 0x00, 0x01}));
    EXPECT_EQ(aml::integer(0xffff), bytes({0x0b, 0xff, 0xff}));
    EXPECT_EQ(aml::integer(0x10000), bytes({0x0c, 0x00, 0x00, 0x01, 0x00}));
    EXPECT_EQ(aml::integer(0xd0000000), bytes({0x0c, 0x00, 0x00, 0x00, 0xd0}));
    EXPECT_EQ(aml::integer(0x100000000),
              bytes({0x0e, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00}));
    EXPECT_EQ(aml::integer(~std::uint64_t{1}),
              bytes({0x0e, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
}

TEST(AmlString, IsPrefixedAndNulTerminated)
{
    EXPECT_EQ(aml::string("LNRO0005"),
              bytes({0x0d, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0x00}));
    EXPECT_EQ(aml::string(""), bytes({0x0d, 0x00}));
}

TEST(AmlNameString, EncodesSegmentsRootAndPrefixes)
{
    EXPECT_EQ(aml::name_string("_HID"), bytes({'_', 'H', 'I', 'D'}));
    EXPECT_EQ(aml::name_string("_S5"), bytes({'_', 'S', '5', '_'}));
    EXPECT_EQ(aml::name_string("\\_SB"), bytes({'\\', '_', 'S', 'B', '_'}));
    EXPECT_EQ(aml::name_string("\\"), bytes({'\\', 0x00}));
    EXPECT_EQ(aml::name_string("\\_SB.V0"),
              bytes({'\\', 0x2e, '_', 'S', 'B', '_', 'V', '0', '_', '_'}));
    EXPECT_EQ(aml::name_string("A.B.C"),
              bytes({0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_'}));
}

TEST(AmlNameStringDeathTest, RejectsMalformedSegments)
{
    EXPECT_DEATH(static_cast<void>(aml::name_string("0ABC")), "internal error");   // digit lead
    EXPECT_DEATH(static_cast<void>(aml::name_string("ABCDE")), "internal error");  // too long
    EXPECT_DEATH(static_cast<void>(aml::name_string("ab")), "internal error");     // lower case
    EXPECT_DEATH(static_cast<void>(aml::name_string("_SB..X")), "internal error"); // empty seg
}

TEST(AmlTerms, NameAndPackage)
{
    // Name(_S5, Package(){5, 0}): NumElements 2, contents 4 bytes, PkgLength 5.
    EXPECT_EQ(aml::name("_S5", aml::package({aml::integer(5), aml::integer(0)})),
              bytes({0x08, '_', 'S', '5', '_', 0x12, 0x05, 0x02, 0x0a, 0x05, 0x00}));
}

TEST(AmlTerms, BufferCarriesItsSize)
{
    const aml::Bytes data = bytes({0xaa, 0xbb});
    EXPECT_EQ(aml::buffer(data), bytes({0x11, 0x05, 0x0a, 0x02, 0xaa, 0xbb}));

    // 100 bytes of data: contents 102, a 2-byte PkgLength of 104 = 0x68.
    const aml::Bytes big(100, std::byte{0x5a});
    const aml::Bytes encoded = aml::buffer(big);
    ASSERT_EQ(encoded.size(), 105U);
    EXPECT_EQ(aml::Bytes(encoded.begin(), encoded.begin() + 5),
              bytes({0x11, 0x48, 0x06, 0x0a, 100}));
}

TEST(AmlTerms, ScopeAndDevice)
{
    const aml::Bytes uid = aml::name("_UID", aml::integer(0));  // 6 bytes
    EXPECT_EQ(aml::device("V000", {uid}),
              bytes({0x5b, 0x82, 0x0b, 'V', '0', '0', '0', 0x08, '_', 'U', 'I', 'D', 0x00}));
    EXPECT_EQ(aml::scope("\\_SB", {}), bytes({0x10, 0x06, '\\', '_', 'S', 'B', '_'}));
}

TEST(AmlResources, Memory32FixedAndExtendedInterrupt)
{
    EXPECT_EQ(aml::memory32_fixed(aml::Access::ReadWrite, 0xd0000000, 0x1000),
              bytes({0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00}));
    EXPECT_EQ(aml::memory32_fixed(aml::Access::ReadOnly, 0x1234, 0x10)[3], std::byte{0x00});
    EXPECT_EQ(aml::extended_interrupt(aml::Trigger::Edge, aml::Polarity::ActiveHigh,
                                      aml::Sharing::Exclusive, 5),
              bytes({0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00}));
    EXPECT_EQ(aml::extended_interrupt(aml::Trigger::Level, aml::Polarity::ActiveLow,
                                      aml::Sharing::Shared, 0x20)[3],
              std::byte{0x0d});
}

TEST(AmlResources, TemplateIsABufferEndingInAnEndTag)
{
    const aml::Bytes rt = aml::resource_template(
        {aml::memory32_fixed(aml::Access::ReadWrite, 0xd0000000, 0x1000),
         aml::extended_interrupt(aml::Trigger::Edge, aml::Polarity::ActiveHigh,
                                 aml::Sharing::Exclusive, 5)});
    // 12 + 9 + 2 = 23 bytes of descriptors, BufferSize 0x0a 0x17, PkgLength 26.
    EXPECT_EQ(rt, bytes({0x11, 0x1a, 0x0a, 0x17,
                         0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00,
                         0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00,
                         0x79, 0x00}));
}
