// Operations on whole datasets.
#include <algorithm>

#include "core/check.hpp"
#include "imgcls/data.hpp"

namespace imgcls {

Dataset take_first(const Dataset& data, std::int64_t count) {
  IMGCLS_CHECK(count >= 1 && count <= data.size(), "the first {} of {} samples", count,
               data.size());
  Shape shape = data.images.shape();
  const std::int64_t sample = data.images.item_size();
  shape[0] = count;
  Dataset first;
  first.images = PixelTensor(
      shape, std::vector<std::uint8_t>(data.images.data(), data.images.data() + count * sample));
  first.labels.assign(data.labels.begin(), data.labels.begin() + count);
  return first;
}

}  // namespace imgcls
