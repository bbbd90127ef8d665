// Label syntax (round trips and every parse error), dominance laws and the flow rule,
// exhaustively over a small lattice.
#include "policy/label.hpp"

#include <gtest/gtest.h>

#include "policy/test_lattices.hpp"

using namespace moat;
using namespace moat::policy;
using namespace moat::policy::testing;

namespace {

void expect_parse_error(const Lattice& l, Dimension d, std::string_view text, Errc code, const std::string& bad)
{
    auto p = parse_part(l, d, text);
    ASSERT_FALSE(p.has_value()) << text;
    EXPECT_EQ(p.error().code, code) << text;
    EXPECT_EQ(p.error().context, bad) << text;
}

}  // namespace

TEST(ParseLabel, ManifestExamples)
{
    const Lattice l = design_lattice();
    auto analyst = parse_label(l, "secret:finance", "untrusted");
    ASSERT_TRUE(analyst.has_value());
    EXPECT_EQ(analyst->secrecy, (Part{2, 0b01}));
    EXPECT_EQ(analyst->integrity, (Part{0, 0}));

    auto base = parse_label(l, "public", "trusted");
    ASSERT_TRUE(base.has_value());
    EXPECT_EQ(*base, (Label{{0, 0}, {1, 0}}));

    auto both = parse_part(l, Dimension::Secrecy, "secret:hr,finance");
    ASSERT_TRUE(both.has_value());
    EXPECT_EQ(*both, (Part{2, 0b11}));
    EXPECT_EQ(format_part(l, Dimension::Secrecy, *both), "secret:finance,hr");  // canonical order

    auto integ = parse_part(l, Dimension::Integrity, "trusted:hr");
    ASSERT_TRUE(integ.has_value());
    EXPECT_EQ(*integ, (Part{1, 0b10}));
}

TEST(ParseLabel, Errors)
{
    const Lattice l = design_lattice();
    const auto S = Dimension::Secrecy;
    const auto I = Dimension::Integrity;
    expect_parse_error(l, S, "", Errc::InvalidInput, "");
    expect_parse_error(l, S, ":finance", Errc::InvalidInput, ":finance");
    expect_parse_error(l, S, "topsecret", Errc::NotFound, "topsecret");
    expect_parse_error(l, S, "Secret", Errc::NotFound, "Secret");
    expect_parse_error(l, S, "trusted", Errc::NotFound, "trusted");  // an integrity level
    expect_parse_error(l, I, "public", Errc::NotFound, "public");    // a secrecy level
    expect_parse_error(l, S, "secret ", Errc::NotFound, "secret ");
    expect_parse_error(l, S, "secret:legal", Errc::NotFound, "legal");
    expect_parse_error(l, S, "secret:finance,legal", Errc::NotFound, "legal");
    expect_parse_error(l, S, "secret:finance, hr", Errc::NotFound, " hr");
    expect_parse_error(l, S, "secret:finance:hr", Errc::NotFound, "finance:hr");
    expect_parse_error(l, S, "secret:", Errc::InvalidInput, "secret:");
    expect_parse_error(l, S, "secret:finance,", Errc::InvalidInput, "secret:finance,");
    expect_parse_error(l, S, "secret:,finance", Errc::InvalidInput, "secret:,finance");
    expect_parse_error(l, S, "secret:finance,,hr", Errc::InvalidInput, "secret:finance,,hr");
    expect_parse_error(l, S, "secret:finance,finance", Errc::InvalidInput, "finance");
    expect_parse_error(l, S, "secret:hr,finance,hr", Errc::InvalidInput, "hr");
    expect_parse_error(l, I, "trusted:", Errc::InvalidInput, "trusted:");
    expect_parse_error(l, I, "trusted:payroll", Errc::NotFound, "payroll");

    // parse_label reports whichever half is bad.
    auto bad_integrity = parse_label(l, "secret:finance", "semi");
    ASSERT_FALSE(bad_integrity.has_value());
    EXPECT_EQ(bad_integrity.error().code, Errc::NotFound);
    EXPECT_EQ(bad_integrity.error().context, "semi");
    EXPECT_FALSE(parse_label(l, "secret:legal", "trusted").has_value());
}

TEST(FormatLabel, Examples)
{
    const Lattice l = design_lattice();
    EXPECT_EQ(format_label(l, Label{{2, 0b01}, {0, 0}}), "secret:finance/untrusted");
    EXPECT_EQ(format_label(l, Label{{0, 0}, {1, 0}}), "public/trusted");
    EXPECT_EQ(format_label(l, Label{{1, 0b11}, {1, 0b10}}), "internal:finance,hr/trusted:hr");
}

