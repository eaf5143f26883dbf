// The C interface (include/imgcls/imgcls.h) over the C++ library. Every entry point catches
// everything: InputError -> IMGCLS_ERROR_INPUT, other exceptions -> IMGCLS_ERROR_INTERNAL,
// with the message kept per thread for imgcls_last_error.
#include <limits>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "imgcls/error.hpp"
#include "imgcls/image.hpp"
#include "imgcls/imgcls.h"
#include "imgcls/io.hpp"
#include "imgcls/model.hpp"
#include "imgcls/predictor.hpp"
#include "imgcls/preprocess.hpp"

struct imgcls_model {
  imgcls_model(imgcls::Sequential m, std::vector<std::string> names)
      : model(std::move(m)), class_names(std::move(names)) {}
  const imgcls::Sequential model;  // read only: threads share it
  const std::vector<std::string> class_names;
  imgcls::PredictorPool predictors{model};  // calls from several threads run in parallel
};

namespace {

thread_local std::string t_last_error;

// A failure detected here, before the library is called: a NULL pointer, a bad size.
struct ArgumentError {
  std::string message;
};

int fail(imgcls_status status, std::string message) {
  try {
    t_last_error = std::move(message);
  } catch (...) {
    t_last_error.clear();
  }
  return status;
}

// Runs `body` (returning int), turning every exception into a status and a message.
template <typename Body>
int guarded(const char* function, Body body) {
  try {
    t_last_error.clear();
    return body();
  } catch (const ArgumentError& e) {
    return fail(IMGCLS_ERROR_ARGUMENT, std::string(function) + ": " + e.message);
  } catch (const imgcls::InputError& e) {
    return fail(IMGCLS_ERROR_INPUT, e.what());
  } catch (const std::bad_alloc&) {
    return fail(IMGCLS_ERROR_INTERNAL, std::string(function) + ": out of memory");
  } catch (const std::exception& e) {
    return fail(IMGCLS_ERROR_INTERNAL, std::string(function) + ": internal error: " + e.what());
  } catch (...) {
    return fail(IMGCLS_ERROR_INTERNAL, std::string(function) + ": internal error");
  }
}

void require(bool condition, const char* message) {
  if (!condition) throw ArgumentError{message};
}

int class_count(const imgcls_model& m) { return static_cast<int>(m.class_names.size()); }

// probabilities [1, classes] -> the caller's buffer; returns the model's answer (answer():
// the most probable class, or the rejection class when the model rejects the picture).
int deliver(const imgcls_model& m, const imgcls::Tensor& probabilities, float* out) {
  const int classes = class_count(m);
  if (out != nullptr)
    for (int c = 0; c < classes; ++c) out[c] = probabilities.data()[c];
  const imgcls::Answer given = imgcls::answer(
      m.model, std::span<const float>(probabilities.data(), static_cast<std::size_t>(classes)));
  return static_cast<int>(given.output);
}

void require_output_room(const imgcls_model& m, const float* out, size_t capacity) {
  if (out == nullptr) {
    require(capacity == 0, "probabilities is NULL but capacity is not 0");
    return;
  }
  if (capacity < static_cast<size_t>(class_count(m)))
    throw ArgumentError{"capacity " + std::to_string(capacity) + " is less than the model's " +
                        std::to_string(class_count(m)) + " classes"};
}

int predict_input(imgcls_model& m, const imgcls::Image& input, float* out) {
  const imgcls::Tensor probabilities =
      m.predictors.predict(imgcls::to_batch(std::span<const imgcls::Image>(&input, 1)));
  return deliver(m, probabilities, out);
}

// As `imgcls predict` does: the model's own preprocessing. A model with a rejection rule
// rejects a picture digit preprocessing finds no digit in: probability 1 for the rejection
// class, 0 for the others.
int predict_picture(imgcls_model& m, const imgcls::Image& picture, const std::string& source,
                    float* out) {
  imgcls::Image input;
  try {
    input =
        imgcls::picture_to_input(picture, m.model.input_shape(), m.model.preprocessing(), source);
  } catch (const imgcls::NoDigitError&) {
    const std::optional<imgcls::Answer> rejected = imgcls::no_digit_answer(m.model);
    if (!rejected) throw;
    if (out != nullptr)
      for (int c = 0; c < class_count(m); ++c) out[c] = c == rejected->output ? 1.0f : 0.0f;
    return static_cast<int>(rejected->output);
  }
  return predict_input(m, input, out);
}

// An 8-bit picture of `channels` (1 or 3) interleaved, `stride` bytes a row -> values / 255.
imgcls::Image picture_of_bytes(const uint8_t* bytes, int height, int width, size_t stride,
                               int channels) {
  constexpr float kMaxLevel = 255.0f;
  imgcls::Image picture(height, width, channels);
  const auto row_values = static_cast<size_t>(width) * static_cast<size_t>(channels);
  for (int y = 0; y < height; ++y)
    for (size_t i = 0; i < row_values; ++i)
      picture.pixels[static_cast<size_t>(y) * row_values + i] =
          float(bytes[static_cast<size_t>(y) * stride + i]) / kMaxLevel;
  return picture;
}

}  // namespace

