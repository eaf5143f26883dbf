/* Example: the C interface (include/imgcls/imgcls.h) from plain C99.
 *   predict_c MODEL.safetensors MNIST_DIR PICTURE EXPECTED_CLASS
 * 1. classifies the first 100 MNIST test images, read from MNIST_DIR's plain
 *    t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, with imgcls_predict (the model's own
 *    input form: 28 x 28 floats, 0 = background, 1 = ink; no preprocessing);
 * 2. classifies PICTURE with imgcls_predict_file (decoding and preprocessing as
 *    `imgcls predict` does) and checks the class name against EXPECTED_CLASS;
 * 3. classifies a colour picture made in memory (a dark red 1 on pale yellow paper, its
 *    rows padded to a multiple of 4 bytes, as many frame buffers are) with
 *    imgcls_predict_rgb8, and checks that it reads "1".
 * Exits 1 when the MNIST accuracy is below 90% or a picture's class is wrong. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imgcls/imgcls.h"

enum { kSide = 28, kPixels = kSide * kSide, kImages = 100, kMaxClasses = 64 };
enum { kImagesHeader = 16, kLabelsHeader = 8 }; /* IDX header bytes: magic and sizes */
static const int kMinCorrect = 90;              /* of kImages */

/* Reads `count` bytes at `offset` of `path` into `out`; returns 0 on success. */
static int read_bytes(const char* path, long offset, unsigned char* out, size_t count) {
  FILE* file = fopen(path, "rb");
  int ok =
      file != NULL && fseek(file, offset, SEEK_SET) == 0 && fread(out, 1, count, file) == count;
  if (file != NULL) fclose(file);
  if (!ok) fprintf(stderr, "FAIL: cannot read %zu bytes at %ld of %s\n", count, offset, path);
  return ok ? 0 : 1;
}

static int check_mnist(imgcls_model* model, const char* mnist_dir) {
  static unsigned char pixels[kImages * kPixels];
  static unsigned char labels[kImages];
  char path[4096];
  float input[kPixels];
  float probabilities[kMaxClasses];
  int correct = 0;

  snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte", mnist_dir);
  if (read_bytes(path, kImagesHeader, pixels, sizeof pixels)) return 1;
  snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", mnist_dir);
  if (read_bytes(path, kLabelsHeader, labels, sizeof labels)) return 1;

  for (int i = 0; i < kImages; ++i) {
    for (int p = 0; p < kPixels; ++p) input[p] = (float)pixels[i * kPixels + p] / 255.0f;
    int label = imgcls_predict(model, input, kSide, kSide, probabilities, kMaxClasses);
    if (label < 0) {
      fprintf(stderr, "FAIL: imgcls_predict: %s\n", imgcls_last_error());
      return 1;
    }
    correct += label == labels[i];
  }
  printf("MNIST: %d of the first %d test images right\n", correct, kImages);
  if (correct < kMinCorrect) {
    fprintf(stderr, "FAIL: under %d right\n", kMinCorrect);
    return 1;
  }
  return 0;
}

static int check_picture(imgcls_model* model, const char* picture, const char* expected) {
  float probabilities[kMaxClasses];
  int label = imgcls_predict_file(model, picture, probabilities, kMaxClasses);
  if (label < 0) {
    fprintf(stderr, "FAIL: imgcls_predict_file: %s\n", imgcls_last_error());
    return 1;
  }
  const char* name = imgcls_model_class_name(model, label);
  printf("%s: class %s, probability %.4f\n", picture, name, probabilities[label]);
  if (strcmp(name, expected) != 0) {
    fprintf(stderr, "FAIL: expected class %s\n", expected);
    return 1;
  }
  return 0;
}

/* A dark red stroke, slightly slanted, on pale yellow paper: a one, in colour. */
static int check_rgb8(imgcls_model* model) {
  enum { kWidth = 45, kHeight = 60, kStride = (3 * kWidth + 3) / 4 * 4 };
  static const unsigned char kPaper[3] = {250, 240, 190}, kInk[3] = {150, 20, 30};
  static uint8_t rgb[kHeight * kStride];
  float probabilities[kMaxClasses];
  for (int y = 0; y < kHeight; ++y)
    for (int x = 0; x < kWidth; ++x) {
      int centre = 24 - y / 15; /* the stroke leans a little to the right going up */
      int ink = y >= 8 && y < 52 && x >= centre - 2 && x <= centre + 2;
      for (int c = 0; c < 3; ++c) rgb[y * kStride + 3 * x + c] = ink ? kInk[c] : kPaper[c];
    }
  int label = imgcls_predict_rgb8(model, rgb, kHeight, kWidth, kStride, probabilities, kMaxClasses);
  if (label < 0) {
    fprintf(stderr, "FAIL: imgcls_predict_rgb8: %s\n", imgcls_last_error());
    return 1;
  }
  const char* name = imgcls_model_class_name(model, label);
  printf("a red 1 on yellow (%d x %d, stride %d): class %s, probability %.4f\n", kWidth, kHeight,
         kStride, name, probabilities[label]);
  if (strcmp(name, "1") != 0) {
    fprintf(stderr, "FAIL: expected class 1\n");
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: predict_c MODEL.safetensors MNIST_DIR PICTURE EXPECTED_CLASS\n");
    return 2;
  }
  imgcls_model* model = imgcls_model_load(argv[1]);
  if (model == NULL) {
    fprintf(stderr, "FAIL: %s\n", imgcls_last_error());
    return 1;
  }
  int height = 0, width = 0;
  int classes = imgcls_model_class_count(model);
  int channels = imgcls_model_input_channels(model);
  if (imgcls_model_input_size(model, &height, &width) != IMGCLS_OK || height != kSide ||
      width != kSide || channels != 1 || classes < 1 || classes > kMaxClasses) {
    fprintf(stderr, "FAIL: expected a 28 x 28 grey model with 1 to %d classes\n", kMaxClasses);
    imgcls_model_free(model);
    return 1;
  }
  int failed =
      check_mnist(model, argv[2]) || check_picture(model, argv[3], argv[4]) || check_rgb8(model);
  imgcls_model_free(model);
  return failed ? 1 : 0;
}
