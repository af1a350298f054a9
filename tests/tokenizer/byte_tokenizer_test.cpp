// The byte tokenizer: ids are the bytes, 256 is "<|endoftext|>", and decode(encode(x)) == x for any
// bytes (invalid UTF-8 and NUL included).
#include "gdpo/tokenizer/byte_tokenizer.hpp"

#include <gtest/gtest.h>

#include "gdpo/core/error.hpp"

namespace gdpo::tokenizer {
namespace {

using Ids = std::vector<int64_t>;

TEST(ByteTokenizer, IdsAreTheBytes) {
  auto tok = load_tokenizer("bytes");
  EXPECT_EQ(tok->encode("Hi!"), (Ids{72, 105, 33}));
  EXPECT_EQ(tok->encode(""), Ids{});
  EXPECT_EQ(tok->encode("\xc3\xa9"), (Ids{0xc3, 0xa9}));  // é is two bytes
  EXPECT_EQ(tok->vocab_size(), 257);
  EXPECT_EQ(tok->eos_id(), 256);
}

TEST(ByteTokenizer, EndOfTextIsOneId) {
  auto tok = load_tokenizer("bytes");
  EXPECT_EQ(tok->encode("a<|endoftext|>b"), (Ids{97, 256, 98}));
  EXPECT_EQ(tok->encode("<|endoftext|><|endoftext|>"), (Ids{256, 256}));
  EXPECT_EQ(tok->encode("<|endoftext|"), (Ids{60, 124, 101, 110, 100, 111, 102, 116, 101, 120, 116, 124}));
  EXPECT_EQ(tok->decode({97, 256, 98}), "a<|endoftext|>b");
  EXPECT_EQ(tok->token_to_id("<|endoftext|>"), 256);
  EXPECT_EQ(tok->token_to_id("A"), 65);
  EXPECT_EQ(tok->token_to_id("AB"), std::nullopt);
}

TEST(ByteTokenizer, RoundTripsEveryByte) {
  auto tok = load_tokenizer("bytes");
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  all += "\xff\xfe<|endoftext|>\xe2\x82";  // invalid UTF-8 around a special token
  EXPECT_EQ(tok->decode(tok->encode(all)), all);
}

TEST(ByteTokenizer, EncodeAppendAppends) {
  auto tok = load_tokenizer("bytes");
  Ids out{7};
  tok->encode_append("ab", out);
  tok->encode_append("c", out);
  EXPECT_EQ(out, (Ids{7, 97, 98, 99}));
}

TEST(ByteTokenizer, UnknownIdIsAnInputError) {
  auto tok = load_tokenizer("bytes");
  EXPECT_THROW(tok->decode({257}), InputError);
  try {
    tok->decode({1, -3});
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("-3"), std::string::npos) << e.what();
  }
}

TEST(ByteTokenizer, FingerprintIsStable) {
  auto a = load_tokenizer("bytes")->fingerprint();
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(a, ByteTokenizer().fingerprint());
  // FNV-1a 64 over the length-prefixed "gdpo.tokenizer.bytes.v1" and "<|endoftext|>": a change here
  // invalidates every tokenized-data cache.
  EXPECT_EQ(a, "800772c48c93c0e5");
}

}  // namespace
}  // namespace gdpo::tokenizer
