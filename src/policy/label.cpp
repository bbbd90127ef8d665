// Label text syntax: parsing and canonical formatting.
#include "policy/label.hpp"

namespace moat::policy {

namespace {

bool part_within(const Lattice& lattice, Dimension d, const Part& p)
{
    return p.level < lattice.levels(d).size() && (p.categories & ~lattice.all_categories()) == 0;
}

}  // namespace

Result<Part> parse_part(const Lattice& lattice, Dimension d, std::string_view text)
{
    auto bad = [](std::string_view name, Errc code, const char* what) { return fail(Error{code, 0, what, std::string(name)}); };
    const std::size_t colon = text.find(':');
    const std::string_view level_name = text.substr(0, colon);
    if (level_name.empty()) return bad(text, Errc::InvalidInput, "label has an empty level");
    const auto level = lattice.find_level(d, level_name);
    if (!level) return bad(level_name, Errc::NotFound, "label names an unknown level");

    Part p{*level, 0};
    if (colon == std::string_view::npos) return p;

    // Each ',' ends one category; the text after the last one is the final category. So
    // "secret:" and "secret:a,,b" both contain an empty category.
    std::string_view rest = text.substr(colon + 1);
    while (true) {
        const std::size_t comma = rest.find(',');
        const std::string_view name = rest.substr(0, comma);
        if (name.empty()) return bad(text, Errc::InvalidInput, "label has an empty category");
        const auto cat = lattice.find_category(name);
        if (!cat) return bad(name, Errc::NotFound, "label names an unknown category");
        const CategorySet bit = CategorySet{1} << *cat;
        if (p.categories & bit) return bad(name, Errc::InvalidInput, "label repeats a category");
        p.categories |= bit;
        if (comma == std::string_view::npos) return p;
        rest = rest.substr(comma + 1);
    }
}

Result<Label> parse_label(const Lattice& lattice, std::string_view secrecy, std::string_view integrity)
{
    Label l;
    l.secrecy = MOAT_TRY(parse_part(lattice, Dimension::Secrecy, secrecy));
    l.integrity = MOAT_TRY(parse_part(lattice, Dimension::Integrity, integrity));
    return l;
}

std::string format_part(const Lattice& lattice, Dimension d, const Part& p)
{
    MOAT_CHECK(part_within(lattice, d, p));
    std::string out = lattice.levels(d)[p.level];
    char sep = ':';
    const auto cats = lattice.categories();
    for (std::size_t i = 0; i < cats.size(); ++i) {
        if ((p.categories >> i) & 1) {
            out += sep;
            out += cats[i];
            sep = ',';
        }
    }
    return out;
}

std::string format_label(const Lattice& lattice, const Label& l)
{
    return format_part(lattice, Dimension::Secrecy, l.secrecy) + "/" +
           format_part(lattice, Dimension::Integrity, l.integrity);
}

bool within(const Lattice& lattice, const Label& l)
{
    return part_within(lattice, Dimension::Secrecy, l.secrecy) &&
           part_within(lattice, Dimension::Integrity, l.integrity);
}

}  // namespace moat::policy
