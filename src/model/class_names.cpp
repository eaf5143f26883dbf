// What a model's outputs mean and how its inputs are prepared: class names, preprocessing,
// the rejection rule.
#include <fmt/core.h>

#include "imgcls/error.hpp"
#include "imgcls/model.hpp"

namespace imgcls {

std::vector<std::string> class_names(const Sequential& model) {
  if (!model.declared_class_names().empty()) return model.declared_class_names();
  const std::int64_t classes = element_count(model.output_shape());
  std::vector<std::string> names;
  names.reserve(static_cast<std::size_t>(classes));
  for (std::int64_t c = 0; c < classes; ++c) names.push_back(std::to_string(c));
  return names;
}

void Sequential::set_class_names(std::vector<std::string> names) {
  const std::int64_t classes = element_count(output_shape());
  if (static_cast<std::int64_t>(names.size()) != classes)
    throw InputError("class names", std::to_string(names.size()) + " names for a model with " +
                                        std::to_string(classes) + " outputs");
  // Names are printed as they are (imgcls predict, pictures): no control characters, so a
  // model file cannot send escape sequences to a terminal.
  constexpr unsigned char kFirstPrintable = 0x20, kDelete = 0x7f;
  for (std::size_t i = 0; i < names.size(); ++i)
    for (const char c : names[i])
      if (static_cast<unsigned char>(c) < kFirstPrintable ||
          static_cast<unsigned char>(c) == kDelete)
        throw InputError("class names", "name " + std::to_string(i) + " holds a control character");
  class_names_ = std::move(names);
}

void Sequential::set_preprocessing(Preprocessing preprocessing) { preprocessing_ = preprocessing; }

std::vector<std::string> answer_class_names(const Sequential& model) {
  std::vector<std::string> names = class_names(model);
  if (model.rejection()) names.pop_back();
  return names;
}

void Sequential::set_rejection(std::optional<RejectionRule> rule) {
  if (rule) {
    if (!(rule->threshold > 0.0f && rule->threshold <= 1.0f))
      throw InputError("rejection", fmt::format("threshold {} is not in (0, 1]", rule->threshold));
    if (element_count(output_shape()) < 2)
      throw InputError("rejection",
                       "a model with one output has no class besides the rejection output");
  }
  rejection_ = rule;
}

std::int64_t Sequential::rejection_class() const {
  return rejection_ ? element_count(output_shape()) - 1 : -1;
}

}  // namespace imgcls
