// CIFAR binary parsing from bytes already in memory: what read_cifar_file (imgcls/data.hpp)
// does once the file is read, exposed for the tests and a fuzz harness.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "imgcls/data.hpp"

namespace imgcls {

// bytes: a whole CIFAR-10 or CIFAR-100 binary file (the record layout is in imgcls/data.hpp).
// Returns its records as images [N, 32, 32, 3] and labels. Throws InputError naming `source`
// when `bytes` is empty or not a whole number of records, or when a label is out of range;
// nothing is allocated before the size has been checked.
Dataset parse_cifar(std::span<const std::uint8_t> bytes, const std::string& source, CifarKind kind,
                    CifarLabels labels);

// A class names file's content (batches.meta.txt, fine_label_names.txt, ...): one name per
// line. Throws InputError naming `source` unless it names exactly `classes` distinct classes,
// each non-empty and without control characters.
std::vector<std::string> parse_class_names(std::span<const std::uint8_t> bytes,
                                           const std::string& source, std::size_t classes);

}  // namespace imgcls
