// A server TLS session fed arbitrary bytes never crashes, leaks, reads or writes
// out of bounds, or loops: it asks for more, or fails with a reason and leaves
// OpenSSL's error queue empty. The first input byte chooses how: bit 0 puts a
// real ClientHello in front of the rest (so the fuzzer reaches the states after
// it), bit 1 feeds the input in chunks of 1 + (byte >> 2) bytes, bit 2 (with
// bit 1 clear) decrypts into separate room of 64 bytes instead of in place.
// The server's certificate is made once, with the OpenSSL API, in a temporary
// directory that is removed as soon as it is loaded.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "io/tls.hpp"

namespace {

using namespace zws::detail::tls;

void check(bool ok) {
  if (!ok) std::abort();
}

// A self-signed P-256 certificate for "localhost", written as PEM files in `dir`.
void write_identity(const std::string& dir) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  check(key != nullptr && x != nullptr);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  check(X509_sign(x, key, EVP_sha256()) > 0);
  FILE* f = std::fopen((dir + "/cert.pem").c_str(), "w");
  check(f != nullptr && PEM_write_X509(f, x) == 1);
  std::fclose(f);
  f = std::fopen((dir + "/key.pem").c_str(), "w");
  check(f != nullptr && PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
}

struct fixture {
  std::unique_ptr<server_context> server;
  std::vector<std::uint8_t> hello;

  fixture() {
    char dir[] = "/tmp/zws-tls-fuzz-XXXXXX";
    check(mkdtemp(dir) != nullptr);
    write_identity(dir);
    zws::tls_server_options o;
    o.cert_chain_file = std::string(dir) + "/cert.pem";
    o.key_file = std::string(dir) + "/key.pem";
    server = std::make_unique<server_context>(o);
    check(!server->error());
    std::remove(o.cert_chain_file.c_str());
    std::remove(o.key_file.c_str());
    rmdir(dir);
    zws::tls_client_options co;
    co.insecure_skip_verify = true;
    client_context client(co);
    session c = session::client(client, "localhost");
    zws::buffer wire;
    check(c.start(wire) == status::need_input);
    hello.assign(wire.bytes().begin(), wire.bytes().end());
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fixture f;
  if (size == 0 || size > (std::size_t{1} << 17)) return 0;
  const std::uint8_t mode = data[0];
  std::vector<std::uint8_t> input;
  if (mode & 1) input = f.hello;
  input.insert(input.end(), data + 1, data + size);
  const std::size_t chunk = (mode & 2) ? 1 + (mode >> 2) : input.size();
  const bool in_place = (mode & 2) || !(mode & 4);

  session s = session::server(*f.server);
  zws::buffer wire;
  std::vector<std::uint8_t> scratch, room(64);
  std::size_t calls = 0;
  for (std::size_t pos = 0; pos < input.size();) {
    const std::size_t n = std::min(chunk, input.size() - pos);
    scratch.assign(input.begin() + static_cast<std::ptrdiff_t>(pos), input.begin() + static_cast<std::ptrdiff_t>(pos + n));
    pos += n;
    std::span<std::uint8_t> in(scratch);
    for (;;) {
      check(++calls < 4 * input.size() + 16);  // progress on every call
      const std::span<std::uint8_t> out = in_place ? in : std::span<std::uint8_t>(room);
      const receive_result r = s.receive(in, out, wire);
      check(r.consumed <= in.size() && r.produced <= out.size());
      check(ERR_peek_error() == 0);
      if (r.state == status::failed) {
        check(s.failed() && !s.reason().empty());
        return 0;
      }
      if (r.state == status::closed) return 0;
      if (r.state == status::need_input) check(r.consumed == in.size());
      in = in.subspan(r.consumed);
      if (r.state != status::out_full) break;
    }
    // What a server says during a handshake is bounded by its certificate.
    check(wire.size() < (std::size_t{64} << 10));
  }
  return 0;
}
