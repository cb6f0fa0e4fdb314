#!/usr/bin/env bash
# Makes a throwaway PKI in DIR for tests and the demo.  Nothing here is
# ever committed: keys are generated fresh on every run.
#   ca.pem                the CA that signs the proxy and the nodes
#   server.pem/key        the proxy, CN and SAN localhost / 127.0.0.1 / ::1
#   wrongname.pem/key     a proxy certificate for another name
#   node.pem/key          node-1;  node2.pem/key  node-2
#   expired.pem/key       node-old, signed by the CA, expired in 2021
#   foreign-node.pem/key  intruder, signed by a different CA
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() {   # ca NAME CN
	key "$1.key"
	openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 30 -subj "/CN=$2" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

leaf() {   # leaf NAME CN CA EXT
	key "$1.key"
	openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
	printf '%s\n' "$4" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -days 30 \
		-extfile "$1.ext" -out "$1.pem" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}

ca ca "usbws test CA"
ca foreign-ca "some other CA"
leaf server localhost ca "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
extendedKeyUsage=serverAuth"
leaf wrongname wrong.example ca "subjectAltName=DNS:wrong.example
extendedKeyUsage=serverAuth"
leaf node node-1 ca "extendedKeyUsage=clientAuth"
leaf node2 node-2 ca "extendedKeyUsage=clientAuth"
leaf foreign-node intruder foreign-ca "extendedKeyUsage=clientAuth"

# an expired node certificate: 'openssl ca' takes explicit dates
mkdir -p expired-ca
: >expired-ca/index.txt
echo 1000 >expired-ca/serial
cat >expired-ca/ca.cnf <<CNF
[ ca ]
default_ca = d
[ d ]
dir = expired-ca
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
default_md = sha256
policy = p
copy_extensions = none
[ p ]
commonName = supplied
CNF
key expired.key
openssl req -new -key expired.key -out expired.csr -subj "/CN=node-old" 2>/dev/null
openssl ca -batch -config expired-ca/ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr \
	-out expired.pem -startdate 20200101000000Z -enddate 20210101000000Z -notext 2>/dev/null
rm -rf expired.csr expired-ca
