#!/usr/bin/env bash
# A development CA for Pulse's clustered event bus (mutual TLS), and a certificate per node.
#
#   scripts/dev-ca.sh DIR NAME...
#
# makes DIR/ca.pem and DIR/ca-key.pem (once: an existing CA is kept), then for each NAME that
# has none yet DIR/NAME.pem and DIR/NAME-key.pem, signed by that CA (EC P-256, one year, usable
# as TLS server and client, valid for NAME, localhost and 127.0.0.1). A node then runs with
#
#   CLUSTER_TLS_CA_FILE=DIR/ca.pem CLUSTER_TLS_CERT_FILE=DIR/NAME.pem CLUSTER_TLS_KEY_FILE=DIR/NAME-key.pem
#
# Development only: the CA's key lies beside the certificates, and anyone holding it can make
# members. In production, issue the node certificates from your own PKI and keep the CA key away.
set -euo pipefail

usage() { echo "usage: scripts/dev-ca.sh DIR NAME..." >&2; exit 2; }
[ $# -ge 2 ] || usage
dir=$1
shift
command -v openssl >/dev/null 2>&1 || { echo "dev-ca.sh: openssl is needed (apt-get install openssl)" >&2; exit 2; }
for name in "$@"; do
  [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9.-]*$ ]] || { echo "dev-ca.sh: '$name' is not a host-like name" >&2; exit 2; }
done

umask 077
mkdir -p "$dir"
if [ ! -f "$dir/ca.pem" ]; then
  openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca-key.pem"
  openssl req -x509 -new -key "$dir/ca-key.pem" -sha256 -days 365 -subj "/CN=Pulse development cluster CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/ca.pem" 2>/dev/null
  echo "dev-ca.sh: made a CA in $dir/ca.pem"
fi
for name in "$@"; do
  [ -f "$dir/$name.pem" ] && continue
  openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$name-key.pem"
  openssl req -new -key "$dir/$name-key.pem" -subj "/CN=$name" -out "$dir/$name.csr" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment,keyAgreement\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1\n' \
    "$name" > "$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" -CAcreateserial -days 365 -sha256 \
    -extfile "$dir/$name.ext" -out "$dir/$name.pem" 2>/dev/null
  rm -f "$dir/$name.csr" "$dir/$name.ext"
  echo "dev-ca.sh: made $dir/$name.pem and $dir/$name-key.pem"
done
chmod 644 "$dir"/*.pem
chmod 600 "$dir"/*-key.pem
