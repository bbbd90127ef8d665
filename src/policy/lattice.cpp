// Validation and lookup for the manifest's lattice.
#include "policy/lattice.hpp"

#include <algorithm>

namespace moat::policy {

namespace {

bool valid_name(std::string_view name)
{
    if (name.empty()) return false;
    return std::none_of(name.begin(), name.end(), [](char c) {
        return c == ':' || c == ',' || c == '/' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
               c == '\v' || c == '\f';
    });
}

// Checks one list; on failure names the bad entry. Lists are small (<= 256), so quadratic is fine.
Result<void> check_list(const std::vector<std::string>& names)
{
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (!valid_name(names[i]))
            return fail(Error{Errc::InvalidInput, 0, "lattice name is empty or contains ':' ',' '/' or whitespace", names[i]});
        for (std::size_t j = 0; j < i; ++j) {
            if (names[j] == names[i]) return fail(Error{Errc::InvalidInput, 0, "duplicate name in lattice list", names[i]});
        }
    }
    return {};
}

std::optional<std::uint32_t> index_of(const std::vector<std::string>& names, std::string_view name)
{
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == name) return static_cast<std::uint32_t>(i);
    return std::nullopt;
}

}  // namespace

Result<Lattice> Lattice::create(std::vector<std::string> levels, std::vector<std::string> categories,
                                std::vector<std::string> integrity_levels)
{
    auto list_error = [](const char* list, const char* what) { return fail(Error{Errc::InvalidInput, 0, what, list}); };
    if (levels.empty()) return list_error("levels", "lattice has no secrecy levels");
    if (integrity_levels.empty()) return list_error("integrity", "lattice has no integrity levels");
    if (levels.size() > k_max_levels) return list_error("levels", "lattice has more than 256 secrecy levels");
    if (integrity_levels.size() > k_max_levels)
        return list_error("integrity", "lattice has more than 256 integrity levels");
    if (categories.size() > k_max_categories)
        return list_error("categories", "lattice has more than 64 categories");
    MOAT_TRY(check_list(levels));
    MOAT_TRY(check_list(categories));
    MOAT_TRY(check_list(integrity_levels));

    Lattice l;
    l.m_levels = std::move(levels);
    l.m_categories = std::move(categories);
    l.m_integrity = std::move(integrity_levels);
    return l;
}

CategorySet Lattice::all_categories() const
{
    // Shifting a 64-bit value by 64 is undefined, so the full set is special-cased.
    if (m_categories.size() == k_max_categories) return ~CategorySet{0};
    return (CategorySet{1} << m_categories.size()) - 1;
}

std::optional<std::uint32_t> Lattice::find_level(Dimension d, std::string_view name) const
{
    return index_of(d == Dimension::Secrecy ? m_levels : m_integrity, name);
}

std::optional<std::uint32_t> Lattice::find_category(std::string_view name) const
{
    return index_of(m_categories, name);
}

}  // namespace moat::policy
