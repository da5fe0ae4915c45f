#!/bin/sh
# Writes the certificates the TLS tests need into DIR (which must exist), with the openssl
# command-line tool: made at test time into a temporary folder, so no private key is ever
# part of the source tree.
#
#   ca.pem ca.key          the test CA
#   server.pem server.key  signed by it, for IP 127.0.0.1 and DNS localhost: the good one
#   expired.pem/.key       valid 2020-01-01 to 2021-01-01
#   notyet.pem/.key        valid from 2099-01-01
#   wronghost.pem/.key     for IP 127.0.0.9 and DNS elsewhere.example only
#   unknownca.pem/.key     signed by another CA (other-ca.pem) the client does not trust
#   selfsigned.pem/.key    its own issuer
#   clientonly.pem/.key    extendedKeyUsage clientAuth only: not for a server
# Client certificates for hub hub-000000 (the only hub of `hubsim run --hubs 1`), each as a
# folder laid out as hubsim provision writes one (FOLDER/hubs/hub-000000.crt and .key):
#   hub-good/              CN and SAN URI hub-000000, clientAuth, signed by ca: the good one
#   hub-other/             the same for hub-000001: a certificate for another hub id
#   hub-serverauth/        extendedKeyUsage serverAuth only: not for a client
#   hub-unknownca/         signed by other-ca
#   hub-expired/           valid 2020-01-01 to 2021-01-01
#   hub-revoked/           revoked in crl.pem, ca's revocation list
#   hub-notyet/            valid from 2099-01-01
#   hub-selfsigned/        CN and SAN URI hub-000000, clientAuth, its own issuer
#   hub-sanother/          CN hub-000000 but SAN URI urn:hubsim:hub:hub-000001: no usable hub id
# Exit status 0, or non-zero with openssl's message on stderr.
set -eu
D=$1
cd "$D"
KEYOPT="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"

ca() { # name subject
  openssl req -x509 $KEYOPT -keyout "$1.key" -out "$1.pem" -days 3650 -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    2>/dev/null
}

# A CA directory for `openssl ca`, which alone (in openssl 3.0) can set any validity window.
ca_conf() { # ca-name
  mkdir -p "db-$1"
  : >"db-$1/index.txt"
  cat >"$1.cnf" <<CNF
[ca]
default_ca = c
[c]
database = db-$1/index.txt
new_certs_dir = db-$1
certificate = $1.pem
private_key = $1.key
default_md = sha256
policy = p
unique_subject = no
copy_extensions = copy
rand_serial = yes
[p]
commonName = supplied
[ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
[client]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
CNF
}

leaf() { # name ca-name san startdate enddate [extensions section, default ext]
  openssl req $KEYOPT -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" -addext "subjectAltName=$3" \
    2>/dev/null
  openssl ca -batch -config "$2.cnf" -extensions "${6:-ext}" -in "$1.csr" -out "$1.pem" -notext \
    -startdate "$4" -enddate "$5" 2>/dev/null
  rm -f "$1.csr"
}

ca ca "hubsim test CA"
ca other-ca "hubsim other CA"
ca_conf ca
ca_conf other-ca
GOOD="IP:127.0.0.1,DNS:localhost"
leaf server ca "$GOOD" 20200101000000Z 20990101000000Z
leaf expired ca "$GOOD" 20200101000000Z 20210101000000Z
leaf notyet ca "$GOOD" 20990101000000Z 20991231000000Z
leaf wronghost ca "IP:127.0.0.9,DNS:elsewhere.example" 20200101000000Z 20990101000000Z
leaf unknownca other-ca "$GOOD" 20200101000000Z 20990101000000Z
leaf clientonly ca "$GOOD" 20200101000000Z 20990101000000Z client
openssl req -x509 $KEYOPT -keyout selfsigned.key -out selfsigned.pem -days 365 \
  -subj "/CN=selfsigned" -addext "subjectAltName=$GOOD" 2>/dev/null
hub() { # folder ca-name hub-id extensions startdate enddate [hub-id of the SAN URI]
  mkdir -p "$1/hubs"
  openssl req $KEYOPT -keyout "$1/hubs/hub-000000.key" -out "$1.csr" -subj "/CN=$3" \
    -addext "subjectAltName=URI:urn:hubsim:hub:${7:-$3}" 2>/dev/null
  openssl ca -batch -config "$2.cnf" -extensions "$4" -in "$1.csr" -out "$1/hubs/hub-000000.crt" \
    -notext -startdate "$5" -enddate "$6" 2>/dev/null
  rm -f "$1.csr"
  chmod 600 "$1/hubs/hub-000000.key"
}
hub hub-good ca hub-000000 client 20200101000000Z 20990101000000Z
hub hub-other ca hub-000001 client 20200101000000Z 20990101000000Z
hub hub-serverauth ca hub-000000 ext 20200101000000Z 20990101000000Z
hub hub-unknownca other-ca hub-000000 client 20200101000000Z 20990101000000Z
hub hub-expired ca hub-000000 client 20200101000000Z 20210101000000Z
hub hub-revoked ca hub-000000 client 20200101000000Z 20990101000000Z
hub hub-notyet ca hub-000000 client 20990101000000Z 20991231000000Z
hub hub-sanother ca hub-000000 client 20200101000000Z 20990101000000Z hub-000001
mkdir -p hub-selfsigned/hubs
openssl req -x509 $KEYOPT -keyout hub-selfsigned/hubs/hub-000000.key \
  -out hub-selfsigned/hubs/hub-000000.crt -days 3650 -subj "/CN=hub-000000" \
  -addext "subjectAltName=URI:urn:hubsim:hub:hub-000000" \
  -addext keyUsage=critical,digitalSignature -addext extendedKeyUsage=clientAuth 2>/dev/null
chmod 600 hub-selfsigned/hubs/hub-000000.key
openssl ca -batch -config ca.cnf -revoke hub-revoked/hubs/hub-000000.crt 2>/dev/null
openssl ca -batch -config ca.cnf -gencrl -crldays 3650 -out crl.pem 2>/dev/null
chmod 600 ./*.key
