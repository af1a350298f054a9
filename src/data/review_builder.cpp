#include "gdpo/data/review_builder.hpp"

#include <cmath>
#include <fstream>
#include <unordered_map>

#include "gdpo/core/error.hpp"
#include "gdpo/data/html.hpp"
#include "gdpo/data/random.hpp"
#include "gdpo/data/text.hpp"

namespace gdpo::data {

using json = nlohmann::ordered_json;

namespace {

struct BadReview {
  std::string reason, message;
};

int rating_of(double score) {
  if (!std::isfinite(score) || score != std::floor(score) || score < 1 || score > 5)
    throw BadReview{"bad ratings", "the rating " + std::to_string(score) + " is not a whole 1..5"};
  return static_cast<int>(score);
}

// A review text as its author wrote it: the dumps' line breaks `<br />` become newlines, then HTML
// character references (&quot; &#39; &amp; ...) are decoded as Python's html.unescape does (so an
// escaped "&lt;br /&gt;" stays text).
std::string clean_text(std::string s) {
  for (size_t at; (at = s.find("<br />")) != std::string::npos;) s.replace(at, 6, "\n");
  return std::string(trim(html_unescape(s)));
}

}  // namespace

std::vector<Review> read_reviews(const std::string& path, bool skip_invalid, SkipCounts& skipped) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open for reading");
  unsigned char magic[2] = {0, 0};
  in.read(reinterpret_cast<char*>(magic), 2);
  if (in.gcount() == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
    throw InputError(path + ": gzip-compressed input is not supported (zlib is not linked); "
                            "decompress it first: gunzip -k '" + path + "'");
  in.clear();
  in.seekg(0);
  const int first = first_non_blank(in);  // leaves `in` after a byte-order mark
  std::vector<Review> out;
  auto keep = [&](Review r, int64_t line) {
    if (r.text.empty()) {
      skipped.add("reviews without text");
      return;
    }
    r.line = line;
    out.push_back(std::move(r));
  };
  auto fail = [&](const BadReview& b, int64_t line) {
    skipped.skip_or_throw(skip_invalid, b.reason, path + ":" + std::to_string(line), b.message);
  };

  std::string line;
  int64_t n = 0;
  if (first == '{') {  // JSON lines (2014/2018 dumps)
    while (std::getline(in, line)) {
      ++n;
      if (trim(line).empty()) continue;
      try {
        if (find_invalid_utf8(line) != std::string::npos) throw BadReview{"invalid UTF-8", "invalid UTF-8"};
        if (json_nesting_depth(line) > kMaxJsonDepth)
          throw BadReview{"malformed JSON",
                          "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
        json j;
        try {
          j = json::parse(line);
        } catch (const json::exception& e) {  // syntax, and numbers past double's range (1e400)
          throw BadReview{"malformed JSON", std::string("malformed JSON: ") + e.what()};
        }
        if (!j.is_object()) throw BadReview{"malformed JSON", "the line is not a JSON object"};
        for (const char* key : {"asin", "overall"})
          if (!j.contains(key)) throw BadReview{"missing field", std::string("missing field '") + key + "'"};
        if (!j["asin"].is_string() || !j["overall"].is_number())
          throw BadReview{"wrong field type", "'asin' must be a string and 'overall' a number"};
        Review r;
        r.movie = j["asin"].get<std::string>();
        r.rating = rating_of(j["overall"].get<double>());
        // The texts may be absent or null (a review without text, counted); any other type is bad.
        for (const char* key : {"reviewText", "title"})
          if (j.contains(key) && !j[key].is_null() && !j[key].is_string())
            throw BadReview{"wrong field type", std::string("'") + key + "' is not a string"};
        if (j.contains("reviewText") && j["reviewText"].is_string())
          r.text = clean_text(j["reviewText"].get<std::string>());
        if (j.contains("title") && j["title"].is_string())
          r.title = std::string(trim(html_unescape(j["title"].get<std::string>())));
        keep(std::move(r), n);
      } catch (const BadReview& b) {
        fail(b, n);
      } catch (const json::exception& e) {  // any other value the checks above let through
        fail(BadReview{"malformed records", std::string("unexpected JSON value: ") + e.what()}, n);
      }
    }
    return out;
  }
  // SNAP text: "key: value" lines, a blank line after each review.
  std::unordered_map<std::string, std::string> fields;
  int64_t start = 0;
  auto flush = [&] {
    if (fields.empty()) return;
    try {
      for (const char* key : {"product/productId", "review/score", "review/text"})
        if (!fields.count(key)) throw BadReview{"missing field", std::string("missing field '") + key + "'"};
      Review r;
      r.movie = fields["product/productId"];
      char* end = nullptr;
      const std::string& score = fields["review/score"];
      const double s = std::strtod(score.c_str(), &end);
      if (score.empty() || *end != '\0') throw BadReview{"bad ratings", "review/score '" + score + "' is not a number"};
      r.rating = rating_of(s);
      r.text = clean_text(fields["review/text"]);
      if (fields.count("product/title"))
        r.title = std::string(trim(html_unescape(fields["product/title"])));
      keep(std::move(r), start);
    } catch (const BadReview& b) {
      fail(b, start);
    }
    fields.clear();
  };
  bool bad_record = false;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) {
      flush();
      bad_record = false;
      continue;
    }
    if (fields.empty() && !bad_record) start = n;
    if (bad_record) continue;
    try {
      if (find_invalid_utf8(line) != std::string::npos) throw BadReview{"invalid UTF-8", "invalid UTF-8"};
      const size_t colon = line.find(": ");
      const size_t colon_end = line.find(':');
      if (colon_end == std::string::npos || line.find('/') > colon_end)
        throw BadReview{"malformed records", "not a 'group/key: value' line"};
      const std::string key = line.substr(0, colon_end);
      fields[key] = colon == colon_end ? line.substr(colon + 2) : line.substr(colon_end + 1);
    } catch (const BadReview& b) {
      skipped.skip_or_throw(skip_invalid, b.reason, path + ":" + std::to_string(n), b.message);
      fields.clear();
      bad_record = true;  // skip the rest of this review
    }
  }
  flush();
  return out;
}