TEST(FormatLabel, RoundTripsEveryPart)
{
    const Lattice l = small_lattice();
    for (Dimension d : {Dimension::Secrecy, Dimension::Integrity}) {
        for (const Part& p : all_parts(l, d)) {
            const std::string text = format_part(l, d, p);
            auto back = parse_part(l, d, text);
            ASSERT_TRUE(back.has_value()) << text << " bad: " << back.error().context;
            EXPECT_EQ(*back, p) << text;
            EXPECT_EQ(format_part(l, d, *back), text);
        }
    }
    EXPECT_EQ(all_parts(l, Dimension::Secrecy).size(), 24u);
}

TEST(Within, RejectsIndicesOutsideTheLattice)
{
    const Lattice l = design_lattice();
    EXPECT_TRUE(within(l, Label{{2, 0b11}, {1, 0b11}}));
    EXPECT_FALSE(within(l, Label{{3, 0}, {0, 0}}));
    EXPECT_FALSE(within(l, Label{{0, 0}, {2, 0}}));
    EXPECT_FALSE(within(l, Label{{0, 0b100}, {0, 0}}));
    EXPECT_FALSE(within(l, Label{{0, 0}, {0, 0b100}}));
    for (const Label& x : all_labels(small_lattice())) EXPECT_TRUE(within(small_lattice(), x));
}

TEST(Dominance, Examples)
{
    EXPECT_TRUE(dominates(Part{2, 0b01}, Part{0, 0}));       // secret:finance >= public
    EXPECT_TRUE(dominates(Part{2, 0b11}, Part{2, 0b01}));    // more categories
    EXPECT_FALSE(dominates(Part{2, 0b01}, Part{1, 0b10}));   // incomparable: missing hr
    EXPECT_FALSE(dominates(Part{1, 0b10}, Part{2, 0b01}));
    EXPECT_FALSE(dominates(Part{0, 0b11}, Part{1, 0}));      // lower level
    EXPECT_TRUE(dominates(Part{1, 0}, Part{1, 0}));
}

TEST(Dominance, IsAPartialOrderOnEveryPart)
{
    const auto parts = all_parts(small_lattice(), Dimension::Secrecy);
    for (const Part& a : parts) {
        EXPECT_TRUE(dominates(a, a));
        for (const Part& b : parts) {
            // Definition, restated independently of the bit trick.
            bool superset = true;
            for (unsigned i = 0; i < 3; ++i)
                if (((b.categories >> i) & 1) && !((a.categories >> i) & 1)) superset = false;
            ASSERT_EQ(dominates(a, b), a.level >= b.level && superset);
            if (dominates(a, b) && dominates(b, a)) {
                ASSERT_EQ(a, b);
            }
            for (const Part& c : parts) {
                if (dominates(a, b) && dominates(b, c)) {
                    ASSERT_TRUE(dominates(a, c));
                }
            }
        }
    }
}

TEST(MayFlow, MatchesDefinitionOnEveryPair)
{
    const auto labels = all_labels(small_lattice());
    ASSERT_EQ(labels.size(), 24u * 16u);
    for (const Label& x : labels) {
        ASSERT_TRUE(may_flow(x, x));
        for (const Label& y : labels) {
            ASSERT_EQ(may_flow(x, y), dominates(y.secrecy, x.secrecy) && dominates(x.integrity, y.integrity));
            // Flow both ways happens exactly at equal labels.
            ASSERT_EQ(may_flow(x, y) && may_flow(y, x), x == y);
        }
    }
}

TEST(MayFlow, Examples)
{
    const Lattice l = design_lattice();
    const Label base = parse_label(l, "public", "trusted").value();
    const Label web = parse_label(l, "public", "untrusted").value();
    const Label analyst = parse_label(l, "secret:finance", "untrusted").value();
    EXPECT_TRUE(may_flow(base, web));
    EXPECT_TRUE(may_flow(base, analyst));
    EXPECT_TRUE(may_flow(web, analyst));
    EXPECT_FALSE(may_flow(analyst, web));  // no write down
    EXPECT_FALSE(may_flow(web, base));     // integrity: untrusted may not reach trusted
    EXPECT_FALSE(may_flow(analyst, base));
}
