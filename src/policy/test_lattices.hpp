// Lattices shared by the policy tests: the DESIGN.md manifest's, and a small one to enumerate.
#pragma once

#include <vector>

#include "policy/label.hpp"

namespace moat::policy::testing {

// DESIGN.md "Manifest": levels public < internal < secret, categories finance, hr,
// integrity untrusted < trusted.
inline Lattice design_lattice()
{
    return Lattice::create({"public", "internal", "secret"}, {"finance", "hr"}, {"untrusted", "trusted"}).value();
}

// 3 levels x 3 categories x 2 integrity levels.
inline Lattice small_lattice()
{
    return Lattice::create({"low", "mid", "high"}, {"a", "b", "c"}, {"untrusted", "trusted"}).value();
}

inline std::vector<Part> all_parts(const Lattice& l, Dimension d)
{
    std::vector<Part> out;
    for (std::uint32_t level = 0; level < l.levels(d).size(); ++level)
        for (CategorySet cats = 0; cats <= l.all_categories(); ++cats) out.push_back(Part{level, cats});
    return out;
}

// Every label of the lattice, integrity categories included.
inline std::vector<Label> all_labels(const Lattice& l)
{
    std::vector<Label> out;
    for (const Part& s : all_parts(l, Dimension::Secrecy))
        for (const Part& i : all_parts(l, Dimension::Integrity)) out.push_back(Label{s, i});
    return out;
}

}  // namespace moat::policy::testing
