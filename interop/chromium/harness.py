#!/usr/bin/env python3
"""Fulmar data channels against headless Chromium (loopback only).

Starts the Fulmar datachannel-echo and datachannel-offer examples, serves test.html and proxies
signaling to them, launches headless Chromium at the page, waits for the
page to POST its results to /result, prints a pass/fail table and exits
non-zero on any failure. Every process it starts is ended by its own PID
(Chromium by its own process group) and bounded by a timeout.
"""
import http.server, json, os, signal, subprocess, sys, tempfile, threading, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ECHO, OFFERER = sys.argv[1], sys.argv[2]
CHROMIUM = os.environ.get("CHROMIUM", "chromium")
FULMAR_ADDR, OFFERER_ADDR, PAGE_PORT, LIMIT = "127.0.0.1:8080", "127.0.0.1:8081", 8000, float(os.environ.get("LIMIT", "120"))
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

    def proxy(self, body):
        url = f"http://{OFFERER_ADDR}/" + self.path[len("/fulmar/"):]
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10) as r:
                self.reply(r.status, "application/sdp", r.read())
        except Exception as e:  # report the failure to the page
            self.reply(502, "text/plain", str(e).encode())

    def do_GET(self):
        if self.path.startswith("/fulmar/"):
            return self.proxy(None)
        with open(os.path.join(HERE, "test.html"), "rb") as f:
            self.reply(200, "text/html", f.read())

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path.startswith("/fulmar/"):
            self.proxy(body)
        elif self.path == "/offer":
            req = urllib.request.Request(f"http://{FULMAR_ADDR}/offer", data=body, headers={"Content-Type": "application/sdp"})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    self.reply(r.status, "application/sdp", r.read())
            except Exception as e:  # report the failure to the page
                self.reply(502, "text/plain", str(e).encode())
        elif self.path == "/result":
            posted = json.loads(body or b"{}")
            result.setdefault("checks", []).extend(posted.get("checks", []))
            self.reply(200, "text/plain", b"ok")
            if posted.get("final", True):
                done.set()
        else:
            self.reply(404, "text/plain", b"")


def main():
    procs = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", PAGE_PORT), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    echo = subprocess.Popen([ECHO, FULMAR_ADDR], stdout=subprocess.DEVNULL, stderr=open(os.path.join(tempfile.gettempdir(), "fulmar-echo.log"), "w"))
    procs.append(echo)
    procs.append(subprocess.Popen([OFFERER, OFFERER_ADDR], stdout=subprocess.DEVNULL, stderr=open(os.path.join(tempfile.gettempdir(), "fulmar-offer.log"), "w")))
    time.sleep(0.5)
    profile = tempfile.mkdtemp()
    chrome = subprocess.Popen(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--allow-loopback-in-peer-connection",
         "--disable-features=WebRtcHideLocalIpsWithMdns", f"http://127.0.0.1:{PAGE_PORT}/test.html"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    procs.append(chrome)
    start = time.time()
    finished = done.wait(LIMIT)
    elapsed = time.time() - start
    os.killpg(chrome.pid, signal.SIGKILL)  # Chromium's own process group only
    for p in procs[:2]:
        p.kill()
    for p in procs:
        p.wait(timeout=10)
    server.shutdown()
    checks = result.get("checks", [])
    if not finished:
        checks.append({"name": "page finished", "pass": False, "detail": f"no result in {LIMIT:.0f} s"})
    width = max([len(c["name"]) for c in checks] + [10])
    print(f"Fulmar x Chromium data channels ({elapsed:.1f} s)")
    for c in checks:
        print(f"  {'PASS' if c['pass'] else 'FAIL'}  {c['name']:<{width}}  {c.get('detail', '')}")
    failed = [c for c in checks if not c["pass"]]
    print(f"{len(checks) - len(failed)}/{len(checks)} passed")
    sys.exit(1 if failed or not checks else 0)


if __name__ == "__main__":
    main()
