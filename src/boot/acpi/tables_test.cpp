// Checks the ACPI table image against ACPI 6.5 §5.2 offsets, and its DSDT against iasl -d.
#include "boot/acpi/tables.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>

#include "boot/x86_64/layout.hpp"

namespace acpi = moat::boot::acpi;
namespace layout = moat::boot::layout;
using Span = std::span<const std::byte>;

namespace {

constexpr std::uint64_t k_base = layout::k_acpi_start;

acpi::Config two_devices(std::uint32_t vcpus)
{
    return {vcpus, {{0xd0000000, 0x1000, 5}, {0xd0001000, 0x1000, 6}}};
}

acpi::Tables build(const acpi::Config& config)
{
    auto t = acpi::build_tables(config, k_base, layout::k_acpi_end);
    EXPECT_TRUE(t.has_value());
    return t.has_value() ? std::move(t).value() : acpi::Tables{};
}

// Little-endian field of `size` bytes at `off`; a read past the end fails the test.
std::uint64_t le(Span b, std::size_t off, std::size_t size)
{
    if (off + size > b.size()) {
        ADD_FAILURE() << "read of " << size << " bytes at " << off << " beyond " << b.size();
        return 0;
    }
    std::uint64_t v = 0;
    for (std::size_t i = size; i-- > 0;) v = (v << 8) | std::to_integer<std::uint64_t>(b[off + i]);
    return v;
}

std::string text(Span b, std::size_t off, std::size_t size)
{
    if (off + size > b.size()) return {};
    std::string s;
    for (std::size_t i = 0; i < size; ++i) s.push_back(static_cast<char>(b[off + i]));
    return s;
}

unsigned byte_sum(Span b)
{
    unsigned sum = 0;
    for (std::byte x : b) sum += std::to_integer<unsigned>(x);
    return sum & 0xff;
}

// The table whose header is at guest address `addr`, as long as its header says.
Span table_at(const acpi::Tables& t, std::uint64_t addr)
{
    const Span all(t.bytes);
    if (addr < k_base || addr - k_base + 36 > all.size()) {
        ADD_FAILURE() << "table address " << addr << " outside the image";
        return {};
    }
    const std::size_t off = addr - k_base;
    const std::uint64_t length = le(all, off + 4, 4);
    if (off + length > all.size()) {
        ADD_FAILURE() << "table at " << addr << " runs past the image";
        return {};
    }
    return all.subspan(off, length);
}

Span fadt_of(const acpi::Tables& t)
{
    const Span xsdt = table_at(t, le(t.bytes, 24, 8));
    return table_at(t, le(xsdt, 36, 8));
}

Span madt_of(const acpi::Tables& t)
{
    const Span xsdt = table_at(t, le(t.bytes, 24, 8));
    return table_at(t, le(xsdt, 44, 8));
}

Span dsdt_of(const acpi::Tables& t)
{
    return table_at(t, le(fadt_of(t), 140, 8));
}

}  // namespace

TEST(AcpiRsdp, IsFirstWithBothChecksums)
{
    const acpi::Tables t = build(two_devices(2));
    const Span b(t.bytes);
    EXPECT_EQ(t.rsdp_addr, k_base);
    EXPECT_EQ(text(b, 0, 8), "RSD PTR ");
    EXPECT_EQ(byte_sum(b.first(20)), 0U);
    EXPECT_EQ(byte_sum(b.first(36)), 0U);
    EXPECT_EQ(text(b, 9, 6), "MOAT  ");
    EXPECT_EQ(le(b, 15, 1), 2U);   // revision
    EXPECT_EQ(le(b, 16, 4), 0U);   // no RSDT
    EXPECT_EQ(le(b, 20, 4), 36U);  // length
    EXPECT_EQ(text(table_at(t, le(b, 24, 8)), 0, 4), "XSDT");
}

