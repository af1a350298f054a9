// shortest_text: the fewest significant digits (at least 6) that read back as the same double.
#include "gdpo/core/format.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

namespace gdpo {
namespace {

TEST(ShortestText, UsesTheFewestDigitsThatReadBack) {
  EXPECT_EQ(shortest_text(5e-7), "5e-07");  // not 4.9999999999999998e-07
  EXPECT_EQ(shortest_text(1e-5), "1e-05");
  EXPECT_EQ(shortest_text(0.1), "0.1");
  EXPECT_EQ(shortest_text(0.25), "0.25");
  EXPECT_EQ(shortest_text(10000), "10000");
  EXPECT_EQ(shortest_text(-2.5), "-2.5");
  EXPECT_EQ(shortest_text(0), "0");
  EXPECT_EQ(shortest_text(1234567.0), "1234567");  // 7 digits: %.6g would say 1.23457e+06
  EXPECT_EQ(shortest_text(1.0 / 3), "0.3333333333333333");    // 16 digits
  EXPECT_EQ(shortest_text(0.1 + 0.2), "0.30000000000000004");  // all 17
}

TEST(ShortestText, ReadsBackExactly) {
  for (double v : {0.1 + 0.2, 3e-310, 1.7976931348623157e308, -1e100, 6.02214076e23})
    EXPECT_EQ(std::strtod(shortest_text(v).c_str(), nullptr), v) << shortest_text(v);
  EXPECT_EQ(shortest_text(INFINITY), "inf");
}

}  // namespace
}  // namespace gdpo
