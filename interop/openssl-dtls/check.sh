#!/usr/bin/env bash
# Runs inside the loopback-only namespace made by run.sh; $1 is the work dir.
# Eight checks for each of the ECDSA and RSA certificates: exactly
# EXPECTED_CHECKS (16) must pass, so a run that silently goes missing fails.
set -uo pipefail
work="$1"
peer="$work/dtls-peer"
profiles="SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"
pass=0
fail=0
EXPECTED_CHECKS=16

fp() { echo "sha-256 $(openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//')"; }
km() { grep -o 'Keying material: [0-9A-Fa-f]*' "$1" | head -1 | sed 's/.*: //' | tr a-f A-F; }

check() { # name, condition-command...
  local name="$1"; shift
  if "$@"; then echo "ok   $name"; pass=$((pass + 1)); else echo "FAIL $name"; fail=$((fail + 1)); fi
}

same_keys() {
  local a b
  a="$(km "$1")"; b="$(km "$2")"
  [ -n "$a" ] && [ "$a" = "$b" ]
}

port=4440
for kind in ec rsa; do
  # 1. Fulmar client -> openssl s_server.
  port=$((port + 1))
  out="$work/s_server-$kind.out"; mine="$work/client-$kind.out"
  (sleep 2; echo "hello from openssl s_server"; sleep 4) | \
    timeout 12 openssl s_server -dtls1_2 -accept "127.0.0.1:$port" \
      -cert "$work/$kind.pem" -key "$work/$kind.key" -use_srtp "$profiles" \
      -keymatexport EXTRACTOR-dtls_srtp -keymatexportlen 60 >"$out" 2>&1 &
  spid=$!
  sleep 0.5
  timeout 10 "$peer" client "127.0.0.1:$port" --expect "$(fp "$work/$kind.pem")" \
    --send "hello from fulmar client" --secs 5 >"$mine" 2>&1
  kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
  check "$kind: fulmar client connected" grep -q '^connected:' "$mine"
  grep -h '^connected:' "$mine" | sed 's/^/     /' 
  check "$kind: fulmar client exporter == s_server -keymatexport" same_keys "$mine" "$out"
  check "$kind: s_server got fulmar's data" grep -q 'hello from fulmar client' "$out"
  check "$kind: fulmar client got s_server's data" grep -q 'received: hello from openssl s_server' "$mine"

  # 2. openssl s_client -> Fulmar server (client certificate from openssl).
  port=$((port + 1))
  out="$work/s_client-$kind.out"; mine="$work/server-$kind.out"
  timeout 12 "$peer" server "127.0.0.1:$port" --expect "$(fp "$work/$kind.pem")" --echo --secs 6 >"$mine" 2>&1 &
  fpid=$!
  sleep 0.5
  (sleep 2; echo "hello from openssl s_client"; sleep 2) | \
    timeout 10 openssl s_client -dtls1_2 -connect "127.0.0.1:$port" \
      -cert "$work/$kind.pem" -key "$work/$kind.key" -use_srtp "$profiles" \
      -keymatexport EXTRACTOR-dtls_srtp -keymatexportlen 60 >"$out" 2>&1
  wait "$fpid" 2>/dev/null
  check "$kind: fulmar server connected" grep -q '^connected:' "$mine"
  grep -h '^connected:' "$mine" | sed 's/^/     /' 
  check "$kind: fulmar server exporter == s_client -keymatexport" same_keys "$mine" "$out"
  check "$kind: fulmar server got s_client's data" grep -q 'received: hello from openssl s_client' "$mine"
  check "$kind: s_client got the echo" grep -q 'echo: hello from openssl s_client' "$out"
  if [ "$fail" -gt 0 ]; then
    for f in "$work"/*-"$kind".out; do echo "--- $f"; tail -n 25 "$f"; done
  fi
done
if [ "$pass" -ne "$EXPECTED_CHECKS" ]; then echo "FAIL $pass checks passed, $EXPECTED_CHECKS expected"; fail=$((fail + 1)); fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