TEST(AcpiTables, EveryTableIsAlignedChecksummedAndFromMoat)
{
    const acpi::Tables t = build(two_devices(4));
    const std::uint64_t xsdt = le(t.bytes, 24, 8);
    ASSERT_EQ(table_at(t, xsdt).size(), 36U + 2 * 8);
    const std::uint64_t fadt = le(table_at(t, xsdt), 36, 8);
    const std::uint64_t madt = le(table_at(t, xsdt), 44, 8);
    const std::uint64_t dsdt = le(table_at(t, fadt), 140, 8);
    std::uint64_t end = 0;
    for (auto [addr, signature] : {std::pair{xsdt, "XSDT"}, std::pair{fadt, "FACP"},
                                   std::pair{madt, "APIC"}, std::pair{dsdt, "DSDT"}}) {
        SCOPED_TRACE(signature);
        const Span table = table_at(t, addr);
        ASSERT_GE(table.size(), 36U);
        EXPECT_EQ(text(table, 0, 4), signature);
        EXPECT_EQ(byte_sum(table), 0U);
        EXPECT_EQ(text(table, 10, 6), "MOAT  ");
        EXPECT_EQ(addr % 8, 0U);
        end = std::max(end, addr - k_base + table.size());
    }
    EXPECT_EQ(end, t.bytes.size());  // nothing trails the last table
}

TEST(AcpiFadt, IsHardwareReducedWithSleepRegisters)
{
    const acpi::Tables t = build(two_devices(1));
    const Span f = fadt_of(t);
    ASSERT_EQ(f.size(), 276U);
    EXPECT_EQ(le(f, 8, 1), 6U);                   // revision
    EXPECT_EQ(le(f, 112, 4), 1U << 20);           // Flags: HW_REDUCED_ACPI only
    EXPECT_EQ(le(f, 109, 2), 0x2cU);              // no 8042 (no probe), no VGA, no MSI, no CMOS RTC
    EXPECT_EQ(le(f, 40, 4), 0U);                  // DSDT: X_DSDT is used instead
    EXPECT_EQ(text(dsdt_of(t), 0, 4), "DSDT");    // X_DSDT at 140
    // SLEEP_CONTROL_REG at 244 and SLEEP_STATUS_REG at 256: System I/O, 8 bits, byte access.
    for (auto [off, port] : {std::pair{244U, layout::k_acpi_sleep_control},
                             std::pair{256U, layout::k_acpi_sleep_status}}) {
        EXPECT_EQ(le(f, off, 1), 1U);
        EXPECT_EQ(le(f, off + 1, 1), 8U);
        EXPECT_EQ(le(f, off + 2, 1), 0U);
        EXPECT_EQ(le(f, off + 3, 1), 1U);
        EXPECT_EQ(le(f, off + 4, 8), port);
    }
    EXPECT_EQ(text(f, 268, 4), "MOAT");  // hypervisor vendor identity
}

TEST(AcpiMadt, ListsEveryCpuTheIoApicAndTheOverrides)
{
    for (std::uint32_t vcpus : {1U, 4U, 255U}) {
        SCOPED_TRACE(vcpus);
        const acpi::Tables t = build(two_devices(vcpus));
        const Span m = madt_of(t);
        ASSERT_GE(m.size(), 44U);
        EXPECT_EQ(le(m, 36, 4), layout::k_lapic);

        std::uint32_t cpus = 0, ioapics = 0, overrides = 0, nmis = 0;
        std::size_t off = 44;
        while (off + 2 <= m.size()) {
            const auto type = le(m, off, 1), length = le(m, off + 1, 1);
            ASSERT_GE(length, 2U);
            if (type == 0) {  // Processor Local APIC: UID, APIC id, Enabled
                EXPECT_EQ(length, 8U);
                EXPECT_EQ(le(m, off + 2, 1), cpus);
                EXPECT_EQ(le(m, off + 3, 1), cpus);
                EXPECT_EQ(le(m, off + 4, 4), 1U);
                ++cpus;
            } else if (type == 1) {  // I/O APIC
                EXPECT_EQ(length, 12U);
                EXPECT_EQ(le(m, off + 2, 1), 0U);
                EXPECT_EQ(le(m, off + 4, 4), layout::k_ioapic);
                EXPECT_EQ(le(m, off + 8, 4), 0U);
                ++ioapics;
            } else if (type == 2) {  // Interrupt Source Override: ISA IRQ0 -> GSI 2
                EXPECT_EQ(length, 10U);
                EXPECT_EQ(le(m, off + 2, 1), 0U);
                EXPECT_EQ(le(m, off + 3, 1), 0U);
                EXPECT_EQ(le(m, off + 4, 4), 2U);
                ++overrides;
            } else if (type == 4) {  // Local APIC NMI: all processors, LINT1
                EXPECT_EQ(length, 6U);
                EXPECT_EQ(le(m, off + 2, 1), 0xffU);
                EXPECT_EQ(le(m, off + 5, 1), 1U);
                ++nmis;
            } else {
                ADD_FAILURE() << "unexpected MADT entry type " << type;
            }
            off += length;
        }
        EXPECT_EQ(off, m.size());  // entries exactly fill the table
        EXPECT_EQ(cpus, vcpus);
        EXPECT_EQ(ioapics, 1U);
        EXPECT_EQ(overrides, 1U);
        EXPECT_EQ(nmis, 1U);
    }
}

