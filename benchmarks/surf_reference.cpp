// SURF as the release's DenseTrackStab calls it (improved_trajectory_ocv4 0893954,
// DenseTrackStab.cpp 53-55, 133-134, 147-148), on chosen frames of a video: the reference that
// tests/idt/test_surf.py holds vidssl_idt/surf.py to. Built by benchmarks/build_idt_peer.sh
// against its OpenCV 4.6 with the non-free xfeatures2d; the test's data came from
//   OUT/surf_reference person01_boxing_d1_uncomp.avi 0 15 30 | gzip > tests/idt/surf_kth.txt.gz
// One row per keypoint, in OpenCV's order: frame x y size angle response octave class_id and the
// 64 descriptor values.
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <opencv2/xfeatures2d.hpp>
#include <cstdio>
#include <cstdlib>
#include <set>

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: surf_reference VIDEO FRAME...\n");
        return 2;
    }
    std::set<int> wanted;
    for (int i = 2; i < argc; i++) wanted.insert(std::atoi(argv[i]));
    cv::VideoCapture capture(argv[1]);
    cv::Ptr<cv::xfeatures2d::SURF> detector = cv::xfeatures2d::SURF::create(200);
    cv::Ptr<cv::xfeatures2d::SURF> extractor = cv::xfeatures2d::SURF::create(true, true);
    cv::Mat frame, grey;
    for (int index = 0; !wanted.empty() && capture.read(frame); index++) {
        if (!wanted.erase(index)) continue;
        cv::cvtColor(frame, grey, cv::COLOR_BGR2GRAY);
        cv::Mat mask = cv::Mat::ones(grey.size(), CV_8UC1);  // the release's human_mask without boxes
        std::vector<cv::KeyPoint> keypoints;
        cv::Mat descriptors;
        detector->detect(grey, keypoints, mask);
        extractor->compute(grey, keypoints, descriptors);
        for (size_t k = 0; k < keypoints.size(); k++) {
            const cv::KeyPoint& p = keypoints[k];
            std::printf("%d %.9g %.9g %.9g %.9g %.9g %d %d", index, p.pt.x, p.pt.y, p.size, p.angle,
                        p.response, p.octave, p.class_id);
            for (int c = 0; c < descriptors.cols; c++) std::printf(" %.9g", descriptors.at<float>(k, c));
            std::printf("\n");
        }
    }
    if (!wanted.empty()) {
        std::fprintf(stderr, "surf_reference: %s has fewer frames than asked\n", argv[1]);
        return 1;
    }
    return 0;
}