extern "C" {

imgcls_model* imgcls_model_load(const char* path) {
  imgcls_model* loaded = nullptr;
  guarded("imgcls_model_load", [&] {
    require(path != nullptr, "path is NULL");
    imgcls::Sequential model = imgcls::load_model(path);
    imgcls::check_picture_input(model.input_shape(), model.preprocessing(), path);
    std::vector<std::string> names = imgcls::class_names(model);
    loaded = new imgcls_model(std::move(model), std::move(names));
    return IMGCLS_OK;
  });
  return loaded;
}

void imgcls_model_free(imgcls_model* model) { delete model; }

int imgcls_model_input_size(const imgcls_model* model, int* height, int* width) {
  return guarded("imgcls_model_input_size", [&] {
    require(model != nullptr && height != nullptr && width != nullptr,
            "model, height or width is NULL");
    *height = static_cast<int>(model->model.input_shape()[0]);
    *width = static_cast<int>(model->model.input_shape()[1]);
    return IMGCLS_OK;
  });
}

int imgcls_model_input_channels(const imgcls_model* model) {
  return guarded("imgcls_model_input_channels", [&] {
    require(model != nullptr, "model is NULL");
    return static_cast<int>(model->model.input_shape()[2]);
  });
}

int imgcls_model_class_count(const imgcls_model* model) {
  return guarded("imgcls_model_class_count", [&] {
    require(model != nullptr, "model is NULL");
    return class_count(*model);
  });
}

const char* imgcls_model_class_name(const imgcls_model* model, int label) {
  const char* name = nullptr;
  guarded("imgcls_model_class_name", [&] {
    require(model != nullptr, "model is NULL");
    if (label < 0 || label >= class_count(*model))
      throw ArgumentError{"label " + std::to_string(label) + " is not in [0, " +
                          std::to_string(class_count(*model)) + ")"};
    name = model->class_names[static_cast<std::size_t>(label)].c_str();
    return IMGCLS_OK;
  });
  return name;
}

int imgcls_model_rejection_class(const imgcls_model* model, int* rejection_class) {
  return guarded("imgcls_model_rejection_class", [&] {
    require(model != nullptr && rejection_class != nullptr, "model or rejection_class is NULL");
    *rejection_class = static_cast<int>(model->model.rejection_class());
    return IMGCLS_OK;
  });
}

int imgcls_predict(imgcls_model* model, const float* pixels, int height, int width,
                   float* probabilities, size_t capacity) {
  return guarded("imgcls_predict", [&] {
    require(model != nullptr && pixels != nullptr, "model or pixels is NULL");
    require_output_room(*model, probabilities, capacity);
    const imgcls::Shape& shape = model->model.input_shape();
    if (height != shape[0] || width != shape[1])
      throw ArgumentError{std::to_string(height) + "x" + std::to_string(width) +
                          " pixels for a model taking " + imgcls::to_string(shape) +
                          " (imgcls_predict_grey8 resizes pictures of any size)"};
    imgcls::Image input(height, width, shape[2]);
    input.pixels.assign(pixels, pixels + input.size());
    return predict_input(*model, input, probabilities);
  });
}

int imgcls_predict_grey8(imgcls_model* model, const uint8_t* grey, int height, int width,
                         size_t stride, float* probabilities, size_t capacity) {
  return guarded("imgcls_predict_grey8", [&] {
    require(model != nullptr && grey != nullptr, "model or grey is NULL");
    require(width >= 1 && height >= 1, "width and height must be at least 1");
    require(stride >= static_cast<size_t>(width), "stride is less than width");
    require_output_room(*model, probabilities, capacity);
    return predict_picture(*model, picture_of_bytes(grey, height, width, stride, 1), "picture",
                           probabilities);
  });
}

int imgcls_predict_rgb8(imgcls_model* model, const uint8_t* rgb, int height, int width,
                        size_t stride, float* probabilities, size_t capacity) {
  return guarded("imgcls_predict_rgb8", [&] {
    require(model != nullptr && rgb != nullptr, "model or rgb is NULL");
    require(width >= 1 && height >= 1, "width and height must be at least 1");
    require(stride >= 3 * static_cast<size_t>(width), "stride is less than 3 * width");
    require_output_room(*model, probabilities, capacity);
    return predict_picture(*model, picture_of_bytes(rgb, height, width, stride, 3), "picture",
                           probabilities);
  });
}

int imgcls_predict_file(imgcls_model* model, const char* path, float* probabilities,
                        size_t capacity) {
  return guarded("imgcls_predict_file", [&] {
    require(model != nullptr && path != nullptr, "model or path is NULL");
    require_output_room(*model, probabilities, capacity);
    return predict_picture(*model, imgcls::read_picture(path), path, probabilities);
  });
}

const char* imgcls_last_error(void) { return t_last_error.c_str(); }

}  // extern "C"
