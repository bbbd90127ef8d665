// Lattice construction: accepted forms, every rejection, and lookups.
#include "policy/lattice.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace moat;
using namespace moat::policy;

namespace {

std::vector<std::string> numbered(const char* prefix, std::size_t n)
{
    std::vector<std::string> v;
    for (std::size_t i = 0; i < n; ++i) {
        // Appended rather than `prefix + to_string(i)`: g++ 12 at -O3 warns (-Wrestrict) on that.
        std::string s(prefix);
        s += std::to_string(i);
        v.push_back(std::move(s));
    }
    return v;
}

// Expects creation to fail with InvalidInput naming `bad`.
void expect_rejected(std::vector<std::string> levels, std::vector<std::string> cats, std::vector<std::string> integ,
                     const std::string& bad)
{
    auto l = Lattice::create(std::move(levels), std::move(cats), std::move(integ));
    ASSERT_FALSE(l.has_value()) << bad;
    EXPECT_EQ(l.error().code, Errc::InvalidInput);
    EXPECT_NE(std::string(l.error().what), "");
    EXPECT_EQ(l.error().context, bad);
}

}  // namespace

TEST(Lattice, AcceptsManifestExample)
{
    auto l = Lattice::create({"public", "internal", "secret"}, {"finance", "hr"}, {"untrusted", "trusted"});
    ASSERT_TRUE(l.has_value());
    EXPECT_EQ(l->levels(Dimension::Secrecy).size(), 3u);
    EXPECT_EQ(l->levels(Dimension::Integrity).size(), 2u);
    EXPECT_EQ(l->categories().size(), 2u);
    EXPECT_EQ(l->all_categories(), 0b11u);
    EXPECT_EQ(l->find_level(Dimension::Secrecy, "public"), 0u);
    EXPECT_EQ(l->find_level(Dimension::Secrecy, "secret"), 2u);
    EXPECT_EQ(l->find_level(Dimension::Integrity, "trusted"), 1u);
    EXPECT_EQ(l->find_level(Dimension::Integrity, "secret"), std::nullopt);
    EXPECT_EQ(l->find_level(Dimension::Secrecy, "trusted"), std::nullopt);
    EXPECT_EQ(l->find_level(Dimension::Secrecy, "Secret"), std::nullopt);
    EXPECT_EQ(l->find_category("hr"), 1u);
    EXPECT_EQ(l->find_category("legal"), std::nullopt);
    EXPECT_EQ(l->find_category(""), std::nullopt);
}

TEST(Lattice, NoCategoriesIsFine)
{
    auto l = Lattice::create({"only"}, {}, {"only"});
    ASSERT_TRUE(l.has_value());
    EXPECT_EQ(l->all_categories(), 0u);
}

TEST(Lattice, SixtyFourCategoriesFillTheMask)
{
    auto l = Lattice::create({"l"}, numbered("c", 64), {"i"});
    ASSERT_TRUE(l.has_value());
    EXPECT_EQ(l->all_categories(), ~CategorySet{0});
    EXPECT_EQ(l->find_category("c63"), 63u);
    expect_rejected({"l"}, numbered("c", 65), {"i"}, "categories");
}

TEST(Lattice, LevelCountLimits)
{
    EXPECT_TRUE(Lattice::create(numbered("l", 256), {}, numbered("i", 256)).has_value());
    expect_rejected(numbered("l", 257), {}, {"i"}, "levels");
    expect_rejected({"l"}, {}, numbered("i", 257), "integrity");
}

TEST(Lattice, RejectsEmptyLevelLists)
{
    expect_rejected({}, {"a"}, {"i"}, "levels");
    expect_rejected({"l"}, {"a"}, {}, "integrity");
}

TEST(Lattice, RejectsBadNames)
{
    for (const char* bad : {"", "a:b", "a,b", "a/b", "a b", " a", "a\t", "a\n"}) {
        expect_rejected({"low", bad}, {}, {"i"}, bad);
        expect_rejected({"low"}, {"x", bad}, {"i"}, bad);
        expect_rejected({"low"}, {}, {bad, "i"}, bad);
    }
}

TEST(Lattice, RejectsDuplicates)
{
    expect_rejected({"public", "secret", "public"}, {}, {"i"}, "public");
    expect_rejected({"l"}, {"finance", "hr", "hr"}, {"i"}, "hr");
    expect_rejected({"l"}, {}, {"trusted", "trusted"}, "trusted");
    // The same name in different lists is not a duplicate: the position says which list.
    EXPECT_TRUE(Lattice::create({"x"}, {"x"}, {"x"}).has_value());
}

TEST(Lattice, BadEntryIsOptional)
{
    auto l = Lattice::create({}, {}, {});
    ASSERT_FALSE(l.has_value());
    EXPECT_EQ(l.error().code, Errc::InvalidInput);
}
