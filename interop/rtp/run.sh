#!/bin/sh
# fulmar-rtp against GStreamer, both ways:
# 1. GStreamer's payloaders (rtpvp8pay, rtpvp9pay, rtpopuspay, rtph264pay)
#    produce RTP; fulmar-rtp depacketizes it into IVF / Ogg / Annex-B; GStreamer
#    decodes the file.
# 2. fulmar-rtp packetizes that file again; GStreamer's depayloaders and
#    decoders must turn it into the same number of frames.
# Files only, no sockets; still run inside a loopback-only namespace.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

need() { command -v gst-launch-1.0 >/dev/null 2>&1 && gst-inspect-1.0 vp8enc >/dev/null 2>&1; }
if ! need; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
    gstreamer1.0-plugins-bad gstreamer1.0-libav >/dev/null
fi

cargo build -q -p fulmar-rtp --example rtp_to_file --example file_to_rtp
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/examples/rtp_to_file"
BACK="${CARGO_TARGET_DIR:-$ROOT/target}/debug/examples/file_to_rtp"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
N=60
FAIL=0

run() { # name codec encoder-and-payloader decoder-pipeline output-extension expected-frames rtp-caps depayloader
  name=$1 codec=$2 enc=$3 dec=$4 ext=$5 want=$6 caps=$7 depay=$8
  if ! timeout 60 unshare -n sh -c "ip link set lo up 2>/dev/null; exec gst-launch-1.0 -q $enc ! rtpstreampay ! filesink location=$WORK/$name.rtp" >/dev/null 2>&1; then
    echo "SKIP $name: GStreamer cannot encode it here"; return 0
  fi
  out=$(timeout 60 "$BIN" "$codec" "$WORK/$name.rtp" "$WORK/$name.$ext")
  echo "$name: $out"
  frames=$(echo "$out" | sed -n 's/.*-> \([0-9]*\) frames.*/\1/p')
  # "packets": one frame per packet (audio), whatever the encoder flushed.
  [ "$want" = packets ] && want=$(echo "$out" | sed -n 's/^\([0-9]*\) packets.*/\1/p')
  if [ "$frames" != "$want" ]; then echo "FAIL $name: $frames frames, expected $want"; FAIL=1; return 0; fi
  if timeout 60 gst-launch-1.0 -q filesrc location="$WORK/$name.$ext" ! $dec ! fakesink sync=false >"$WORK/$name.log" 2>&1; then
    echo "ok   $name: GStreamer decoded $WORK/$name.$ext"
  else
    echo "FAIL $name: GStreamer could not decode"; cat "$WORK/$name.log"; FAIL=1; return 0
  fi
  timeout 60 "$BACK" "$codec" "$WORK/$name.$ext" "$WORK/$name-fulmar.rtp"
  got=$(timeout 60 gst-launch-1.0 -v filesrc location="$WORK/$name-fulmar.rtp" ! "application/x-rtp-stream,$caps,payload=96" \
      ! rtpstreamdepay ! $depay ! fakesink sync=false silent=false 2>&1 | grep -c "chain" || true)
  if [ "$got" = "$want" ]; then
    echo "ok   $name: fulmar-rtp packetized, GStreamer depayloaded and decoded $got frames"
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
if gst-inspect-1.0 openh264enc >/dev/null 2>&1; then
  run h264 h264 "videotestsrc num-buffers=$N ! video/x-raw,width=320,height=240 ! openh264enc ! rtph264pay mtu=1000" \
    "h264parse ! avdec_h264" h264 $N "media=video,clock-rate=90000,encoding-name=H264" "rtph264depay ! h264parse ! avdec_h264"
else
  echo "SKIP h264: no H.264 encoder in the installed GStreamer plugins"
fi
# AV1: GStreamer has no AV1 payloader here, so libaom's temporal units go
# through fulmar-rtp both ways; the IVF must decode and match byte for byte.
if gst-inspect-1.0 av1enc >/dev/null 2>&1 && gst-inspect-1.0 av1dec >/dev/null 2>&1; then
  timeout 120 gst-launch-1.0 -q videotestsrc num-buffers=20 ! video/x-raw,width=320,height=240 \
    ! av1enc cpu-used=9 usage-profile=realtime ! av1parse ! video/x-av1,stream-format=obu-stream,alignment=tu \
    ! filesink location="$WORK/av1.obu"
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
  then echo "ok   av1: libaom -> fulmar-rtp packetize -> depacketize -> IVF byte-exact, GStreamer decoded $got frames"
  else echo "FAIL av1: decoded $got frames or bytes differ"; FAIL=1; fi
else
  echo "SKIP av1: no av1enc/av1dec"
fi
[ $FAIL -eq 0 ] && echo "interop/rtp: all passed" || { echo "interop/rtp: FAILED"; exit 1; }
