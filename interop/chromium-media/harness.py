#!/usr/bin/env python3
"""fulmar-gateway media against headless Chromium (loopback only).

Usage: harness.py GATEWAY_BINARY

Starts fulmar-gateway (recording WHIP sessions into a temporary folder),
serves test.html from another origin, runs a 5%-each-way lossy UDP relay for
the "echo with loss" scenario (the drop rate it observed must be within
LOSS_BOUNDS each way), launches headless Chromium with the fake camera and
microphone, collects the page's checks, then decodes every file the gateway
recorded with ffprobe/ffmpeg. Prints a pass/fail table and exits non-zero on
any failure, and when the run reports another number of checks than
$EXPECTED_CHECKS (so that a scenario that goes missing fails). Every process it starts is bounded by a timeout and
ended by its own PID (Chromium by its own process group).
"""
import glob, http.server, json, os, random, select, signal, socket, subprocess, sys, tempfile, threading, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
GATEWAY = sys.argv[1]
CHROMIUM = os.environ.get("CHROMIUM", "chromium")
GW_ADDR, PAGE_PORT, LIMIT = "127.0.0.1:8090", 8000, float(os.environ.get("LIMIT", "150"))
LOSS = 0.05
LOSS_BOUNDS = (0.03, 0.07)
EXPECTED_CHECKS = int(os.environ.get("EXPECTED_CHECKS") or 0)
result = {"checks": []}
done = threading.Event()
relays = []


class LossyRelay(threading.Thread):
    """Forwards UDP between Chromium and the gateway, dropping LOSS of the
    RTP/RTCP packets (first byte 128..191, RFC 7983) in each direction:
    one packet at a random place in every 1/LOSS (20) in a row, so that the
    rate is LOSS whatever the number of packets and the places vary. STUN and
    DTLS pass untouched so that only media sees loss."""

    def __init__(self, target):
        super().__init__(daemon=True)
        self.target, self.client = target, None
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind(("127.0.0.1", 0))
        self.stop, self.dropped, self.forwarded, self.media = False, [0, 0], [0, 0], [0, 0]
        self.rng = random.Random(7)
        self.block = round(1 / LOSS) if LOSS else 0
        self.victim = [self.rng.randrange(self.block) if self.block else -1 for _ in range(2)]

    def lose(self, data, way):
        media = bool(data) and 128 <= data[0] <= 191
        if media:
            place = self.media[way] % self.block if self.block else -2
            self.media[way] += 1
            drop = place == self.victim[way]
            if place == self.block - 1:  # the block ends: the next one's victim
                self.victim[way] = self.rng.randrange(self.block)
            if drop:
                self.dropped[way] += 1
                return True
        self.forwarded[way] += 1
        return False

    def run(self):
        while not self.stop:
            ready, _, _ = select.select([self.front, self.back], [], [], 0.2)
            for s in ready:
                data, addr = s.recvfrom(65536)
                if s is self.front:
                    self.client = addr
                    if not self.lose(data, 0):
                        self.back.sendto(data, self.target)
                elif self.client and not self.lose(data, 1):
                    self.front.sendto(data, self.client)


def lossy_offer(offer):
    """POSTs the offer (without Chromium's candidates, so the gateway can only
    reach Chromium through the relay) to the gateway, and points the answer's
    candidate at the relay."""
    offer = "".join(l for l in offer.splitlines(True) if not l.startswith("a=candidate:"))
    req = urllib.request.Request(f"http://{GW_ADDR}/offer", data=offer.encode(), headers={"Content-Type": "application/sdp"})
    with urllib.request.urlopen(req, timeout=10) as r:
        answer = r.read().decode()
    out, mine = [], {}
    for line in answer.splitlines(True):
        f = line.split()
        if line.startswith("a=candidate:") and len(f) > 5 and f[2].lower() == "udp":
            target = (f[4], int(f[5]))
            if target not in mine:  # one relay per gateway socket (candidates repeat per m-line)
                mine[target] = LossyRelay(target)
                mine[target].start()
                relays.append(mine[target])
            f[4], f[5] = "127.0.0.1", str(mine[target].front.getsockname()[1])
            line = " ".join(f) + "\r\n"
        out.append(line)
    return "".join(out)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, ctype, body):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with open(os.path.join(HERE, "test.html"), "rb") as f:
            self.reply(200, "text/html", f.read())

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/lossy-offer":
            try:
                self.reply(200, "application/sdp", lossy_offer(body.decode()).encode())
            except Exception as e:  # report the failure to the page
                self.reply(502, "text/plain", str(e).encode())
        elif self.path == "/result":
            posted = json.loads(body or b"{}")
            result["checks"].extend(posted.get("checks", []))
            self.reply(200, "text/plain", b"ok")
            if posted.get("final", True):
                done.set()
        else:
            self.reply(404, "text/plain", b"")


