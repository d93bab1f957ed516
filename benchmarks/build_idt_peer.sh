#!/usr/bin/env bash
# Build the peer of benchmarks/idt.py, Heng Wang's trajectory programs, outside this repository:
#   OUT/DenseTrackStab  improved trajectories: the OpenCV-4 port of the LEAR release
#                       (github.com/programehr/improved_trajectory_ocv4), unchanged
#   OUT/DenseTrack      dense trajectories: derived from it by benchmarks/idt_peer_dt_port.py
#                       (the camera-motion steps removed; the v1.2 DT release has no OpenCV-4 port)
#   OUT/surf_reference  OpenCV's SURF as DenseTrackStab calls it, on chosen frames of a video
# both linked against OUT/opencv: OpenCV 4.6 with opencv_contrib's xfeatures2d built with the
# non-free SURF that DenseTrackStab needs (Debian's OpenCV has neither), from the PyPI sdist of
# opencv-contrib-python-headless 4.6.0.66, which carries both source trees. Release flags as the
# original Makefile (-O3 -DNDEBUG). About 25 minutes on 2 cores, most of it OpenCV.
#
# SOURCE is a checkout of the port, made beforehand (the script clones nothing):
#   git clone https://github.com/programehr/improved_trajectory_ocv4 SOURCE
# The OpenCV sdist comes from PyPI by `pip download --no-binary :all: --no-deps`, checked against
# its SHA-256. pip prepares an sdist's metadata even to download it, and in an isolated build
# environment that needs the sdist's pinned numpy==1.21.2, which Python 3.11 cannot install; so
# the download runs in a throwaway venv (OUT/pip-env) that has the metadata step's own needs
# (scikit-build, numpy), with --no-build-isolation.
#
#   apt-get install -y cmake g++ pkg-config python3-venv libavcodec-dev libavformat-dev libswscale-dev
#   bash benchmarks/build_idt_peer.sh OUT SOURCE
#   python benchmarks/idt.py --peer OUT
set -euo pipefail
USAGE="usage: build_idt_peer.sh OUT SOURCE (SOURCE: a checkout of improved_trajectory_ocv4)"
OUT=$(realpath -m "${1:?$USAGE}")
SRC=$(realpath -m "${2:?$USAGE}")
if [ ! -e "$SRC/DenseTrackStab.cpp" ]; then
    echo "build_idt_peer.sh: $SRC holds no DenseTrackStab.cpp; $USAGE" >&2
    exit 2
fi
HERE=$(dirname "$(realpath "$0")")
SDIST=opencv-contrib-python-headless-4.6.0.66
SHA256=6de67452f8fea8ac40e997dc158614ef25b8448d1e16977de242f0c4141fa2a0
mkdir -p "$OUT"

if [ ! -e "$OUT/opencv/lib/libopencv_xfeatures2d.so" ]; then
    if [ ! -d "$OUT/$SDIST" ]; then
        python3 -m venv "$OUT/pip-env"
        "$OUT/pip-env/bin/pip" install -q scikit-build numpy setuptools wheel
        "$OUT/pip-env/bin/pip" download -q --no-build-isolation --no-binary :all: --no-deps \
            -d "$OUT" opencv-contrib-python-headless==4.6.0.66
        echo "$SHA256  $OUT/$SDIST.tar.gz" | sha256sum -c -
        tar xzf "$OUT/$SDIST.tar.gz" -C "$OUT"
        # FFmpeg 5.1 (Debian 12) no longer includes libavcodec/version.h from avformat.h; OpenCV
        # 4.6's FFmpeg backend needs its version macros (Debian's own OpenCV package patches the same)
        sed -i 's|#include <libavformat/avformat.h>|&\n#include <libavcodec/version.h>|' \
            "$OUT/$SDIST/opencv/modules/videoio/src/ffmpeg_codecs.hpp"
    fi
    # boostdesc/vgg data downloads fail offline: xfeatures2d then builds without them (SURF is
    # all the program uses)
    cmake -S "$OUT/$SDIST/opencv" -B "$OUT/opencv-build" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_INSTALL_PREFIX="$OUT/opencv" -DCMAKE_INSTALL_RPATH="$OUT/opencv/lib" \
        -DOPENCV_EXTRA_MODULES_PATH="$OUT/$SDIST/opencv_contrib/modules" -DOPENCV_ENABLE_NONFREE=ON \
        -DBUILD_LIST=core,imgproc,imgcodecs,videoio,highgui,video,calib3d,features2d,flann,xfeatures2d \
        -DWITH_FFMPEG=ON -DWITH_IPP=OFF -DWITH_GTK=OFF -DWITH_QT=OFF -DWITH_OPENCL=OFF \
        -DWITH_ADE=OFF -DBUILD_TESTS=OFF -DBUILD_PERF_TESTS=OFF -DBUILD_EXAMPLES=OFF \
        -DBUILD_opencv_apps=OFF -DBUILD_opencv_python3=OFF -DBUILD_JAVA=OFF -DBUILD_DOCS=OFF
    cmake --build "$OUT/opencv-build" -j "$(nproc)"
    cmake --install "$OUT/opencv-build"
fi

python3 "$HERE/idt_peer_dt_port.py" "$SRC" "$OUT/dense_track_src"

LIBS="-lopencv_xfeatures2d -lopencv_calib3d -lopencv_features2d -lopencv_flann -lopencv_video
      -lopencv_videoio -lopencv_imgcodecs -lopencv_highgui -lopencv_imgproc -lopencv_core"
build() {   # build SOURCE_DIR PROGRAM
    # shellcheck disable=SC2086
    g++ -O3 -DNDEBUG -D__STDC_CONSTANT_MACROS -I"$1" -I"$OUT/opencv/include/opencv4" \
        "$1/$2.cpp" -o "$OUT/$2" -L"$OUT/opencv/lib" -Wl,-rpath,"$OUT/opencv/lib" $LIBS
}
build "$SRC" DenseTrackStab
build "$OUT/dense_track_src" DenseTrack
build "$HERE" surf_reference  # OpenCV's SURF on chosen frames (tests/idt/test_surf.py's reference)
echo "built $OUT/DenseTrackStab, $OUT/DenseTrack and $OUT/surf_reference"
