/*
 * libsrtp side of the fulmar-srtp interop suite. Same line protocol as
 * `cargo run -p fulmar-srtp --example srtp-tool`:
 *
 *   libsrtp-harness protect   <profile> <rtp|rtcp> <key-hex> <salt-hex>
 *   libsrtp-harness unprotect <profile> <rtp|rtcp> <key-hex> <salt-hex>
 *
 * reads one hex packet per line on stdin and prints the result in hex, or
 * "ERR <libsrtp status>" for a packet libsrtp rejects.
 */
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PACKET 4096

static int hex_decode(const char *s, unsigned char *out, size_t cap) {
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
  if (n % 2 != 0 || n / 2 > cap) return -1;
  for (size_t i = 0; i < n / 2; i++) {
    unsigned int b;
    if (sscanf(s + 2 * i, "%2x", &b) != 1) return -1;
    out[i] = (unsigned char)b;
  }
  return (int)(n / 2);
}

static int profile_by_name(const char *name, srtp_profile_t *profile) {
  if (!strcmp(name, "SRTP_AES128_CM_HMAC_SHA1_80")) *profile = srtp_profile_aes128_cm_sha1_80;
  else if (!strcmp(name, "SRTP_AES128_CM_HMAC_SHA1_32")) *profile = srtp_profile_aes128_cm_sha1_32;
  else if (!strcmp(name, "SRTP_AEAD_AES_128_GCM")) *profile = srtp_profile_aead_aes_128_gcm;
  else if (!strcmp(name, "SRTP_AEAD_AES_256_GCM")) *profile = srtp_profile_aead_aes_256_gcm;
  else return -1;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s <protect|unprotect> <profile> <rtp|rtcp> <key-hex> <salt-hex>\n", argv[0]);
    return 2;
  }
  int protect = !strcmp(argv[1], "protect");
  int rtp = !strcmp(argv[3], "rtp");
  srtp_profile_t profile;
  if (profile_by_name(argv[2], &profile) != 0) {
    fprintf(stderr, "unknown profile %s\n", argv[2]);
    return 2;
  }
  /* libsrtp takes the master key immediately followed by the master salt. */
  unsigned char key[64];
  int key_len = hex_decode(argv[4], key, sizeof key);
  int salt_len = key_len < 0 ? -1 : hex_decode(argv[5], key + key_len, sizeof key - (size_t)key_len);
  if (key_len < 0 || salt_len < 0 ||
      (unsigned)key_len != srtp_profile_get_master_key_length(profile) ||
      (unsigned)salt_len != srtp_profile_get_master_salt_length(profile)) {
    fprintf(stderr, "bad key or salt for %s\n", argv[2]);
    return 2;
  }

  if (srtp_init() != srtp_err_status_ok) return 1;
  srtp_policy_t policy;
  memset(&policy, 0, sizeof policy);
  if (srtp_crypto_policy_set_from_profile_for_rtp(&policy.rtp, profile) != srtp_err_status_ok ||
      srtp_crypto_policy_set_from_profile_for_rtcp(&policy.rtcp, profile) != srtp_err_status_ok) {
    fprintf(stderr, "libsrtp does not support %s\n", argv[2]);
    return 1;
  }
  policy.ssrc.type = protect ? ssrc_any_outbound : ssrc_any_inbound;
  policy.key = key;
  policy.window_size = 1024;
  policy.allow_repeat_tx = 0;
  srtp_t session;
  srtp_err_status_t st = srtp_create(&session, &policy);
  if (st != srtp_err_status_ok) {
    fprintf(stderr, "srtp_create failed: %d\n", st);
    return 1;
  }

  static char line[2 * MAX_PACKET + 8];
  static unsigned char buf[MAX_PACKET + SRTP_MAX_TRAILER_LEN];
  while (fgets(line, sizeof line, stdin)) {
    int len = hex_decode(line, buf, MAX_PACKET);
    if (len < 0) {
      fprintf(stderr, "bad hex line\n");
      return 1;
    }
    if (protect)
      st = rtp ? srtp_protect(session, buf, &len) : srtp_protect_rtcp(session, buf, &len);
    else
      st = rtp ? srtp_unprotect(session, buf, &len) : srtp_unprotect_rtcp(session, buf, &len);
    if (st != srtp_err_status_ok) {
      printf("ERR %d\n", st);
      continue;
    }
    for (int i = 0; i < len; i++) printf("%02x", buf[i]);
    printf("\n");
  }
  srtp_dealloc(session);
  srtp_shutdown();
  return 0;
}
