// Builds movie-review preference pairs from Amazon reviews (SNAP movies.txt, or the 2014/2018 JSON
// lines dumps): the belief is the star rating 1-5, p* the movie's rating histogram, and each review is
// paired with a review of another rating of the same movie.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gdpo/data/record.hpp"

namespace gdpo::data {

struct ReviewBuildConfig {
  int64_t min_reviews = 5;         // movies with fewer reviews are skipped (and counted)
  int64_t pairs_per_question = 0;  // at most this many pairs per movie (0: one per review)
  uint64_t seed = 0;
  bool skip_invalid = false;       // skip (and count) bad records instead of throwing InputError
};

// A review as read from any of the formats.
struct Review {
  std::string movie, title, text;
  int rating = 0;  // 1..5
  int64_t line = 0;
};

// Reads one file (format detected after a UTF-8 byte-order mark, if any: gzip is refused with a clear
// message, '{' starts JSON lines, anything else is SNAP text). Texts and titles have `<br />` turned
// into line breaks and HTML character references decoded (html_unescape: &quot; -> "). Reviews with
// an empty text are skipped and counted. A bad record (malformed JSON, a number past double's range,
// nesting deeper than kMaxJsonDepth, a field of the wrong type, a rating that is not a whole 1..5) is
// an InputError naming the file and line, or with skip_invalid skipped and counted per reason.
std::vector<Review> read_reviews(const std::string& path, bool skip_invalid, SkipCounts& skipped);

Dataset build_reviews(const std::vector<std::string>& inputs, const ReviewBuildConfig& config);

}  // namespace gdpo::data
