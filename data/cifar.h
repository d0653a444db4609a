// CIFAR-10 and CIFAR-100 in their binary distributions (the "binary version" archives).
#pragma once

#include <string>

#include "proxima/data/dataset.h"

namespace px::data {

// CIFAR-10: cifar-10-batches-bin/ holds data_batch_1.bin .. data_batch_5.bin (train) and
// test_batch.bin, each a sequence of records <1 label byte><3072 pixel bytes: 1024 R, 1024 G,
// 1024 B, rows top to bottom> (10000 records per file in the real data; any whole number of
// records is accepted). Class names come from batches.meta.txt, or the standard names when it
// is absent. `path` is the folder itself or its parent.
DatasetPair load_cifar10(const std::string& path);

// CIFAR-100: cifar-100-binary/ holds train.bin and test.bin, records <coarse label byte><fine
// label byte><3072 pixel bytes>. Fine labels (100 classes, fine_label_names.txt) by default,
// coarse labels (20 superclasses, coarse_label_names.txt) when `coarse`; numbered names when
// the names file is absent. `path` is the folder itself or its parent.
DatasetPair load_cifar100(const std::string& path, bool coarse = false);

// The folder holding the CIFAR-10 (resp. CIFAR-100) files: `path` or its child
// cifar-10-batches-bin (cifar-100-binary); empty when neither has data_batch_1.bin (train.bin).
std::string find_cifar10_folder(const std::string& path);
std::string find_cifar100_folder(const std::string& path);

}  // namespace px::data
