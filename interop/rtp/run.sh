#!/bin/sh
# fulmar-rtp against GStreamer, both ways:
# 1. GStreamer's payloaders (rtpvp8pay, rtpvp9pay, rtpopuspay, rtph264pay)
#    produce RTP; fulmar-rtp depacketizes it into IVF / Ogg / Annex-B; GStreamer
#    decodes the file.
# 2. fulmar-rtp packetizes that file again; GStreamer's depayloaders and
#    decoders must turn it into the same number of frames.
# 3. AV1 (libaom): GStreamer has no AV1 payloader here, so libaom's temporal
#    units go through fulmar-rtp both ways and must come back byte for byte.
# Every codec the README claims (VP8, VP9, Opus, H.264 through x264, AV1
# through libaom) must run: the Debian packages that hold their GStreamer
# elements are installed explicitly, a missing element is a failure (never a
# skip), and the suite fails unless it counts exactly EXPECTED_CHECKS (9)
# passed checks.
# Files only, no sockets; still run inside a loopback-only namespace.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

# Every GStreamer element the checks use, and the Debian packages holding them:
# tools: gst-launch-1.0, gst-inspect-1.0; base: opusenc/opusdec, oggdemux,
# videotestsrc, audiotestsrc; good: vp8enc/vp8dec, vp9enc/vp9dec (libvpx),
# the VP8/VP9/Opus/H.264 (de)payloaders, rtpstreampay/rtpstreamdepay; bad:
# ivfparse, h264parse, av1parse, av1enc/av1dec (libaom); ugly: x264enc;
# libav: avdec_h264.
PACKAGES="gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav"
ELEMENTS="videotestsrc audiotestsrc filesrc filesink fakesink rtpstreampay rtpstreamdepay \
  vp8enc vp8dec rtpvp8pay rtpvp8depay vp9enc vp9dec rtpvp9pay rtpvp9depay \
  opusenc opusdec rtpopuspay rtpopusdepay oggdemux ivfparse \
  x264enc h264parse avdec_h264 rtph264pay rtph264depay av1enc av1dec av1parse"
missing() {
  command -v gst-inspect-1.0 >/dev/null 2>&1 || { echo gst-inspect-1.0; return; }
  for e in $ELEMENTS; do gst-inspect-1.0 --exists "$e" || echo "$e"; done
}
if [ -n "$(missing)" ] || ! dpkg -s $PACKAGES >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
fi
absent=$(missing | tr '\n' ' ')
if [ -n "$absent" ]; then
  echo "FAIL GStreamer elements missing after installing $PACKAGES: $absent"
  echo "interop/rtp: FAILED"; exit 1
fi

cargo build -q -p fulmar-rtp --example rtp_to_file --example file_to_rtp
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/examples/rtp_to_file"
BACK="${CARGO_TARGET_DIR:-$ROOT/target}/debug/examples/file_to_rtp"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
N=60
FAIL=0
OK=0
EXPECTED_CHECKS=9 # two per codec for VP8, VP9, Opus and H.264, one for AV1
pass() { echo "ok   $*"; OK=$((OK + 1)); }

run() { # name codec encoder-and-payloader decoder-pipeline output-extension expected-frames rtp-caps depayloader
  name=$1 codec=$2 enc=$3 dec=$4 ext=$5 want=$6 caps=$7 depay=$8
  if ! timeout 60 unshare -n sh -c "ip link set lo up 2>/dev/null; exec gst-launch-1.0 -q $enc ! rtpstreampay ! filesink location=$WORK/$name.rtp" >/dev/null 2>&1; then
    echo "FAIL $name: GStreamer could not encode and payload it"; FAIL=1; return 0
  fi
  out=$(timeout 60 "$BIN" "$codec" "$WORK/$name.rtp" "$WORK/$name.$ext")
  echo "$name: $out"
  frames=$(echo "$out" | sed -n 's/.*-> \([0-9]*\) frames.*/\1/p')
  # "packets": one frame per packet (audio), whatever the encoder flushed.
  [ "$want" = packets ] && want=$(echo "$out" | sed -n 's/^\([0-9]*\) packets.*/\1/p')
  if [ "$frames" != "$want" ]; then echo "FAIL $name: $frames frames, expected $want"; FAIL=1; return 0; fi
  if timeout 60 gst-launch-1.0 -q filesrc location="$WORK/$name.$ext" ! $dec ! fakesink sync=false >"$WORK/$name.log" 2>&1; then
    pass "$name: GStreamer decoded $WORK/$name.$ext"
  else
    echo "FAIL $name: GStreamer could not decode"; cat "$WORK/$name.log"; FAIL=1; return 0
  fi
  timeout 60 "$BACK" "$codec" "$WORK/$name.$ext" "$WORK/$name-fulmar.rtp"
  got=$(timeout 60 gst-launch-1.0 -v filesrc location="$WORK/$name-fulmar.rtp" ! "application/x-rtp-stream,$caps,payload=96" \
      ! rtpstreamdepay ! $depay ! fakesink sync=false silent=false 2>&1 | grep -c "chain" || true)
  if [ "$got" = "$want" ]; then
    pass "$name: fulmar-rtp packetized, GStreamer depayloaded and decoded $got frames"
  else
    echo "FAIL $name: GStreamer decoded $got frames of fulmar-rtp's packets, expected $want"; FAIL=1
  fi
}

