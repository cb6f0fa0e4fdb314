#!/usr/bin/env bash
# Makes a throwaway PKI in DIR for tests and the demo.  Nothing here is
# ever committed: keys are generated fresh on every run.
#   ca.pem                the CA that signs the proxy and the nodes
#   server.pem/key        the proxy, CN and SAN localhost / 127.0.0.1 / ::1
#   wrongname.pem/key     a proxy certificate for another name
#   node.pem/key          node-1;  node2.pem/key  node-2
#   ops.pem/key           ops-1;  opsou.pem/key  alice, OU "Fleet Operators"
#   expired.pem/key       node-old, signed by the CA, expired in 2021
#   foreign-node.pem/key  intruder, signed by a different CA
# Then, with --identities (into a DIR made as above; kept apart, as every
# test makes a PKI and only a few need these):
#   nocn.pem/key          no CN at all, but an OU of "y/CN=node-1"
#   long128a, long128b    CNs of 128 characters that differ only in the last
#   long300.pem/key       a CN of 300 characters
#   ctrlcn.pem/key        a CN with a control character (ESC)
#   sannode.pem/key       CN node-1, subjectAltName DNS:node-9.fleet.example
#                         and URI:urn:usbws:node-9
#   node3.pem/key         node-3, serial 2000, made with 'openssl ca' and
#                         revoked in crl.pem; crl-none.pem, from before,
#                         revokes nothing (both CRLs of ca)
# Or, with --fleet N (into a DIR made as above): a fleet sharing one key,
#   fleet.key, fleet-01.pem ... fleet-N.pem   CNs fleet-01 ... fleet-N
#   haproxy.pem           server.pem and server.key in one file, as
#                         HAProxy's crt wants them
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

leaf() {   # leaf NAME CN CA EXT [SUBJECT]
	key "$1.key"
	# the string table's 64-character cap on CN is lifted for the too-long
	# names the proxy must refuse
	OPENSSL_CONF=$PWD/long-cn.cnf openssl req -new -key "$1.key" -out "$1.csr" -subj "${5:-/CN=$2}" 2>/dev/null
	printf '%s\n' "$4" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -days 30 \
		-extfile "$1.ext" -out "$1.pem" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}

ca_db() {   # ca_db DIR SERIAL: a database for 'openssl ca' (dates, CRLs)
	mkdir -p "$1"
	: >"$1/index.txt"
	echo "$2" >"$1/serial"
	echo 01 >"$1/crlnumber"
	cat >"$1/ca.cnf" <<CNF
[ ca ]
default_ca = d
[ d ]
dir = $1
database = \$dir/index.txt
serial = \$dir/serial
crlnumber = \$dir/crlnumber
new_certs_dir = \$dir
default_md = sha256
default_days = 30
default_crl_days = 30
policy = p
copy_extensions = none
x509_extensions = node
[ p ]
commonName = supplied
[ node ]
extendedKeyUsage = clientAuth
CNF
}

cat >long-cn.cnf <<'CNF'
openssl_conf = init
[ init ]
stbl_section = stbl
[ stbl ]
commonName = min:1,max:1024
CNF

if [ "${2:-}" = --fleet ]; then
	rm -f long-cn.cnf
	key fleet.key
	printf 'extendedKeyUsage=clientAuth\n' >fleet.ext
	for i in $(seq -w 1 "$3"); do
		openssl req -new -key fleet.key -subj "/CN=fleet-$i" 2>/dev/null |
			openssl x509 -req -CA ca.pem -CAkey ca.key -set_serial "$((3000 + 10#$i))" -days 30 \
				-extfile fleet.ext -out "fleet-$i.pem" 2>/dev/null
	done
	rm -f fleet.ext
	cat server.pem server.key >haproxy.pem
	exit 0
fi

if [ "${2:-}" != --identities ]; then
ca ca "usbws test CA"
ca foreign-ca "some other CA"
leaf server localhost ca "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
extendedKeyUsage=serverAuth"
leaf wrongname wrong.example ca "subjectAltName=DNS:wrong.example
extendedKeyUsage=serverAuth"
leaf node node-1 ca "extendedKeyUsage=clientAuth"
leaf node2 node-2 ca "extendedKeyUsage=clientAuth"
# operators, named by the policy: by CN, and by OU
leaf ops ops-1 ca "extendedKeyUsage=clientAuth"
leaf opsou alice ca "extendedKeyUsage=clientAuth" "/CN=alice/OU=Fleet Operators"
leaf foreign-node intruder foreign-ca "extendedKeyUsage=clientAuth"

# an expired node certificate: 'openssl ca' takes explicit dates
ca_db expired-ca 1000
key expired.key
openssl req -new -key expired.key -out expired.csr -subj "/CN=node-old" 2>/dev/null
openssl ca -batch -config expired-ca/ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr \
	-out expired.pem -startdate 20200101000000Z -enddate 20210101000000Z -notext 2>/dev/null
rm -rf expired.csr expired-ca
rm -f long-cn.cnf
exit 0
fi

# identities the proxy must refuse (every one signed by the right CA)
leaf nocn "" ca "extendedKeyUsage=clientAuth" "/OU=y\/CN=node-1"
n127=$(printf 'n%.0s' $(seq 127))
leaf long128a "${n127}a" ca "extendedKeyUsage=clientAuth"
leaf long128b "${n127}b" ca "extendedKeyUsage=clientAuth"
leaf long300 "$(printf 'n%.0s' $(seq 300))" ca "extendedKeyUsage=clientAuth"
leaf ctrlcn $'node-\x1b[2J' ca "extendedKeyUsage=clientAuth"
leaf sannode node-1 ca "subjectAltName=DNS:node-9.fleet.example,URI:urn:usbws:node-9
extendedKeyUsage=clientAuth"

# a revoked node: 'openssl ca' keeps the index a CRL is made from
ca_db ca-db 2000
key node3.key
openssl req -new -key node3.key -out node3.csr -subj "/CN=node-3" 2>/dev/null
openssl ca -batch -config ca-db/ca.cnf -cert ca.pem -keyfile ca.key -in node3.csr -out node3.pem -notext 2>/dev/null
openssl ca -config ca-db/ca.cnf -cert ca.pem -keyfile ca.key -gencrl -out crl-none.pem 2>/dev/null
openssl ca -config ca-db/ca.cnf -cert ca.pem -keyfile ca.key -revoke node3.pem 2>/dev/null
openssl ca -config ca-db/ca.cnf -cert ca.pem -keyfile ca.key -gencrl -out crl.pem 2>/dev/null
rm -rf node3.csr ca-db
rm -f long-cn.cnf
