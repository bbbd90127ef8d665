// Security labels: secrecy and integrity, each a level plus a category set; dominance and the
// flow rule (DESIGN.md "Security policy").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "policy/lattice.hpp"

namespace moat::policy {

// One half of a label: an index into the lattice's levels (low to high) and a category set.
struct Part {
    std::uint32_t level = 0;
    CategorySet categories = 0;

    bool operator==(const Part&) const = default;
};

struct Label {
    Part secrecy;
    Part integrity;

    bool operator==(const Label&) const = default;
};

// a dominates b iff level(a) >= level(b) and cats(a) ⊇ cats(b).
constexpr bool dominates(const Part& a, const Part& b)
{
    return a.level >= b.level && (b.categories & ~a.categories) == 0;
}

// Information may flow from `from` to `to` iff secrecy(to) dominates secrecy(from)
// (Bell-LaPadula) and integrity(from) dominates integrity(to) (Biba).
constexpr bool may_flow(const Label& from, const Label& to)
{
    return dominates(to.secrecy, from.secrecy) && dominates(from.integrity, to.integrity);
}

// Parses `level` or `level:cat1,cat2` against the lattice. Rejects an unknown level or category
// (Errc::NotFound), and an empty level, an empty category or a repeated category
// (Errc::InvalidInput). The error's context is the offending name.
Result<Part> parse_part(const Lattice& lattice, Dimension d, std::string_view text);

// Parses a manifest entry's `label` (secrecy) and `integrity` strings.
Result<Label> parse_label(const Lattice& lattice, std::string_view secrecy, std::string_view integrity);

// The canonical text of a part: categories in declaration order, `:cats` omitted when empty.
// parse_part(format_part(p)) == p. Precondition: p is within the lattice (MOAT_CHECKed).
std::string format_part(const Lattice& lattice, Dimension d, const Part& p);

// For messages and the audit log: "secrecy/integrity", e.g. "secret:finance/untrusted".
std::string format_label(const Lattice& lattice, const Label& l);

// True iff every index and category of l is declared by the lattice.
bool within(const Lattice& lattice, const Label& l);

}  // namespace moat::policy