run vp8 vp8 "videotestsrc num-buffers=$N ! video/x-raw,width=320,height=240 ! vp8enc keyframe-max-dist=20 ! rtpvp8pay mtu=1000" \
  "ivfparse ! vp8dec" ivf $N "media=video,clock-rate=90000,encoding-name=VP8" "rtpvp8depay ! vp8dec"
run vp9 vp9 "videotestsrc num-buffers=$N ! video/x-raw,width=320,height=240 ! vp9enc keyframe-max-dist=20 ! rtpvp9pay mtu=1000" \
  "ivfparse ! vp9dec" ivf $N "media=video,clock-rate=90000,encoding-name=VP9" "rtpvp9depay ! vp9dec"
run opus opus "audiotestsrc num-buffers=$N ! audio/x-raw,rate=48000,channels=2 ! opusenc ! rtpopuspay" \
  "oggdemux ! opusdec" ogg packets "media=audio,clock-rate=48000,encoding-name=OPUS" "rtpopusdepay ! opusdec"
# H.264 from x264 (constrained baseline, no B-frames: what WebRTC sends).
run h264 h264 "videotestsrc num-buffers=$N ! video/x-raw,width=320,height=240 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=20 \
  ! video/x-h264,profile=constrained-baseline ! rtph264pay mtu=1000" \
  "h264parse ! avdec_h264" h264 $N "media=video,clock-rate=90000,encoding-name=H264" "rtph264depay ! h264parse ! avdec_h264"
# AV1: GStreamer has no AV1 payloader here, so libaom's temporal units go
# through fulmar-rtp both ways; the IVF must decode and match byte for byte.
if timeout 120 gst-launch-1.0 -q videotestsrc num-buffers=20 ! video/x-raw,width=320,height=240 \
    ! av1enc cpu-used=9 usage-profile=realtime ! av1parse ! video/x-av1,stream-format=obu-stream,alignment=tu \
    ! filesink location="$WORK/av1.obu"; then
  timeout 60 "$BACK" av1 "$WORK/av1.obu" "$WORK/av1.rtp"
  timeout 60 "$BIN" av1 "$WORK/av1.rtp" "$WORK/av1.ivf"
  got=$(timeout 60 gst-launch-1.0 -v filesrc location="$WORK/av1.ivf" ! ivfparse ! av1parse ! av1dec \
      ! fakesink sync=false silent=false 2>&1 | grep -c "chain" || true)
  # The IVF's frames, concatenated, are the original OBU stream.
  if [ "$got" = 20 ] && python3 - "$WORK/av1.ivf" "$WORK/av1.obu" <<'PY'
import sys
d = open(sys.argv[1], "rb").read()[32:]
out = b""
while d:
    n = int.from_bytes(d[:4], "little"); out += d[12:12 + n]; d = d[12 + n:]
sys.exit(0 if out == open(sys.argv[2], "rb").read() else 1)
PY
  then pass "av1: libaom -> fulmar-rtp packetize -> depacketize -> IVF byte-exact, GStreamer decoded $got frames"
  else echo "FAIL av1: decoded $got frames or bytes differ"; FAIL=1; fi
else
  echo "FAIL av1: libaom could not encode"; FAIL=1
fi
if [ "$OK" -ne "$EXPECTED_CHECKS" ]; then
  echo "FAIL $OK checks passed, $EXPECTED_CHECKS expected"; FAIL=1
fi
[ $FAIL -eq 0 ] && echo "interop/rtp: all $OK checks passed" || { echo "interop/rtp: FAILED ($OK of $EXPECTED_CHECKS checks passed)"; exit 1; }
