// The security lattice declared by the manifest: ordered secrecy levels, categories, ordered
// integrity levels (DESIGN.md "Security policy", "Manifest" [lattice]).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace moat::policy {

// Bit i set means category i of the lattice is in the set; hence at most 64 categories.
using CategorySet = std::uint64_t;

inline constexpr std::size_t k_max_categories = 64;
inline constexpr std::size_t k_max_levels = 256;

// Which half of a label. Both halves share the lattice's one category list.
enum class Dimension : std::uint8_t { Secrecy, Integrity };

// An immutable, validated lattice. A value type: copy it freely; thread-safe to read.
class Lattice final {
public:
    // Levels are listed low to high. Every list's names are non-empty, unique within the list,
    // and free of ':' ',' '/' and whitespace (the label syntax's separators). Both level lists
    // are non-empty; categories may be empty but number at most k_max_categories. On failure,
    // the error's context is the offending name (or the list's name for a list error).
    static Result<Lattice> create(std::vector<std::string> levels, std::vector<std::string> categories,
                                  std::vector<std::string> integrity_levels);

    std::span<const std::string> levels(Dimension d) const
    {
        return d == Dimension::Secrecy ? m_levels : m_integrity;
    }
    std::span<const std::string> categories() const { return m_categories; }
    // The mask of every declared category.
    CategorySet all_categories() const;

    // Index of a name, low to high; nullopt if undeclared.
    std::optional<std::uint32_t> find_level(Dimension d, std::string_view name) const;
    std::optional<std::uint32_t> find_category(std::string_view name) const;

private:
    Lattice() = default;

    std::vector<std::string> m_levels;
    std::vector<std::string> m_categories;
    std::vector<std::string> m_integrity;
};

}  // namespace moat::policy
