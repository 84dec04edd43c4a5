#!/usr/bin/env python3
"""Fulmar against headless Chromium (loopback only).

Usage: harness.py PAGE [NAME=BINARY@ADDR ...]

Starts each Fulmar peer binary (listening on ADDR), serves PAGE and proxies
the page's signaling to the peers by path prefix:
  POST /offer          -> echo peer (datachannel-echo) /offer
  /fulmar/<rest>       -> offer peer (datachannel-offer) /<rest>
  /peer/<rest>         -> interop peer (interop-chromium) /<rest>
  GET /turn/credentials -> time-limited TURN credentials made from $TURN_SECRET
  GET /turn/metrics    -> the TURN server's metrics page ($TURN_METRICS)
  GET /common.js        -> the helpers shared by the pages
launches headless Chromium at the page, waits for the page to POST its
results to /result, prints a pass/fail table and exits non-zero on any
failure. Checks named in $EXPECTED_FAIL (comma-separated) are reported as
XFAIL when they fail (and XPASS, a failure, when they pass). With
$EXPECTED_CHECKS set (and no $PAGE_QUERY choosing scenarios), a run that
reports another number of checks fails, so a scenario that silently goes
missing is a failure. Every process it
starts is ended by its own PID (Chromium by its own process group) and
bounded by a timeout.
"""
import base64, hashlib, hmac, http.server, json, os, signal, subprocess, sys, tempfile, threading, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = os.environ.get("CHROMIUM", "chromium")
PAGE_PORT, LIMIT = 8000, float(os.environ.get("LIMIT", "120"))
PAGE = sys.argv[1]
PEERS = dict((a.split("=", 1)[0], a.split("=", 1)[1].rsplit("@", 1)) for a in sys.argv[2:])
ROUTES = {"/fulmar/": "offer", "/peer/": "interop"}
EXPECTED_FAIL = [n for n in os.environ.get("EXPECTED_FAIL", "").split(",") if n]
EXPECTED_CHECKS = int(os.environ.get("EXPECTED_CHECKS") or 0) if not os.environ.get("PAGE_QUERY") else 0
result = {}
done = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, ctype, body):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def forward(self, url, body, ctype="application/sdp"):
        req = urllib.request.Request(url, data=body, headers={"Content-Type": ctype})
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                self.reply(r.status, r.headers.get("Content-Type", ctype), r.read())
        except urllib.error.HTTPError as e:  # the peer's own error reply
            self.reply(e.code, "text/plain", e.read())
        except Exception as e:  # report the failure to the page
            self.reply(502, "text/plain", str(e).encode())

    def route(self, body):
        for prefix, peer in ROUTES.items():
            if self.path.startswith(prefix) and peer in PEERS:
                return self.forward(f"http://{PEERS[peer][1]}/" + self.path[len(prefix):], body)
        if self.path == "/offer" and "echo" in PEERS:
            return self.forward(f"http://{PEERS['echo'][1]}/offer", body)
        if self.path == "/turn/credentials":
            # TURN REST API credentials (coturn's use-auth-secret): username
            # "<expiry>:<user>", password base64(HMAC-SHA1(secret, username)).
            secret = os.environ.get("TURN_SECRET", "").encode()
            user = f"{int(time.time()) + 3600}:chromium"
            pwd = base64.b64encode(hmac.new(secret, user.encode(), hashlib.sha1).digest()).decode()
            return self.reply(200, "application/json", json.dumps({"username": user, "credential": pwd}).encode())
        if self.path == "/turn/metrics" and os.environ.get("TURN_METRICS"):
            return self.forward(os.environ["TURN_METRICS"], None, "text/plain")
        if self.path == "/result" and body is not None:
            posted = json.loads(body or b"{}")
            result.setdefault("checks", []).extend(posted.get("checks", []))
            self.reply(200, "text/plain", b"ok")
            if posted.get("final", True):
                done.set()
            return
        if body is None and self.path == "/common.js":
            with open(os.path.join(HERE, "common.js"), "rb") as f:
                return self.reply(200, "application/javascript", f.read())
        if body is None and self.path.split("?")[0].endswith(".html"):
            name = os.path.basename(self.path.split("?")[0])
            path = os.path.join(os.path.dirname(os.path.abspath(PAGE)), name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    return self.reply(200, "text/html", f.read())
        self.reply(404, "text/plain", b"")

    def do_GET(self):
        self.route(None)

    def do_POST(self):
        self.route(self.rfile.read(int(self.headers.get("Content-Length", "0"))))


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", PAGE_PORT), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    peers = []
    for name, (binary, addr) in PEERS.items():
        log = open(os.path.join(tempfile.gettempdir(), f"fulmar-{name}.log"), "w")
        peers.append(subprocess.Popen([binary, addr], stdout=subprocess.DEVNULL, stderr=log))
    time.sleep(0.5)
    profile = tempfile.mkdtemp()
    chrome = subprocess.Popen(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--allow-loopback-in-peer-connection",
         "--disable-features=WebRtcHideLocalIpsWithMdns",
         "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
         *os.environ.get("CHROMIUM_FLAGS", "").split(),
         f"http://127.0.0.1:{PAGE_PORT}/{os.path.basename(PAGE)}{os.environ.get('PAGE_QUERY', '')}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    start = time.time()
    finished = done.wait(LIMIT)
    elapsed = time.time() - start
    os.killpg(chrome.pid, signal.SIGKILL)  # Chromium's own process group only
    for p in peers:
        p.kill()
    for p in peers + [chrome]:
        p.wait(timeout=10)
    server.shutdown()
    checks = result.get("checks", [])
    if not finished:
        checks.append({"name": "page finished", "pass": False, "detail": f"no result in {LIMIT:.0f} s"})
    if EXPECTED_CHECKS and len(checks) != EXPECTED_CHECKS:
        checks.append({"name": "expected number of checks", "pass": False,
                       "detail": f"{len(checks)} checks reported, {EXPECTED_CHECKS} expected"})
    width = max([len(c["name"]) for c in checks] + [10])
    print(f"Fulmar x Chromium: {os.path.basename(PAGE)} ({elapsed:.1f} s)")
    failed = 0
    for c in checks:
        xfail = c["name"] in EXPECTED_FAIL
        word = ("XPASS" if xfail else "PASS") if c["pass"] else ("XFAIL" if xfail else "FAIL")
        failed += word in ("FAIL", "XPASS")
        print(f"  {word:<5}  {c['name']:<{width}}  {c.get('detail', '')}")
    xfails = sum(1 for c in checks if not c["pass"] and c["name"] in EXPECTED_FAIL)
    print(f"{sum(1 for c in checks if c['pass'])}/{len(checks)} passed" + (f", {xfails} expected failures" if xfails else ""))
    sys.exit(1 if failed or not checks else 0)


if __name__ == "__main__":
    main()
