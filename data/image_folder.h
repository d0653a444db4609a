// Image-folder datasets: root/train/<class>/*.png|jpg|jpeg|bmp and root/test/<class>/...
#pragma once

#include <string>

#include "proxima/data/dataset.h"

namespace px::data {

// Loads root/train and root/test. Classes are the sub-folders of root/train in sorted order
// (hidden ones skipped); root/test must have the same set. In each class folder, files ending
// in .png, .jpg, .jpeg or .bmp (any case) are read in sorted order; other files are ignored.
// Every image is decoded once, in parallel (OpenMP), into one uint8 [N, C, H, W] tensor per
// split. All images must have the size of the first one; C is 3 when any image has colour
// (grayscale images are then expanded, alpha channels dropped), else 1. A file that cannot be
// decoded or has another size is a DataError naming its path (and its size and the size
// expected). Each class folder must hold at least one image.
DatasetPair load_image_folder(const std::string& root);

// True when root/train and root/test are both folders.
bool is_image_folder(const std::string& root);

}  // namespace px::data