TEST(AcpiDsdt, HoldsOneDevicePerSlot)
{
    const acpi::Tables t = build(two_devices(1));
    const Span d = dsdt_of(t);
    const std::string aml = text(d, 36, d.size() - 36);
    EXPECT_EQ(le(d, 8, 1), 2U);  // revision 2: 64-bit integers
    EXPECT_NE(aml.find("V000"), std::string::npos);
    EXPECT_NE(aml.find("V001"), std::string::npos);
    EXPECT_EQ(aml.find("V002"), std::string::npos);
    EXPECT_NE(aml.find("_S5_"), std::string::npos);
}

TEST(AcpiTables, FitTheLegacyRegionAtTheirLargest)
{
    acpi::Config config{255, {}};
    for (std::uint32_t n = 0; n < layout::k_virtio_max_devices; ++n)
        config.virtio.push_back({layout::k_virtio_mmio_base + n * layout::k_virtio_mmio_size,
                                 static_cast<std::uint32_t>(layout::k_virtio_mmio_size),
                                 layout::k_virtio_irq_base + n});
    const auto t = acpi::build_tables(config, layout::k_acpi_start, layout::k_acpi_end);
    ASSERT_TRUE(t.has_value());
    EXPECT_LE(t->bytes.size(), layout::k_acpi_end - layout::k_acpi_start);
}

TEST(AcpiTables, RejectsBadConfigurations)
{
    const auto code = [](const acpi::Config& c, std::uint64_t base, std::uint64_t limit) {
        const auto t = acpi::build_tables(c, base, limit);
        EXPECT_FALSE(t.has_value());
        return t.has_value() ? moat::Errc::Io : t.error().code;
    };
    EXPECT_EQ(code(two_devices(0), k_base, layout::k_acpi_end), moat::Errc::InvalidInput);
    EXPECT_EQ(code(two_devices(256), k_base, layout::k_acpi_end), moat::Errc::InvalidInput);
    EXPECT_EQ(code(two_devices(1), k_base + 8, layout::k_acpi_end), moat::Errc::InvalidInput);
    EXPECT_EQ(code({1, {{0xfffff000, 0x2000, 5}}}, k_base, layout::k_acpi_end),
              moat::Errc::InvalidInput);  // crosses 4 GiB
    EXPECT_EQ(code({1, {{0x100000000, 0x1000, 5}}}, k_base, layout::k_acpi_end),
              moat::Errc::InvalidInput);
    EXPECT_EQ(code({1, std::vector<acpi::VirtioMmioSlot>(4097, {0xd0000000, 0x1000, 5})}, k_base,
                   ~std::uint64_t{0}),
              moat::Errc::InvalidInput);
}

TEST(AcpiTables, FailsWhenTheLimitIsTooSmall)
{
    const auto fits = acpi::build_tables(two_devices(2), k_base, layout::k_acpi_end);
    ASSERT_TRUE(fits.has_value());
    const std::uint64_t size = fits->bytes.size();

    // Exactly enough room succeeds; one byte less, a limit below base, or wrap-around fail.
    EXPECT_TRUE(acpi::build_tables(two_devices(2), k_base, k_base + size).has_value());
    for (auto [base, limit] : {std::pair{k_base, k_base + size - 1}, std::pair{k_base, k_base},
                               std::pair{k_base, k_base - 16},
                               std::pair{~std::uint64_t{0xf}, ~std::uint64_t{0}}}) {
        const auto t = acpi::build_tables(two_devices(2), base, limit);
        ASSERT_FALSE(t.has_value());
        EXPECT_EQ(t.error().code, moat::Errc::NoSpace);
    }
}

