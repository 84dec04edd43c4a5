#!/usr/bin/env python3
"""One browser on host B against the Fulmar demo on host A.

Usage (inside host B's namespace): harness.py BROWSER GW_URL MEDIA_PORT

BROWSER is chromium (the data channel, Chromium started without its fake-UI
flag: with it, every page has camera permission and Chromium then shows its
real addresses), chromium-media (camera echo and the demo page, with the
fake camera and its permission) or firefox (every scenario).

Serves test.html and a /result endpoint on B's address (an origin the
browser is told to treat as secure, for getUserMedia), starts the browser headless with its default
WebRTC settings (host candidates hidden behind .local names) and the fake
camera and microphone, waits for the page's checks (bounded by LIMIT
seconds), ends the browser by its own process group and prints the checks as
JSON lines on stdout. Exits non-zero when a check failed or none came.
"""
import http.server, json, os, signal, subprocess, sys, tempfile, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER, GW, PORT = sys.argv[1], sys.argv[2], sys.argv[3]
PAGE_PORT, LIMIT = 8000, float(os.environ.get("LIMIT", "90"))
# B's own address: Firefox offers no candidate to a page served from
# 127.0.0.1 here; both browsers are told to treat this origin as secure.
PAGE_HOST = os.environ.get("PAGE_HOST", "198.18.0.2")
result = {"checks": []}
done = threading.Event()


class Handler(http.server.SimpleHTTPRequestHandler):
    """GET: files under interop/ (this suite's test.html, the Chromium
    suite's common.js); POST /result: the page's checks."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=os.path.dirname(HERE), **kwargs)

    def log_message(self, *args):
        pass

    def do_POST(self):
        posted = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        result["checks"].extend(posted.get("checks", []))
        self.send_response(204)
        self.end_headers()
        if posted.get("final", True):
            done.set()


def chromium(url, profile, media):
    # Default WebRTC settings: no --disable-features=WebRtcHideLocalIpsWithMdns,
    # no --allow-loopback-in-peer-connection. The gateway's origin is treated
    # as secure only so that the demo page it serves (in a frame) may call
    # getUserMedia over plain http.
    origin = GW.rstrip("/")
    return [os.environ.get("CHROMIUM", "chromium"), "--headless=new", "--no-sandbox", "--disable-gpu",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", "--autoplay-policy=no-user-gesture-required",
            f"--unsafely-treat-insecure-origin-as-secure={origin},http://{PAGE_HOST}:{PAGE_PORT}"] + \
        (["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream=fps=30"] if media else []) + [url]


FIREFOX_PREFS = {
    # Fake camera and microphone, no permission prompt.
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    # The demo page (plain http from host A, in a frame) may call getUserMedia.
    "media.devices.insecure.enabled": True,
    "media.getusermedia.insecure.enabled": True,
    "media.autoplay.default": 0,
    # Nothing leaves the namespaces: no telemetry, updates, safebrowsing,
    # captive-portal or connectivity probes.
    "toolkit.telemetry.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "app.update.enabled": False,
    "app.update.auto": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "extensions.update.enabled": False,
    "browser.aboutwelcome.enabled": False,
}


def firefox(url, profile):
    # WebRTC prefs left at their defaults (host addresses obfuscated as .local).
    prefs = dict(FIREFOX_PREFS)
    for kv in filter(None, os.environ.get("FIREFOX_PREFS", "").split(",")):
        k, v = kv.split("=", 1)
        prefs[k] = json.loads(v)
    with open(os.path.join(profile, "user.js"), "w") as f:
        for k, v in prefs.items():
            f.write(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n")
    return [os.environ.get("FIREFOX", "firefox-esr"), "--headless", "--no-remote", "--profile", profile, url]


def main():
    server = http.server.ThreadingHTTPServer((PAGE_HOST, PAGE_PORT), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    profile = tempfile.mkdtemp(prefix=f"fulmar-lan-{BROWSER}-")
    only = {"chromium": "&only=data", "chromium-media": "&only=media"}.get(BROWSER, "")
    url = f"http://{PAGE_HOST}:{PAGE_PORT}/lan/test.html?gw={GW}&port={PORT}{only}"
    if BROWSER.startswith("chromium"):
        argv = chromium(url, profile, BROWSER == "chromium-media")
    else:
        argv = firefox(url, profile)
    env = dict(os.environ, MOZ_DISABLE_CONTENT_SANDBOX="1", MOZ_DISABLE_SOCKET_PROCESS_SANDBOX="1",
               HOME=profile)
    log = open(os.path.join(tempfile.gettempdir(), f"fulmar-lan-{BROWSER}.log"), "w")
    browser = subprocess.Popen(argv, stdout=log, stderr=log, env=env, start_new_session=True)
    finished = done.wait(LIMIT)
    try:
        os.killpg(browser.pid, signal.SIGKILL)  # the browser's own process group only
    except ProcessLookupError:
        pass
    try:
        browser.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    server.shutdown()
    checks = result["checks"]
    if not finished:
        checks.append({"name": "page finished", "pass": False, "detail": f"no final result in {LIMIT:.0f} s"})
    for c in checks:
        print(json.dumps(c), flush=True)
    sys.exit(0 if checks and all(c["pass"] for c in checks) else 1)


if __name__ == "__main__":
    main()
