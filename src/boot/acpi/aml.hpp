// A small AML encoder: only the terms moat's DSDT needs (ACPI 6.5 §20 AML, §6.4 resources).
//
// Each function returns the encoded term by value; terms compose by nesting, e.g.
//   device("V000", {name("_HID", string("LNRO0005")), name("_UID", integer(0))})
// Inputs come from moat's own code, never from the guest: a malformed name, a string with a
// non-ASCII or NUL character, more than 255 package elements or a term longer than 2^28 bytes
// is a broken invariant (MOAT_CHECK), not an error to return. Stateless and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace moat::boot::acpi::aml {

using Bytes = std::vector<std::byte>;

// §20.2.4 PkgLength for a term whose contents after the PkgLength are `content_len` bytes.
// The encoded value counts the PkgLength bytes themselves; 1 to 4 bytes, the shortest that fits.
Bytes pkg_length(std::size_t content_len);

// §20.2.2 NameString: an optional root '\', then segments joined by '.'. Segments shorter than
// four characters are padded with '_' ("_SB" -> "_SB_"); "\" alone is the root (NullName).
Bytes name_string(std::string_view path);

// §20.2.3 ComputationalData: the shortest of ZeroOp, OneOp, OnesOp, Byte/Word/DWord/QWordConst.
Bytes integer(std::uint64_t value);
// §20.2.3 String: StringPrefix, ASCII characters 0x01..0x7f, NullChar.
Bytes string(std::string_view ascii);

// §20.2.5.4 DefPackage: PackageOp PkgLength NumElements PackageElementList.
Bytes package(const std::vector<Bytes>& elements);
// §20.2.5.4 DefBuffer: BufferOp PkgLength BufferSize ByteList.
Bytes buffer(std::span<const std::byte> data);

// §20.2.5.1 DefName: NameOp NameString DataRefObject.
Bytes name(std::string_view path, const Bytes& object);
// §20.2.5.1 DefScope: ScopeOp PkgLength NameString TermList.
Bytes scope(std::string_view path, const std::vector<Bytes>& terms);
// §20.2.5.2 DefDevice: ExtOpPrefix DeviceOp PkgLength NameString TermList.
Bytes device(std::string_view path, const std::vector<Bytes>& terms);

// §6.4.3.4 32-Bit Fixed Memory Range Descriptor.
enum class Access : std::uint8_t { ReadOnly, ReadWrite };
Bytes memory32_fixed(Access access, std::uint32_t base, std::uint32_t length);
// §6.4.2.5 I/O Port Descriptor with 16-bit decode, a fixed base (minimum = maximum).
Bytes io_port(std::uint16_t base, std::uint8_t length);

// §6.4.3.6 Extended Interrupt Descriptor for one interrupt, as a ResourceConsumer.
enum class Trigger : std::uint8_t { Level, Edge };
enum class Polarity : std::uint8_t { ActiveHigh, ActiveLow };
enum class Sharing : std::uint8_t { Exclusive, Shared };
Bytes extended_interrupt(Trigger trigger, Polarity polarity, Sharing sharing, std::uint32_t gsi);

// ASL ResourceTemplate(): a Buffer of the descriptors followed by an End Tag (§6.4.2.9) whose
// checksum byte is 0, which means "treat as correct".
Bytes resource_template(const std::vector<Bytes>& descriptors);

}  // namespace moat::boot::acpi::aml
