// Builds the guest's ACPI tables (ACPI 6.5 §5.2) as one contiguous, checksummed byte image.
#include "boot/acpi/tables.hpp"

#include "base/le.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "boot/acpi/aml.hpp"
#include "boot/x86_64/layout.hpp"

namespace moat::boot::acpi {

namespace {

using Bytes = std::vector<std::byte>;

// ACPI puts 64-bit values at 4-byte offsets (XSDT entries, X_DSDT, GAS addresses): its
// tables use the unaligned little-endian types.
using U16 = ULe16;
using U32 = ULe32;
using U64 = ULe64;

template <std::size_t N>
constexpr std::array<char, N - 1> text(const char (&s)[N])
{
    std::array<char, N - 1> out{};
    for (std::size_t i = 0; i + 1 < N; ++i) out[i] = s[i];
    return out;
}

// §5.2.5.3 Root System Description Pointer, revision 2.
struct Rsdp {
    std::array<char, 8> signature;        // 0: "RSD PTR "
    std::uint8_t checksum;                // 8: over bytes 0..19
    std::array<char, 6> oem_id;           // 9
    std::uint8_t revision;                // 15
    U32 rsdt_address;                     // 16
    U32 length;                           // 20
    U64 xsdt_address;                     // 24
    std::uint8_t extended_checksum;       // 32: over the whole structure
    std::array<std::uint8_t, 3> reserved; // 33
};
static_assert(sizeof(Rsdp) == 36 && std::is_standard_layout_v<Rsdp>);

// §5.2.6 System Description Table Header.
struct SdtHeader {
    std::array<char, 4> signature;     // 0
    U32 length;                        // 4
    std::uint8_t revision;             // 8
    std::uint8_t checksum;             // 9: the whole table sums to 0
    std::array<char, 6> oem_id;        // 10
    std::array<char, 8> oem_table_id;  // 16
    U32 oem_revision;                  // 24
    std::array<char, 4> creator_id;    // 28
    U32 creator_revision;              // 32
};
static_assert(sizeof(SdtHeader) == 36 && std::is_standard_layout_v<SdtHeader>);

// §5.2.8 Extended System Description Table, with moat's two entries.
struct Xsdt {
    SdtHeader header;          // 0
    std::array<U64, 2> entry;  // 36: FADT, MADT
};
static_assert(sizeof(Xsdt) == 52 && std::is_standard_layout_v<Xsdt>);

// §5.2.3.2 Generic Address Structure.
struct Gas {
    std::uint8_t address_space_id;     // 0: 1 = System I/O
    std::uint8_t register_bit_width;   // 1
    std::uint8_t register_bit_offset;  // 2
    std::uint8_t access_size;          // 3: 1 = byte
    U64 address;                       // 4
};
static_assert(sizeof(Gas) == 12 && std::is_standard_layout_v<Gas>);

// §5.2.9 Fixed ACPI Description Table, revision 6 (Table 5.9). Fields of the fixed hardware
// that a hardware-reduced platform lacks (§4.1) are grouped and left zero.
struct Fadt {
    SdtHeader header;                                 // 0
    U32 firmware_ctrl;                                // 36
    U32 dsdt;                                         // 40
    std::uint8_t reserved0;                           // 44
    std::uint8_t preferred_pm_profile;                // 45
    U16 sci_int;                                      // 46
    U32 smi_cmd;                                      // 48
    std::array<std::uint8_t, 4> acpi_enable_to_pstate_cnt;  // 52: ACPI_ENABLE .. PSTATE_CNT
    std::array<std::uint8_t, 53> pm1a_evt_blk_to_century;   // 56: PM1a_EVT_BLK .. CENTURY
    U16 iapc_boot_arch;                               // 109
    std::uint8_t reserved1;                           // 111
    U32 flags;                                        // 112
    Gas reset_reg;                                    // 116
    std::uint8_t reset_value;                         // 128
    U16 arm_boot_arch;                                // 129
    std::uint8_t fadt_minor_version;                  // 131
    U64 x_firmware_ctrl;                              // 132
    U64 x_dsdt;                                       // 140
    std::array<Gas, 8> x_pm1a_evt_blk_to_x_gpe1_blk;  // 148
    Gas sleep_control_reg;                            // 244
    Gas sleep_status_reg;                             // 256
    std::array<char, 8> hypervisor_vendor_identity;   // 268
};
static_assert(sizeof(Fadt) == 276 && std::is_standard_layout_v<Fadt>);
static_assert(offsetof(Fadt, iapc_boot_arch) == 109 && offsetof(Fadt, flags) == 112);
static_assert(offsetof(Fadt, x_dsdt) == 140 && offsetof(Fadt, sleep_control_reg) == 244);

// §5.2.12 Multiple APIC Description Table: the fixed part, then interrupt controller entries.
struct Madt {
    SdtHeader header;                         // 0
    U32 local_interrupt_controller_address;  // 36
    U32 flags;                                // 40
};
static_assert(sizeof(Madt) == 44 && std::is_standard_layout_v<Madt>);

// §5.2.12.2 Processor Local APIC Structure.
struct MadtLocalApic {
    std::uint8_t type;                // 0: 0
    std::uint8_t length;              // 1: 8
    std::uint8_t acpi_processor_uid;  // 2
    std::uint8_t apic_id;             // 3
    U32 flags;                        // 4: bit 0 Enabled
};
static_assert(sizeof(MadtLocalApic) == 8 && std::is_standard_layout_v<MadtLocalApic>);

// §5.2.12.3 I/O APIC Structure.
struct MadtIoApic {
    std::uint8_t type;                 // 0: 1
    std::uint8_t length;               // 1: 12
    std::uint8_t io_apic_id;           // 2
    std::uint8_t reserved;             // 3
    U32 io_apic_address;               // 4
    U32 global_system_interrupt_base;  // 8
};
static_assert(sizeof(MadtIoApic) == 12 && std::is_standard_layout_v<MadtIoApic>);

// §5.2.12.5 Interrupt Source Override Structure.
struct MadtInterruptSourceOverride {
    std::uint8_t type;            // 0: 2
    std::uint8_t length;          // 1: 10
    std::uint8_t bus;             // 2: 0 = ISA
    std::uint8_t source;          // 3: ISA IRQ
    U32 global_system_interrupt;  // 4
    U16 flags;                    // 8: MPS INTI flags; 0 = conforms to the bus
};
static_assert(sizeof(MadtInterruptSourceOverride) == 10 &&
              std::is_standard_layout_v<MadtInterruptSourceOverride>);

// §5.2.12.7 Local APIC NMI Structure.
struct MadtLocalApicNmi {
    std::uint8_t type;                // 0: 4
    std::uint8_t length;              // 1: 6
    std::uint8_t acpi_processor_uid;  // 2: 0xff = all processors
    U16 flags;                        // 3: MPS INTI flags
    std::uint8_t local_apic_lint;     // 5
};
static_assert(sizeof(MadtLocalApicNmi) == 6 && std::is_standard_layout_v<MadtLocalApicNmi>);

constexpr auto k_oem_id = text("MOAT  ");
constexpr std::uint32_t k_max_vcpus = 255;            // xAPIC ids are 8 bits; 0xff broadcasts
constexpr std::size_t k_max_virtio = 0x1000;          // device names V000..VFFF
constexpr std::uint32_t k_fadt_hw_reduced_acpi = 1U << 20;  // Table 5.10
// Table 5.11: VGA not present, MSI not supported, CMOS RTC not present. The 8042 flag stays
// clear: Linux then skips its i8042 probe (which would wait for a keyboard that is not there);
// reboot=k still reaches the controller's reset line.
constexpr std::uint16_t k_iapc_boot_arch = (1U << 2) | (1U << 3) | (1U << 5);
constexpr std::uint32_t k_madt_pcat_compat = 1;       // KVM's in-kernel irqchip has 8259s
constexpr std::uint8_t k_gas_system_io = 1;
constexpr std::uint8_t k_gas_byte_access = 1;

template <typename T>
void append(Bytes& out, const T& value)
{
    static_assert(std::is_trivially_copyable_v<T>);
    const auto raw = std::bit_cast<std::array<std::byte, sizeof(T)>>(value);
    out.insert(out.end(), raw.begin(), raw.end());
}

// The byte that makes `bytes` sum to zero modulo 256, given that it is currently 0.
std::uint8_t checksum(std::span<const std::byte> bytes)
{
    unsigned sum = 0;
    for (std::byte b : bytes) sum += std::to_integer<unsigned>(b);
    return static_cast<std::uint8_t>((0x100 - (sum & 0xff)) & 0xff);
}

SdtHeader header(std::string_view signature, std::uint8_t revision)
{
    SdtHeader h{};
    for (std::size_t i = 0; i < 4; ++i) h.signature[i] = signature[i];
    h.revision = revision;
    h.oem_id = k_oem_id;
    h.oem_table_id = text("MOAT    ");
    for (std::size_t i = 0; i < 4; ++i) h.oem_table_id[4 + i] = signature[i];  // "MOATFACP"
    h.oem_revision = U32::from(1);
    h.creator_id = text("MOAT");
    h.creator_revision = U32::from(1);
    return h;
}

// Fills in the header's length and checksum once the table is complete.
Bytes seal(Bytes table)
{
    const U32 length = U32::from(static_cast<std::uint32_t>(table.size()));
    for (std::size_t i = 0; i < 4; ++i)
        table[offsetof(SdtHeader, length) + i] = std::byte{length.bytes[i]};
    table[offsetof(SdtHeader, checksum)] = std::byte{checksum(table)};
    return table;
}

Gas system_io_byte(std::uint16_t port)
{
    return Gas{k_gas_system_io, 8, 0, k_gas_byte_access, U64::from(port)};
}

Bytes build_fadt(std::uint64_t dsdt_addr)
{
    Fadt f{};
    f.header = header("FACP", 6);
    f.iapc_boot_arch = U16::from(k_iapc_boot_arch);
    f.flags = U32::from(k_fadt_hw_reduced_acpi);
    f.fadt_minor_version = 5;                  // ACPI 6.5
    f.x_dsdt = U64::from(dsdt_addr);           // the 32-bit DSDT field stays 0
    // §16: hardware-reduced OSPM writes SLP_TYP (from \_S5) and SLP_EN here to power off.
    f.sleep_control_reg = system_io_byte(layout::k_acpi_sleep_control);
    f.sleep_status_reg = system_io_byte(layout::k_acpi_sleep_status);
    f.hypervisor_vendor_identity = text("MOAT\0\0\0\0");
    Bytes out;
    append(out, f);
    return seal(std::move(out));
}

Bytes build_madt(std::uint32_t vcpus)
{
    Bytes out;
    append(out, Madt{header("APIC", 6), U32::from(static_cast<std::uint32_t>(layout::k_lapic)),
                     U32::from(k_madt_pcat_compat)});
    for (std::uint32_t i = 0; i < vcpus; ++i) {
        const auto id = static_cast<std::uint8_t>(i);
        append(out, MadtLocalApic{0, sizeof(MadtLocalApic), id, id, U32::from(1)});
    }
    append(out, MadtIoApic{1, sizeof(MadtIoApic), 0, 0,
                           U32::from(static_cast<std::uint32_t>(layout::k_ioapic)), U32::from(0)});
    // The PIT's IRQ0 arrives on IOAPIC pin 2, as on PC hardware.
    append(out, MadtInterruptSourceOverride{2, sizeof(MadtInterruptSourceOverride), 0, 0,
                                            U32::from(2), U16::from(0)});
    append(out, MadtLocalApicNmi{4, sizeof(MadtLocalApicNmi), 0xff, U16::from(0), 1});
    return seal(std::move(out));
}

std::string device_name(std::size_t n)
{
    constexpr std::string_view k_hex = "0123456789ABCDEF";
    return {'V', k_hex[(n >> 8) & 0xf], k_hex[(n >> 4) & 0xf], k_hex[n & 0xf]};
}

// A UART. In hardware-reduced mode Linux has no legacy PIC and so no ISA IRQ mapping: its
// interrupt exists for the guest only through this _CRS.
aml::Bytes uart(const char* name, std::uint32_t uid, std::uint16_t port, std::uint32_t gsi)
{
    return aml::device(
        name, {aml::name("_HID", aml::string("PNP0501")),  // 16550A-compatible UART
               aml::name("_UID", aml::integer(uid)),
               aml::name("_CRS", aml::resource_template(
                                     {aml::io_port(port, 8),
                                      aml::extended_interrupt(aml::Trigger::Edge, aml::Polarity::ActiveHigh,
                                                              aml::Sharing::Exclusive, gsi)}))});
}

Bytes build_dsdt(const std::vector<VirtioMmioSlot>& slots, const std::vector<UartSlot>& uarts)
{
    std::vector<aml::Bytes> devices;
    devices.push_back(uart("COM1", 0, layout::k_com1, layout::k_com1_irq));
    static const char* const k_names[] = {"COM2", "COM3", "COM4"};
    for (std::size_t n = 0; n < uarts.size() && n < 3; ++n)
        devices.push_back(uart(k_names[n], static_cast<std::uint32_t>(n + 1), uarts[n].port, uarts[n].gsi));
    for (std::size_t n = 0; n < slots.size(); ++n) {
        const VirtioMmioSlot& s = slots[n];
        devices.push_back(aml::device(
            device_name(n),
            {aml::name("_HID", aml::string("LNRO0005")),  // Linux's virtio_mmio ACPI id
             aml::name("_UID", aml::integer(n)),
             aml::name("_CRS", aml::resource_template(
                                   {aml::memory32_fixed(aml::Access::ReadWrite,
                                                        static_cast<std::uint32_t>(s.base), s.size),
                                    aml::extended_interrupt(aml::Trigger::Edge,
                                                            aml::Polarity::ActiveHigh,
                                                            aml::Sharing::Exclusive, s.gsi)}))}));
    }
    // §7.4.2: \_S5 gives SLP_TYPa (and an unused SLP_TYPb and two reserved values).
    const aml::Bytes s5 = aml::name(
        "_S5", aml::package({aml::integer(layout::k_s5_sleep_type), aml::integer(0),
                             aml::integer(0), aml::integer(0)}));

    Bytes out;
    append(out, header("DSDT", 2));  // revision 2: 64-bit AML integers
    const aml::Bytes sb = aml::scope("\\_SB", devices);
    out.insert(out.end(), sb.begin(), sb.end());
    out.insert(out.end(), s5.begin(), s5.end());
    return seal(std::move(out));
}

Bytes build_xsdt(std::uint64_t fadt_addr, std::uint64_t madt_addr)
{
    Bytes out;
    append(out, Xsdt{header("XSDT", 1), {U64::from(fadt_addr), U64::from(madt_addr)}});
    return seal(std::move(out));
}

Bytes build_rsdp(std::uint64_t xsdt_addr)
{
    Rsdp r{};
    r.signature = text("RSD PTR ");
    r.oem_id = k_oem_id;
    r.revision = 2;
    r.length = U32::from(sizeof(Rsdp));
    r.xsdt_address = U64::from(xsdt_addr);
    Bytes out;
    append(out, r);
    out[offsetof(Rsdp, checksum)] = std::byte{checksum(std::span(out).first(20))};
    out[offsetof(Rsdp, extended_checksum)] = std::byte{checksum(out)};
    return out;
}

Result<void> validate(const Config& config, std::uint64_t base)
{
    if (config.vcpus == 0 || config.vcpus > k_max_vcpus)
        return fail(Errc::InvalidInput, "ACPI: vCPU count must be 1..255");
    if (base % 16 != 0) return fail(Errc::InvalidInput, "ACPI: RSDP must be 16-byte aligned");
    if (config.virtio.size() > k_max_virtio)
        return fail(Errc::InvalidInput, "ACPI: too many virtio-mmio devices");
    for (const VirtioMmioSlot& s : config.virtio) {
        if (s.base > 0xffff'ffff || s.size > 0x1'0000'0000 - s.base)
            return fail(Errc::InvalidInput, "ACPI: virtio-mmio window above 4 GiB");
    }
    return {};
}

}  // namespace

Result<Tables> build_tables(const Config& config, std::uint64_t base, std::uint64_t limit)
{
    MOAT_TRY(validate(config, base));

    // Order in memory: RSDP, XSDT, FADT, MADT, DSDT. The last two vary in size and hold no
    // pointers, so they are built first and the others then point at their final addresses.
    const Bytes madt = build_madt(config.vcpus);
    if (config.uarts.size() > 3) return fail(Errc::InvalidInput, "ACPI: more than 3 UARTs besides COM1");
    const Bytes dsdt = build_dsdt(config.virtio, config.uarts);
    const std::array<std::size_t, 5> sizes{sizeof(Rsdp), sizeof(Xsdt), sizeof(Fadt), madt.size(),
                                           dsdt.size()};
    std::array<std::size_t, 5> offset{};
    for (std::size_t i = 1; i < sizes.size(); ++i)
        offset[i] = (offset[i - 1] + sizes[i - 1] + 7) & ~std::size_t{7};
    const std::size_t total = offset[4] + sizes[4];
    if (limit < base || limit - base < total)
        return fail(Errc::NoSpace, "ACPI: tables do not fit below the limit");

    const std::array<Bytes, 5> tables{build_rsdp(base + offset[1]),
                                      build_xsdt(base + offset[2], base + offset[3]),
                                      build_fadt(base + offset[4]), madt, dsdt};
    Tables out{Bytes(total), base};
    for (std::size_t i = 0; i < tables.size(); ++i) {
        MOAT_CHECK(tables[i].size() == sizes[i]);
        std::copy(tables[i].begin(), tables[i].end(),
                  out.bytes.begin() + static_cast<std::ptrdiff_t>(offset[i]));
    }
    return out;
}

}  // namespace moat::boot::acpi