// Disassembles tables with Debian's iasl, an independent AML and table decoder.
class AcpiIasl : public testing::Test {
protected:
    void SetUp() override
    {
        if (std::system("command -v iasl >/dev/null 2>&1") == 0) return;
        const char* ci = std::getenv("CI");
        if (ci != nullptr && std::string(ci) == "true")
            GTEST_FAIL() << "iasl not found; install acpica-tools (required when CI=true)";
        GTEST_SKIP() << "iasl not found; install acpica-tools to run this test";
    }

    // Writes `table` to a scratch directory, runs `iasl -d` on it and returns the .dsl text.
    static std::string disassemble(Span table)
    {
        std::string dir = (std::filesystem::temp_directory_path() / "moat-acpi-XXXXXX").string();
        if (mkdtemp(dir.data()) == nullptr) {
            ADD_FAILURE() << "mkdtemp failed";
            return {};
        }
        {
            std::ofstream out(dir + "/table.dat", std::ios::binary);
            const std::string raw = text(table, 0, table.size());
            out.write(raw.data(), static_cast<std::streamsize>(raw.size()));
        }
        const std::string cmd = "cd '" + dir + "' && iasl -d table.dat >iasl.log 2>&1";
        EXPECT_EQ(std::system(cmd.c_str()), 0) << "iasl -d failed, see " << dir << "/iasl.log";
        std::ifstream in(dir + "/table.dsl");
        std::string dsl((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::filesystem::remove_all(dir);
        EXPECT_EQ(dsl.find("Incorrect"), std::string::npos) << "iasl reports a bad checksum";
        return dsl;
    }
};

TEST_F(AcpiIasl, DecodesTheDsdt)
{
    const acpi::Tables t = build(two_devices(2));
    const std::string dsl = disassemble(dsdt_of(t));
    ASSERT_FALSE(dsl.empty());
    for (const char* needle :
         {"Scope (\\_SB)", "Device (V000)", "Device (V001)", "\"LNRO0005\"", "Name (_UID, Zero)",
          "Name (_UID, One)", "Memory32Fixed (ReadWrite,", "0xD0000000", "0xD0001000",
          "0x00001000", "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )",
          "0x00000005,", "0x00000006,", "Name (_S5, Package (0x04)", "0x05,",
          // COM1: its IRQ reaches a hardware-reduced guest only through this _CRS.
          "Device (COM1)", "\"PNP0501\"", "IO (Decode16,", "0x03F8,", "0x00000004,"})
        EXPECT_NE(dsl.find(needle), std::string::npos) << "missing " << needle << " in\n" << dsl;
}

// An OCI container's VM: COM2 to COM4 too, each with its own interrupt; no more than three.
TEST_F(AcpiIasl, DecodesAContainersUarts)
{
    acpi::Config c = two_devices(1);
    c.uarts = {{0x2f8, 3}, {0x3e8, 22}, {0x2e8, 23}};
    const std::string dsl = disassemble(dsdt_of(build(c)));
    for (const char* needle : {"Device (COM1)", "Device (COM2)", "Device (COM3)", "Device (COM4)", "0x02F8,",
                               "0x03E8,", "0x02E8,", "0x00000003,", "0x00000016,", "0x00000017,",
                               "Name (_UID, 0x03)"})
        EXPECT_NE(dsl.find(needle), std::string::npos) << "missing " << needle << " in\n" << dsl;
    c.uarts.push_back({0x2f8, 3});
    EXPECT_FALSE(acpi::build_tables(c, k_base, layout::k_acpi_end).has_value());
}

TEST_F(AcpiIasl, DecodesTheFadtAndMadt)
{
    const acpi::Tables t = build(two_devices(2));
    const std::string fadt = disassemble(fadt_of(t));
    for (const char* needle :
         {"Hardware Reduced (V5) : 1", "8042 Present on ports 60/64 (V2) : 0",
          "CMOS RTC Not Present (V5) : 1", "Hypervisor ID : 0000000054414F4D",
          "Sleep Control Register", "Address : 0000000000000600", "Address : 0000000000000601"})
        EXPECT_NE(fadt.find(needle), std::string::npos) << "missing " << needle << " in\n" << fadt;
    const std::string madt = disassemble(madt_of(t));
    for (const char* needle : {"Local Apic ID : 01", "Address : FEC00000",
                               "Interrupt : 00000002", "Interrupt Input LINT : 01"})
        EXPECT_NE(madt.find(needle), std::string::npos) << "missing " << needle << " in\n" << madt;
}
