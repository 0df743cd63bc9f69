// zws-load's mask keys (tools/load/random.hpp): its ChaCha20 against RFC 8439
// and against an independent implementation, and the pool's output.
#include "../../tools/load/random.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace {

std::string hex(const std::uint8_t* p, std::size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += {digits[p[i] >> 4], digits[p[i] & 15]};
  return s;
}

// Key and nonce bytes as the little-endian words ChaCha20 works on.
template <std::size_t N>
void words(const std::uint8_t* bytes, std::uint32_t (&out)[N]) {
  std::memcpy(out, bytes, 4 * N);
}

std::string keystream(const std::uint8_t (&key_bytes)[32], std::uint32_t counter, const std::uint8_t (&nonce_bytes)[12]) {
  std::uint32_t key[8], nonce[3];
  words(key_bytes, key);
  words(nonce_bytes, nonce);
  std::uint8_t out[256];
  zws_load::detail::chacha20_x4(key, counter, nonce, out);
  return hex(out, sizeof out);
}

TEST(LoadRandom, ChaCha20MatchesRfc8439AndAnIndependentImplementation) {
  // RFC 8439 §2.3.2 (block 1; blocks 2-4 continue the same stream). Expected
  // values from Python's `cryptography` (OpenSSL), keystream of 256 zero bytes.
  std::uint8_t key[32], nonce[12] = {0, 0, 0, 9, 0, 0, 0, 0x4a, 0, 0, 0, 0};
  for (int i = 0; i < 32; ++i) key[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(keystream(key, 1, nonce),
            "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4ed2826446079faa0914c2d705d98b02a2"
            "b5129cd1de164eb9cbd083e8a2503c4e0a88837739d7bf4ef8ccacb0ea2bb9d69d56c394aa351dfda5bf459f0a2e9fe8"
            "e721f89255f9c486bf21679c683d4f9c5cf2fa27865526005b06ca374c86af3bdcbfbdcb83be65862ed5c20eae5a4324"
            "1d6a92da6dca9a156be25297f51c27188a861e93cc3aeb129a76598baccd27453ac6941b4b4e1e5153a9fee95d1ba00e"
            "69d09f0d336478ca9068335ae2b3090905fb0fe5d45115371d126e5ba85e992432729aa7d77ddc5e3cc689d8445c1ab7"
            "54a7409ee8befc2bdd3868d27f6e1ad8");
  // Another key, nonce and counter.
  std::uint8_t key2[32], nonce2[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  for (int i = 0; i < 32; ++i) key2[i] = static_cast<std::uint8_t>(7 * i + 3);
  EXPECT_EQ(keystream(key2, 1000, nonce2),
            "cf900545116140494ee0838dea0de470a1d3d5693b02caca4eb8daae045c167a5fcb65e7ed70b7872f7b8bf5613bb919"
            "5b53b77eccc7967a0d38823f1be13e8741e859609df04336945a4fd40776335fa7f0eec120400f3fb8938511a4d907c5"
            "4ae4935d0aa6d9b230ae5a1bc2020a8c5e8697300a8c220124c3fb601f5ee0382bad09a45c7f412961bc1a93fecf6096"
            "8f0c79e0ba6d6b107c80676393aaf6ad6082eed35e7b70abeccda41bd2cd62e321e1e8a8362a7b0a7c5a7f76a3dc2e35"
            "8258fb3df3cf5f9077a12684f22c5f92bfff1be6ef291154af527e4b9e90750007306916b0a105ffac70fdbda332b991"
            "deffd68b7d77c74e0e87ba04bae07af7");
  EXPECT_TRUE(zws_load::detail::chacha20_known_answer());
}

TEST(LoadRandom, PoolNeverRepeatsAcrossRefillsAndReseeds) {
  // 16-byte draws over several MiB of output (refills every 4 KiB, a fresh
  // getrandom() key every 1 MiB): a repeat would mean a stream restarted.
  zws_load::random_pool pool;
  std::set<std::string> seen;
  for (int i = 0; i < 200'000; ++i) {
    std::uint8_t b[16];
    pool.fill(b, sizeof b);
    ASSERT_TRUE(seen.insert(hex(b, sizeof b)).second) << i;
  }
  // Every byte value turns up in the keys (a stuck lane or byte would not).
  std::set<std::uint8_t> bytes;
  for (int i = 0; i < 4096; ++i) {
    const zws::mask_key k = pool.key();
    bytes.insert(k.bytes, k.bytes + 4);
  }
  EXPECT_EQ(bytes.size(), 256u);
}

}  // namespace
