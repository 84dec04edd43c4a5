/* nice-peer: a libnice ICE agent driven over stdin/stdout, for interop with
 * fulmar-ice. Usage: nice-peer controlling|controlled
 *
 * Line protocol (both directions):
 *   CRED <ufrag> <pwd>        credentials
 *   CAND <a=candidate:...>    one candidate (SDP attribute form)
 *   DONE                      end of candidates
 * libnice also prints, for the harness:
 *   SELECTED <local> <remote>, STATE READY|FAILED, RECV <text>
 * Once READY it sends "hello from libnice" over the selected pair; it exits
 * 0 once it has both sent and received application data, 1 on failure or
 * after 20 s. Only 127.0.0.1 is used.
 */
#include <agent.h>
#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static GMainLoop *loop;
static NiceAgent *agent;
static guint stream_id;
static GSList *remote_cands;
static gboolean got_data, sent_data;
static int exit_code = 1;

static void out(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
}

static void maybe_finish(void) {
  if (got_data && sent_data) {
    exit_code = 0;
    g_main_loop_quit(loop);
  }
}

static void on_gathering_done(NiceAgent *a, guint sid, gpointer data) {
  gchar *ufrag = NULL, *pwd = NULL;
  nice_agent_get_local_credentials(a, sid, &ufrag, &pwd);
  out("CRED %s %s", ufrag, pwd);
  GSList *cands = nice_agent_get_local_candidates(a, sid, 1);
  for (GSList *i = cands; i; i = i->next) {
    gchar *sdp = nice_agent_generate_local_candidate_sdp(a, i->data);
    out("CAND %s", sdp);
    g_free(sdp);
  }
  g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
  out("DONE");
  g_free(ufrag);
  g_free(pwd);
}

static void on_state(NiceAgent *a, guint sid, guint cid, guint state, gpointer data) {
  if (state == NICE_COMPONENT_STATE_READY) {
    out("STATE READY");
    if (!sent_data) {
      const char *msg = "hello from libnice";
      if (nice_agent_send(a, sid, cid, strlen(msg), msg) > 0) sent_data = TRUE;
      maybe_finish();
    }
  } else if (state == NICE_COMPONENT_STATE_FAILED) {
    out("STATE FAILED");
    g_main_loop_quit(loop);
  }
}

static void on_selected(NiceAgent *a, guint sid, guint cid, NiceCandidate *l, NiceCandidate *r, gpointer data) {
  gchar la[NICE_ADDRESS_STRING_LEN], ra[NICE_ADDRESS_STRING_LEN];
  nice_address_to_string(&l->addr, la);
  nice_address_to_string(&r->addr, ra);
  out("SELECTED %s:%u %s:%u", la, nice_address_get_port(&l->addr), ra, nice_address_get_port(&r->addr));
}

static void on_recv(NiceAgent *a, guint sid, guint cid, guint len, gchar *buf, gpointer data) {
  gchar *text = g_strndup(buf, len);
  out("RECV %s", text);
  g_free(text);
  got_data = TRUE;
  maybe_finish();
}

static gboolean on_stdin(GIOChannel *ch, GIOCondition cond, gpointer data) {
  gchar *line = NULL;
  gsize len = 0;
  GIOStatus st = g_io_channel_read_line(ch, &line, &len, NULL, NULL);
  if (st != G_IO_STATUS_NORMAL || !line) return st == G_IO_STATUS_AGAIN;
  g_strchomp(line);
  if (g_str_has_prefix(line, "CRED ")) {
    gchar **p = g_strsplit(line + 5, " ", 2);
    if (p[0] && p[1]) nice_agent_set_remote_credentials(agent, stream_id, p[0], p[1]);
    g_strfreev(p);
  } else if (g_str_has_prefix(line, "CAND ")) {
    NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(agent, stream_id, line + 5);
    if (c) remote_cands = g_slist_append(remote_cands, c);
    else fprintf(stderr, "nice-peer: cannot parse %s\n", line + 5);
  } else if (g_str_has_prefix(line, "DONE")) {
    int n = nice_agent_set_remote_candidates(agent, stream_id, 1, remote_cands);
    fprintf(stderr, "nice-peer: %d remote candidates\n", n);
  }
  g_free(line);
  return TRUE;
}

static gboolean on_timeout(gpointer data) {
  out("STATE TIMEOUT");
  g_main_loop_quit(loop);
  return FALSE;
}

int main(int argc, char **argv) {
  gboolean controlling = argc > 1 && strcmp(argv[1], "controlling") == 0;
  loop = g_main_loop_new(NULL, FALSE);
  agent = nice_agent_new(g_main_loop_get_context(loop), NICE_COMPATIBILITY_RFC5245);
  g_object_set(agent, "controlling-mode", controlling, "ice-tcp", FALSE, "upnp", FALSE, NULL);
  NiceAddress addr;
  nice_address_init(&addr);
  nice_address_set_from_string(&addr, "127.0.0.1");
  nice_agent_add_local_address(agent, &addr);
  g_signal_connect(agent, "candidate-gathering-done", G_CALLBACK(on_gathering_done), NULL);
  g_signal_connect(agent, "component-state-changed", G_CALLBACK(on_state), NULL);
  g_signal_connect(agent, "new-selected-pair-full", G_CALLBACK(on_selected), NULL);
  stream_id = nice_agent_add_stream(agent, 1);
  nice_agent_attach_recv(agent, stream_id, 1, g_main_loop_get_context(loop), on_recv, NULL);
  GIOChannel *in = g_io_channel_unix_new(0);
  g_io_add_watch(in, G_IO_IN | G_IO_HUP, on_stdin, NULL);
  nice_agent_gather_candidates(agent, stream_id);
  g_timeout_add_seconds(20, on_timeout, NULL);
  g_main_loop_run(loop);
  g_object_unref(agent);
  return exit_code;
}
