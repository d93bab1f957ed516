"""Derive ``DenseTrack.cpp`` (dense trajectories, DT) from the OpenCV-4 port of Heng Wang's
improved-trajectory release (``DenseTrackStab.cpp``), for ``benchmarks/idt.py --peer``.

The improved release "is an extension of dense_trajectory_release_v1.2" (its README): the same
program plus camera-motion estimation (SURF and flow matches, a RANSAC homography, the second
frame warped, a second Farneback flow on it, descriptors and trajectory shapes read from that
warped flow, static trajectories dropped). Removing exactly those steps gives the DT program;
the v1.2 release itself has no OpenCV-4 port. Reads SRC (a checkout of
programehr/improved_trajectory_ocv4) and writes OUT/DenseTrack.cpp with the headers it needs
(DenseTrackStab.h without the xfeatures2d include, so the DT program builds on an OpenCV
without opencv_contrib). Each edit must match exactly once, so a changed upstream file stops
this script.

    python benchmarks/idt_peer_dt_port.py SRC OUT
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

#: (pattern, replacement) applied to DenseTrackStab.cpp, each matching once (regex, DOTALL)
EDITS = [
    (r"using namespace xfeatures2d;\n", ""),
    (r"\n\t//SurfFeatureDetector.*?create\(true, true\);\n", "\n"),
    (r"\tstd::vector<Point2f> prev_pts_flow.*?Mat prev_desc_surf, desc_surf;\n", ""),
    (r", flow_pyr\(0\), flow_warp_pyr\(0\);", ", flow_pyr(0);"),
    (r", poly_pyr\(0\), poly_warp_pyr\(0\);", ", poly_pyr(0);"),
    (r"\t\t\tBuildPry\(sizes, CV_32FC2, flow_warp_pyr\);\n", ""),
    (r"\t\t\tBuildPry\(sizes, CV_32FC\(5\), poly_warp_pyr\);\n", ""),
    (
        r"\t\t\thuman_mask = Mat::ones.*?extractor_surf->compute\(prev_grey, prev_kpts_surf, "
        r"prev_desc_surf\);\n",
        "",
    ),
    (r"\t\t// match surf features\n.*?ComputeMatch\([^\n]*\n", ""),
    (
        r"\t\tMatchFromFlow\(.*?calcOpticalFlowFarneback\(prev_poly_pyr, poly_warp_pyr, "
        r"flow_warp_pyr, 10, 2\);\n",
        "",
    ),
    (r"\t\tprev_kpts_surf = kpts_surf;\n\t\tdesc_surf.copyTo\(prev_desc_surf\);\n", ""),
    (r" && IsCameraMotion\(displacement\)", ""),
    (r'"DenseTrackStab"', '"DenseTrack"'),  # the window name of show_track
]


def port(source: str) -> str:
    for pattern, replacement in EDITS:
        source, count = re.subn(pattern, replacement, source, flags=re.DOTALL)
        if count != 1 and not (count > 1 and pattern == '"DenseTrackStab"'):
            raise SystemExit(
                f"idt_peer_dt_port: the edit {pattern[:50]!r} matched {count} times; "
                f"DenseTrackStab.cpp is not the file this port was written for"
            )
    source = source.replace("flow_warp_pyr", "flow_pyr")  # descriptors and shapes on plain flow
    if "surf" in source.lower() or "warp" in source:
        raise SystemExit("idt_peer_dt_port: camera-motion code is left in DenseTrack.cpp")
    return source


def main(src: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "DenseTrack.cpp").write_text(port((src / "DenseTrackStab.cpp").read_text()))
    header = (src / "DenseTrackStab.h").read_text()
    (out / "DenseTrackStab.h").write_text(header.replace('#include "opencv2/xfeatures2d.hpp"\n', ""))
    for name in ("Initialize.h", "Descriptors.h", "OpticalFlow.h"):
        (out / name).write_text((src / name).read_text())
    print(f"wrote {out / 'DenseTrack.cpp'} and its headers")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
