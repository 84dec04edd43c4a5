#!/usr/bin/env bash
# The checks of run.sh; $1 holds the two built tools. Prints "N passed, M failed".
# Five checks for each of 4 profiles x SRTP/SRTCP: exactly EXPECTED_CHECKS (40)
# must pass, so a profile or check that silently goes missing fails.
set -uo pipefail
work="$1"
fulmar="$work/srtp-tool"
libsrtp="$work/libsrtp-harness"
passed=0
failed=0
EXPECTED_CHECKS=40

ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

# Flips the low bit of the last byte of every hex line.
tamper() {
  awk '{ c = substr($0, length($0), 1); n = index("0123456789abcdef", c) - 1;
         printf "%s%s\n", substr($0, 1, length($0) - 1), substr("1032547698badcfe", n + 1, 1) }'
}

for profile in SRTP_AES128_CM_HMAC_SHA1_80 SRTP_AES128_CM_HMAC_SHA1_32 \
               SRTP_AEAD_AES_128_GCM SRTP_AEAD_AES_256_GCM; do
  case $profile in
    SRTP_AEAD_AES_256_GCM) key=f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff00112233445566778899aabbccddeeff ;;
    *) key=0f0e0d0c0b0a09080706050403020100 ;;
  esac
  case $profile in
    SRTP_AEAD_*) salt=a0a1a2a3a4a5a6a7a8a9aaab ;;
    *) salt=b0b1b2b3b4b5b6b7b8b9babbbcbd ;;
  esac
  for kind in rtp rtcp; do
    name="$profile $kind"
    d="$work/$profile-$kind"
    mkdir -p "$d"
    # 300 RTP packets: three SSRCs whose sequence numbers wrap (ROC 0 -> 1).
    timeout 60 "$fulmar" gen "$kind" 300 >"$d/plain"
    # libsrtp numbers SRTCP from 1; ask fulmar to do the same to compare bytes.
    first=""; [ "$kind" = rtcp ] && first=1
    timeout 60 "$fulmar" protect "$profile" "$kind" "$key" "$salt" $first <"$d/plain" >"$d/fulmar.prot"
    timeout 60 "$libsrtp" protect "$profile" "$kind" "$key" "$salt" <"$d/plain" >"$d/libsrtp.prot"

    if grep -q ERR "$d/fulmar.prot" "$d/libsrtp.prot"; then
      bad "$name: protect reported errors"
    elif cmp -s "$d/fulmar.prot" "$d/libsrtp.prot"; then
      ok "$name: fulmar and libsrtp protect to identical bytes ($(wc -l <"$d/plain") packets)"
    else
      bad "$name: protected bytes differ"
    fi

    timeout 60 "$libsrtp" unprotect "$profile" "$kind" "$key" "$salt" <"$d/fulmar.prot" >"$d/f2l"
    if cmp -s "$d/f2l" "$d/plain"; then ok "$name: libsrtp unprotects fulmar's packets"
    else bad "$name: libsrtp failed on fulmar's packets ($(grep -c ERR "$d/f2l") errors)"; fi

    timeout 60 "$fulmar" unprotect "$profile" "$kind" "$key" "$salt" <"$d/libsrtp.prot" >"$d/l2f"
    if cmp -s "$d/l2f" "$d/plain"; then ok "$name: fulmar unprotects libsrtp's packets"
    else bad "$name: fulmar failed on libsrtp's packets ($(grep -c ERR "$d/l2f") errors)"; fi

    # Tampered packets: every one rejected by both.
    tamper <"$d/libsrtp.prot" >"$d/tampered"
    timeout 60 "$fulmar" unprotect "$profile" "$kind" "$key" "$salt" <"$d/tampered" >"$d/t-f"
    timeout 60 "$libsrtp" unprotect "$profile" "$kind" "$key" "$salt" <"$d/tampered" >"$d/t-l"
    if [ "$(grep -c '^ERR' "$d/t-f")" = 300 ] && [ "$(grep -c '^ERR' "$d/t-l")" = 300 ]; then
      ok "$name: tampered packets rejected by both"
    else bad "$name: a tampered packet was accepted"; fi

    # Replays: the second copy of every packet rejected by both.
    cat "$d/libsrtp.prot" "$d/fulmar.prot" >"$d/twice"
    timeout 60 "$fulmar" unprotect "$profile" "$kind" "$key" "$salt" <"$d/twice" | tail -n 300 >"$d/r-f"
    timeout 60 "$libsrtp" unprotect "$profile" "$kind" "$key" "$salt" <"$d/twice" | tail -n 300 >"$d/r-l"
    if [ "$(grep -c '^ERR' "$d/r-f")" = 300 ] && [ "$(grep -c '^ERR' "$d/r-l")" = 300 ]; then
      ok "$name: replayed packets rejected by both"
    else bad "$name: a replayed packet was accepted"; fi
  done
done

[ "$passed" -eq "$EXPECTED_CHECKS" ] || bad "$passed checks passed, $EXPECTED_CHECKS expected"
echo "libsrtp: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