def decode_checks(record_dir):
    """Every recorded file must decode without error; one check per kind."""
    checks = []
    for label, pattern, codec in [("VP8 (IVF)", "*.ivf", "vp8"), ("H.264 (Annex-B)", "*.h264", "h264"), ("Opus (Ogg)", "*.ogg", "opus")]:
        files = sorted(glob.glob(os.path.join(record_dir, pattern)))
        if not files:
            checks.append({"name": f"WHIP recording {label} decodes", "pass": False, "detail": "no file recorded"})
            continue
        for path in files:
            probe = subprocess.run(["timeout", "30", "ffprobe", "-v", "error", "-count_frames", "-select_streams", "0",
                                    "-show_entries", "stream=codec_name,nb_read_frames", "-of", "csv=p=0", path],
                                   capture_output=True, text=True)
            # -enc_time_base -1 keeps the file's 90 kHz timestamps: ffmpeg's
            # guessed frame rate would round close frames onto one tick.
            decode = subprocess.run(["timeout", "60", "ffmpeg", "-v", "error", "-i", path, "-enc_time_base", "-1", "-f", "null", "-"],
                                    capture_output=True, text=True)
            fields = probe.stdout.strip().split(",")
            frames = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0
            ok = probe.returncode == 0 and decode.returncode == 0 and not decode.stderr.strip() and fields[0] == codec and frames > 50
            detail = f"{os.path.basename(path)}: {probe.stdout.strip()} ({os.path.getsize(path)} bytes) {decode.stderr.strip()[:120]}"
            checks.append({"name": f"WHIP recording {label} decodes", "pass": ok, "detail": detail})
    return checks


def main():
    record_dir = tempfile.mkdtemp(prefix="fulmar-media-")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", PAGE_PORT), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    gw_log = open(os.path.join(tempfile.gettempdir(), "fulmar-gateway-media.log"), "w")
    gateway = subprocess.Popen([GATEWAY, "--listen", GW_ADDR, "--record", record_dir], stdout=gw_log, stderr=gw_log)
    time.sleep(0.5)
    profile = tempfile.mkdtemp()
    chrome = subprocess.Popen(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--allow-loopback-in-peer-connection",
         "--disable-features=WebRtcHideLocalIpsWithMdns", "--autoplay-policy=no-user-gesture-required",
         # The fake camera at 30 fps (its default is 20): the echo checks
         # want 120 frames decoded in 5 s.
         "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream=fps=30",
         f"http://127.0.0.1:{PAGE_PORT}/test.html?gw=http://{GW_ADDR}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    start = time.time()
    finished = done.wait(LIMIT)
    elapsed = time.time() - start
    os.killpg(chrome.pid, signal.SIGKILL)  # Chromium's own process group only
    gateway.send_signal(signal.SIGTERM)
    for p in (chrome, gateway):
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    for r in relays:
        r.stop = True
    server.shutdown()
    checks = result["checks"]
    if not finished:
        checks.append({"name": "page finished", "pass": False, "detail": f"no result in {LIMIT:.0f} s"})
    for r in relays:
        rates = [d / m if m else 0.0 for d, m in zip(r.dropped, r.media)]
        lo, hi = LOSS_BOUNDS
        checks.append({"name": f"lossy relay dropped {lo:.0%}-{hi:.0%} of media each way",
                       "pass": all(lo <= x <= hi for x in rates) and all(m >= 200 for m in r.media),
                       "detail": f"dropped {r.dropped[0]}/{r.media[0]} RTP/RTCP packets ({rates[0]:.1%}) to Fulmar, "
                                 f"{r.dropped[1]}/{r.media[1]} ({rates[1]:.1%}) to Chromium"})
    checks.extend(decode_checks(record_dir))
    if EXPECTED_CHECKS and len(checks) != EXPECTED_CHECKS:
        checks.append({"name": "expected number of checks", "pass": False,
                       "detail": f"{len(checks)} checks reported, {EXPECTED_CHECKS} expected"})
    width = max([len(c["name"]) for c in checks] + [10])
    print(f"fulmar-gateway x Chromium media ({elapsed:.1f} s, recordings in {record_dir})")
    for c in checks:
        print(f"  {'PASS' if c['pass'] else 'FAIL'}  {c['name']:<{width}}  {c.get('detail', '')}")
    failed = [c for c in checks if not c["pass"]]
    print(f"{len(checks) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed or not checks else 0)


if __name__ == "__main__":
    main()