Dataset build_reviews(const std::vector<std::string>& inputs, const ReviewBuildConfig& c) {
  if (c.min_reviews < 2) GDPO_THROW(UsageError, "--data.min-reviews: must be >= 2");
  if (c.pairs_per_question < 0) GDPO_THROW(UsageError, "--data.pairs-per-question: must be >= 0");
  if (inputs.empty()) GDPO_THROW(UsageError, "no input files");
  Dataset data;
  data.kind = DatasetKind::kReview;
  data.source = inputs.front();
  std::vector<std::string> movie_order;
  std::unordered_map<std::string, std::vector<Review>> by_movie;
  for (const auto& path : inputs)
    for (auto& r : read_reviews(path, c.skip_invalid, data.skipped)) {
      auto& list = by_movie[r.movie];
      if (list.empty()) movie_order.push_back(r.movie);
      list.push_back(std::move(r));
    }
  Rng rng(c.seed);
  for (const auto& movie : movie_order) {
    const auto& reviews = by_movie[movie];
    const int64_t n = static_cast<int64_t>(reviews.size());
    if (n < c.min_reviews) {
      data.skipped.add("movies with fewer than " + std::to_string(c.min_reviews) + " reviews");
      continue;
    }
    Question q;
    std::string title;
    for (const auto& r : reviews)
      if (title.empty()) title = r.title;
    q.prompt = title.empty() ? "Write a review of the movie " + movie + "."
                             : "Write a review of the movie \"" + title + "\" (" + movie + ").";
    q.line = reviews.front().line;
    std::vector<std::vector<int64_t>> by_rating(5);
    for (int64_t i = 0; i < n; ++i) by_rating[reviews[i].rating - 1].push_back(i);
    for (int k = 1; k <= 5; ++k) {
      q.options.push_back(std::to_string(k));
      q.belief_ids.push_back(std::to_string(k));
      q.probabilities.push_back(static_cast<double>(by_rating[k - 1].size()) / static_cast<double>(n));
    }
    int distinct = 0;
    for (const auto& b : by_rating) distinct += !b.empty();
    if (distinct < 2) {
      data.skipped.add("movies whose reviews all have one rating");
      continue;
    }
    const int64_t qi = static_cast<int64_t>(data.questions.size());
    int64_t made = 0;
    for (int64_t i = 0; i < n && (c.pairs_per_question == 0 || made < c.pairs_per_question); ++i) {
      const int own = reviews[i].rating - 1;
      int64_t t = rng.below(n - static_cast<int64_t>(by_rating[own].size()));
      int64_t other = -1;
      for (int k = 0; k < 5 && other < 0; ++k) {
        if (k == own) continue;
        const int64_t size = static_cast<int64_t>(by_rating[k].size());
        if (t < size) other = by_rating[k][t];
        else t -= size;
      }
      const Review& rej = reviews[other];
      Pair p;
      p.question = qi;
      p.chosen = reviews[i].rating - 1;
      p.rejected = rej.rating - 1;
      p.chosen_response = reviews[i].text;
      p.rejected_response = rej.text;
      p.line = reviews[i].line;
      data.pairs.push_back(std::move(p));
      ++made;
    }
    data.questions.push_back(std::move(q));
  }
  return data;
}

}  // namespace gdpo::data
