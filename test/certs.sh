#!/usr/bin/env bash
# test/certs.sh DIR — the certificates the TLS tests use, made with the openssl CLI.
#
# Idempotent: a finished set is marked with DIR/.done-<version> and left alone; an
# unfinished one is made again from scratch. EC P-256 keys, so the whole set takes
# a fraction of a second. Made in DIR:
#   ca.pem ca.key                 test root CA
#   int.pem int.key               intermediate CA (signed by the root)
#   server.pem server.key         localhost + 127.0.0.1 + ::1, signed by the intermediate;
#                                 server.pem is the chain: leaf then intermediate
#   server-enc.key                server.key encrypted with the password "secret"
#   other.pem other.key           "other.test" (the second SNI name), signed by the intermediate
#   expired.pem expired.key       localhost, signed by the root, valid in January 2020 only
#   wronghost.pem wronghost.key   "wrong.test" only, signed by the root
#   self.pem self.key             localhost, self-signed
#   client.pem client.key         a client certificate (clientAuth), signed by the root
#   unknown-ca.pem unknown.pem unknown.key  localhost, signed by a CA nobody trusts
#   big.pem big.key               localhost behind four padded intermediates: a chain of
#                                 over 24 KiB, so the server's flight spans many records
set -euo pipefail
version=3
dir=${1:?usage: test/certs.sh DIR}
mkdir -p "$dir"
[ -f "$dir/.done-$version" ] && exit 0
cd "$dir"
rm -f ./*.pem ./*.key ./*.csr ./*.srl ./*.ext .done-* index.txt* serial* ca.cnf

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
csr() { openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"; }
ca_ext='basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid'
leaf_ext() {  # SAN, extended key usage
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' "$2" "$1"
}
sign() {  # name issuer ext-file
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 3650 -sha256 \
    -extfile "$3" -out "$1.pem" 2>/dev/null
}

key ca
openssl req -x509 -new -key ca.key -subj "/CN=zws test CA" -days 3650 -sha256 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem
printf '%s\n' "$ca_ext" > ca.ext
key int; csr int "zws test intermediate"; sign int ca ca.ext

leaf_ext "DNS:localhost,IP:127.0.0.1,IP:::1" serverAuth > server.ext
key server; csr server localhost; sign server int server.ext
cat int.pem >> server.pem
openssl pkey -in server.key -aes256 -passout pass:secret -out server-enc.key

leaf_ext "DNS:other.test" serverAuth > other.ext
key other; csr other other.test; sign other int other.ext
cat int.pem >> other.pem

leaf_ext "DNS:wrong.test" serverAuth > wronghost.ext
key wronghost; csr wronghost wrong.test; sign wronghost ca wronghost.ext

leaf_ext "DNS:client.test" clientAuth > client.ext
key client; csr client "zws test client"; sign client ca client.ext

key self
openssl req -x509 -new -key self.key -subj "/CN=localhost" -days 3650 -sha256 \
  -addext "subjectAltName=DNS:localhost" -out self.pem

key unknown-ca
openssl req -x509 -new -key unknown-ca.key -subj "/CN=unknown CA" -days 3650 -sha256 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" -out unknown-ca.pem
key unknown; csr unknown localhost; sign unknown unknown-ca server.ext

# openssl x509 cannot back-date; openssl ca can.
touch index.txt; echo 1000 > serial
cat > ca.cnf <<'EOF'
[ca]
default_ca = test
[test]
database = index.txt
serial = serial
new_certs_dir = .
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
EOF
key expired; csr expired localhost
openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr -out expired.pem \
  -startdate 20200101000000Z -enddate 20200201000000Z -extfile server.ext -notext 2>/dev/null

# A long chain: each intermediate carries 6 KiB of comment, so the chain alone is
# larger than one TLS record.
pad=$(head -c 6000 /dev/zero | tr '\0' 'x')
issuer=int
: > big-chain.pem
for i in 1 2 3 4; do
  printf '%s\nnsComment=%s\n' "$ca_ext" "$pad" > big$i.ext
  key big$i; csr big$i "zws big intermediate $i"; sign big$i $issuer big$i.ext
  cat big$i.pem big-chain.pem > big-chain.tmp && mv big-chain.tmp big-chain.pem
  issuer=big$i
done
key big; csr big localhost; sign big big4 server.ext
cat big-chain.pem int.pem >> big.pem

rm -f ./*.csr ./*.srl ./*.ext ./*.old ./*.attr index.txt* serial* ca.cnf ./[0-9A-F][0-9A-F]*.pem big-chain.pem
touch ".done-$version"
