#!/usr/bin/env python3
"""fulmar-signal's demo page against headless Chromium (loopback only).

Environment: SIGNAL (the fulmar-signal binary), BOT (the fulmar-signal-client
bot example), EXPECTED_CHECKS.

Starts fulmar-signal in open mode, the echo bot in room "t", a result
endpoint, and a TCP proxy in front of the server for browser B (so the
harness can cut B's signaling WebSocket mid-call). Browser A opens the page
directly, browser B through the proxy a second later; both run the page's
test mode for SECONDS and POST what they saw. Halfway, every connection
through the proxy is cut: B's page must resume its session, and the calls
must keep running. Prints a pass/fail table; exits non-zero on any failure
or on another number of checks than EXPECTED_CHECKS. Every process it
starts is bounded and ended by its own PID (Chromium by its process group).

With MODE=failover (interop/signal-failover) it starts a redis-server
(REDIS_SERVER) and two nodes sharing it instead of the proxy: browser A
and the bot on node 1, browser B on node 2, each page given both nodes'
WebSocket URLs (?signal=). Halfway, node 2 is killed (SIGKILL): B's page
must resume its session on node 1 while the calls go on, and no one may
see B leave.
"""
import http.server, json, os, signal, socket, subprocess, sys, tempfile, threading, time

SIGNAL, BOT = os.environ["SIGNAL"], os.environ["BOT"]
CHROMIUM = os.environ.get("CHROMIUM", "chromium")
EXPECTED_CHECKS = int(os.environ.get("EXPECTED_CHECKS") or 0)
SERVER, PROXY, RESULT = ("127.0.0.1", 8443), ("127.0.0.1", 8444), ("127.0.0.1", 8445)
FAILOVER = os.environ.get("MODE") == "failover"
NODE2, REDIS_PORT = ("127.0.0.1", 8446), 6391
SECONDS, LIMIT = 14, 90
results = {}
got_both = threading.Event()


