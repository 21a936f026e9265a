#!/bin/sh
# A self-signed certificate for the scaled stack's HTTPS on this machine
# (docs/https.md): for localhost, 127.0.0.1 and ::1, valid 397 days.
#   npm run tls:self-signed [-- <folder>]      (default: secrets/tls)
# Writes into the folder (mode 700):
#   localhost.pem  the certificate and its private key, HAProxy's format: set
#                  TLS_CERT_FILE to it (mode 644: lb reads it as its own user)
#   localhost.crt  the certificate alone, for clients (`curl --cacert`)
# Browsers and clients trust it only when told to. Not for other machines:
# there, use a certificate from a certificate authority (docs/https.md).
set -eu

folder=${1:-secrets/tls}
mkdir -p "$folder"
chmod 700 "$folder"
key=$(mktemp)
trap 'rm -f "$key"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -days 397 -nodes \
  -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
  -keyout "$key" -out "$folder/localhost.crt" 2>/dev/null
cat "$folder/localhost.crt" "$key" > "$folder/localhost.pem"
chmod 644 "$folder/localhost.pem" "$folder/localhost.crt"
echo "$folder/localhost.pem: set TLS_CERT_FILE=$folder/localhost.pem"
echo "$folder/localhost.crt: the certificate for clients (curl --cacert $folder/localhost.crt)"