class Result(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        results[body["name"]] = body
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        if len(results) == 2:
            got_both.set()

    def log_message(self, *args):
        pass


class Proxy(threading.Thread):
    """Forwards TCP from PROXY to SERVER; cut() closes every open pair."""

    def __init__(self):
        super().__init__(daemon=True)
        self.listener = socket.create_server(PROXY)
        self.pairs, self.lock, self.cuts = [], threading.Lock(), 0

    def run(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(SERVER, timeout=5)
            upstream.settimeout(None)  # the timeout bounds the connect only
            with self.lock:
                self.pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pump, args=(a, b), daemon=True).start()

    @staticmethod
    def pump(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
        self.cuts += len(pairs)


def chromium(name, host, signal_urls=()):
    profile = tempfile.mkdtemp(prefix=f"fulmar-signal-{name}-")
    url = (f"http://{host[0]}:{host[1]}/?room=t&name={name}&seconds={SECONDS}"
           f"&report=http://{RESULT[0]}:{RESULT[1]}/result")
    if signal_urls:
        url += "&signal=" + ",".join(f"ws://{h}:{p}/ws" for h, p in signal_urls)
    return subprocess.Popen(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--allow-loopback-in-peer-connection",
         "--disable-features=WebRtcHideLocalIpsWithMdns", "--autoplay-policy=no-user-gesture-required",
         "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream=fps=30", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def peer(report, name):
    for p in (report or {}).get("peers", []):
        if p["name"] == name:
            return p
    return {"state": "absent", "frames": 0, "received": 0}


def main():
    server = http.server.ThreadingHTTPServer(RESULT, Result)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log = open(os.path.join(tempfile.gettempdir(), "fulmar-signal-interop.log"), "w")
    extra, node_args, node2, proxy = [], [], None, None
    if FAILOVER:
        redis = subprocess.Popen(
            ["timeout", str(LIMIT + 60), os.environ.get("REDIS_SERVER", "redis-server"), "--port", str(REDIS_PORT),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], stdout=log, stderr=log)
        extra.append(redis)
        time.sleep(0.5)
        node_args = ["--redis", f"redis://127.0.0.1:{REDIS_PORT}"]
    sig = subprocess.Popen([SIGNAL, "--open", "--listen", f"{SERVER[0]}:{SERVER[1]}", *node_args], stdout=log, stderr=log)
    if FAILOVER:
        node2 = subprocess.Popen([SIGNAL, "--open", "--listen", f"{NODE2[0]}:{NODE2[1]}", *node_args],
                                 stdout=log, stderr=log)
        extra.append(node2)
    time.sleep(0.5)
    bot = subprocess.Popen([BOT, f"ws://{SERVER[0]}:{SERVER[1]}/ws", "t"], stdout=log, stderr=log)
    if not FAILOVER:
        proxy = Proxy()
        proxy.start()
    time.sleep(1)
    a = chromium("A", SERVER, (SERVER, NODE2) if FAILOVER else ())
    time.sleep(1)
    b = chromium("B", NODE2, (NODE2, SERVER)) if FAILOVER else chromium("B", PROXY)
    time.sleep(SECONDS / 2)
    if FAILOVER:
        node2.kill()  # SIGKILL: node 2 says nothing to Redis or its clients
    else:
        proxy.cut()
    finished = got_both.wait(LIMIT)
    for c in (a, b):
        os.killpg(c.pid, signal.SIGKILL)  # Chromium's own process group only
    for p in (bot, sig, *extra):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in (a, b, bot, sig, *extra):
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    server.shutdown()

    ra, rb = results.get("A"), results.get("B")
    if os.environ.get("VERBOSE"):
        print(json.dumps(results, indent=1))
    ab, ba = peer(ra, "B"), peer(rb, "A")
    a_bot, b_bot = peer(ra, "echo-bot"), peer(rb, "echo-bot")
    checks = [
        ("page A reported", ra is not None, "" if finished else f"no result in {LIMIT} s"),
        ("page B reported", rb is not None, ""),
        ("A and B connected peer to peer", ab["state"] == "connected" and ba["state"] == "connected",
         f"A sees B {ab['state']}, B sees A {ba['state']}"),
        ("A decodes B's video", ab["frames"] > 60, f"{ab['frames']} frames"),
        ("B decodes A's video", ba["frames"] > 60, f"{ba['frames']} frames"),
        ("chat both ways between the browsers", ab["received"] >= 1 and ba["received"] >= 1,
         f"A got {ab['received']}, B got {ba['received']}"),
        ("both browsers connected to the Fulmar bot",
         a_bot["state"] == "connected" and b_bot["state"] == "connected",
         f"A: {a_bot['state']}, B: {b_bot['state']}"),
        ("the bot echoes each browser's video", a_bot["frames"] > 60 and b_bot["frames"] > 60,
         f"A decoded {a_bot['frames']}, B {b_bot['frames']} echoed frames"),
        ("the bot echoes the chat", a_bot["received"] >= 1 and b_bot["received"] >= 1,
         f"A got {a_bot['received']}, B got {b_bot['received']}"),
        ("B's signaling resumed on node 1 after node 2 was killed",
         node2.returncode is not None and (rb or {}).get("resumed", 0) == 1
         and (rb or {}).get("signal") == f"ws://{SERVER[0]}:{SERVER[1]}/ws",
         f"B resumed {(rb or {}).get('resumed', 0)} time(s), now on {(rb or {}).get('signal')}")
        if FAILOVER else
        ("B's signaling resumed after its WebSocket was cut",
         proxy.cuts > 0 and (rb or {}).get("resumed", 0) == 1,
         f"{proxy.cuts} connections cut, B resumed {(rb or {}).get('resumed', 0)} time(s)"),
        ("no one saw B leave, and B has exactly two peers",
         ra is not None and rb is not None and "B" not in ra.get("left", []) and len(rb.get("peers", [])) == 2,
         f"A saw leave: {(ra or {}).get('left')}, B's peers: {[p['name'] for p in (rb or {}).get('peers', [])]}"),
    ]
    if EXPECTED_CHECKS and len(checks) != EXPECTED_CHECKS:
        checks.append(("expected number of checks", False, f"{len(checks)} reported, {EXPECTED_CHECKS} expected"))
    width = max(len(c[0]) for c in checks)
    for name, ok, detail in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name:<{width}}  {detail}")
    failed = sum(1 for c in checks if not c[1])
    print(f"signal: {len(checks) - failed}/{len(checks)} checks passed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
