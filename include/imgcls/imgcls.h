/* imgcls.h: the C interface of imgcls (libimgcls_c): load a trained model file and classify
 * pictures. Pure C99; usable from C, and from any language with a C FFI.
 *
 *   imgcls_model* model = imgcls_model_load("model.safetensors");
 *   if (!model) { fprintf(stderr, "%s\n", imgcls_last_error()); return 1; }
 *   size_t classes = (size_t)imgcls_model_class_count(model);
 *   float* probabilities = malloc(classes * sizeof(float));
 *   int label = imgcls_predict_file(model, "cat.jpg", probabilities, classes);
 *   if (label < 0) fprintf(stderr, "%s\n", imgcls_last_error());
 *   else printf("%s %.3f\n", imgcls_model_class_name(model, label), probabilities[label]);
 *   free(probabilities);
 *   imgcls_model_free(model);
 *
 * Any model imgcls trains on pictures works: grey or colour input of any size, any number of
 * classes with their names (digits "0" to "9" for MNIST models). The model file records how
 * pictures are prepared for it; the picture functions below (grey8, rgb8, file) do exactly
 * what `imgcls predict` does, while imgcls_predict takes the model input itself.
 *
 * Errors: functions returning int return a negative imgcls_status on failure; those returning
 * a pointer return NULL. Either way imgcls_last_error() then says what went wrong (naming the
 * file, where there is one). No C++ exception ever leaves this interface.
 *
 * Threads: the last error is per thread. One model may be shared between threads, and their
 * predictions run in parallel (each call borrows its own working buffers; only borrowing
 * them takes a lock). imgcls_model_free must not race with calls on the same model.
 */
#ifndef IMGCLS_IMGCLS_H
#define IMGCLS_IMGCLS_H

/* A C99 header: its C headers and typedefs are what C needs (clang-tidy's C++ advice is off). */
#include <stddef.h> /* NOLINT(modernize-deprecated-headers) */
#include <stdint.h> /* NOLINT(modernize-deprecated-headers) */

/* The entry points are the library's only exported symbols. */
#if defined(__GNUC__) || defined(__clang__)
#define IMGCLS_API __attribute__((visibility("default")))
#else
#define IMGCLS_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes; every failure is negative. */
typedef enum imgcls_status { /* NOLINT(modernize-use-using) */
                             IMGCLS_OK = 0,
                             IMGCLS_ERROR_ARGUMENT = -1, /* a NULL pointer, a bad size, too little
                                                            room for the output */
                             IMGCLS_ERROR_INPUT = -2,    /* bad input from outside: a missing or
                                                            damaged file, a blank picture */
                             IMGCLS_ERROR_INTERNAL = -3  /* a bug or out of memory */
} imgcls_status;

/* A loaded model; opaque. */
typedef struct imgcls_model imgcls_model; /* NOLINT(modernize-use-using) */

/* Loads a model file written by imgcls (`imgcls train`, `imgcls run`, imgcls::save_model).
 * Returns NULL on failure (see imgcls_last_error). */
IMGCLS_API imgcls_model* imgcls_model_load(const char* path);

/* Frees a model; NULL is allowed and does nothing. */
IMGCLS_API void imgcls_model_free(imgcls_model* model);

/* The model's input size: height x width (28 x 28 for MNIST models), the size imgcls_predict
 * takes; the picture functions take pictures of any size. Returns IMGCLS_OK, or a negative
 * imgcls_status. */
IMGCLS_API int imgcls_model_input_size(const imgcls_model* model, int* height, int* width);

/* The model's input channels: 1 (grey) or 3 (red, green, blue), or a negative imgcls_status.
 * imgcls_predict takes height * width * channels floats; the picture functions take grey or
 * colour pictures whatever this is. */
IMGCLS_API int imgcls_model_input_channels(const imgcls_model* model);

/* The number of classes (the length of a probability vector), or a negative imgcls_status. */
IMGCLS_API int imgcls_model_class_count(const imgcls_model* model);

/* The name of class `label` (valid while the model lives), or NULL. */
IMGCLS_API const char* imgcls_model_class_name(const imgcls_model* model, int label);

/* Writes to *rejection_class the class that stands for "none of these" (the built-in digits
 * model's "not a digit"; the last class of a model trained with `imgcls train --negatives`),
 * or -1 when the model has no rejection rule. The predict functions return that class when
 * the model rejects a picture: the class's probability reached the model's threshold, or
 * (the picture functions, digit models) the picture holds no digit to find, when the
 * probabilities written are 1 for this class and 0 for the others. Returns IMGCLS_OK, or a
 * negative imgcls_status. */
IMGCLS_API int imgcls_model_rejection_class(const imgcls_model* model, int* rejection_class);

/* Classifies one model input, used as it is (no preprocessing):
 *   pixels: height * width * channels floats (imgcls_model_input_channels), row-major, the
 *           channels of a pixel side by side, in the model's input form: values in [0, 1];
 *           for MNIST models 0 = background and 1 = full ink (a white digit on black,
 *           centred, as in MNIST);
 *   height, width: must equal imgcls_model_input_size.
 * probabilities: NULL (with capacity 0), or room for `capacity` floats; at least
 * imgcls_model_class_count of them are written (the softmax over the classes).
 * Returns the most probable class (>= 0; for a model with a rejection rule, the most probable
 * of the others, or imgcls_model_rejection_class when it rejects the input) or a negative
 * imgcls_status. */
IMGCLS_API int imgcls_predict(imgcls_model* model, const float* pixels, int height, int width,
                              float* probabilities, size_t capacity);

/* Classifies a picture of any size, prepared exactly as `imgcls predict` prepares a picture
 * file:
 *   grey: 8-bit grey values, 0 = black and 255 = white (as a scan or photo stores them),
 *         row r starting at grey + r * stride (stride >= width; bytes);
 *   the model's preprocessing setting applies: "mnist-digit" (the default of MNIST models)
 *   inverts dark-on-light pictures, crops to the ink, scales and centres it as MNIST does;
 *   "stretch" and "crop" (models trained on image folders) resize to the input size, the
 *   grey repeated in three channels for colour models.
 * A picture holding no ink fails with IMGCLS_ERROR_INPUT under "mnist-digit", unless the
 * model has a rejection rule: then it is rejected (imgcls_model_rejection_class).
 * probabilities and the result as for imgcls_predict. */
IMGCLS_API int imgcls_predict_grey8(imgcls_model* model, const uint8_t* grey, int height, int width,
                                    size_t stride, float* probabilities, size_t capacity);

/* The same for a colour picture:
 *   rgb: 8-bit red, green, blue triples (no alpha: for RGBA, drop every fourth byte first),
 *        row r starting at rgb + r * stride (stride >= 3 * width; bytes; padding past
 *        3 * width is not read);
 *   colour models take it as it is (resized by their preprocessing); grey models see its
 *   Rec. 601 luma (0.299 R + 0.587 G + 0.114 B), then their preprocessing as for
 *   imgcls_predict_grey8 ("mnist-digit": a picture holding no ink fails with
 *   IMGCLS_ERROR_INPUT).
 * NULL pointers, a width or height under 1, a stride under 3 * width or too little capacity
 * fail with IMGCLS_ERROR_ARGUMENT. probabilities and the result as for imgcls_predict. */
IMGCLS_API int imgcls_predict_rgb8(imgcls_model* model, const uint8_t* rgb, int height, int width,
                                   size_t stride, float* probabilities, size_t capacity);

/* Reads a picture file (PNG, JPEG, BMP, PGM/PPM; colour kept for colour models, made grey
 * for grey ones, as imgcls_predict_rgb8 and imgcls_predict_grey8 describe) and classifies it
 * as they do. Errors name the file (IMGCLS_ERROR_INPUT: missing, unreadable, damaged). */
IMGCLS_API int imgcls_predict_file(imgcls_model* model, const char* path, float* probabilities,
                                   size_t capacity);

/* The message of this thread's last failure ("" when none yet). Valid until the next call
 * into imgcls from this thread. */
IMGCLS_API const char* imgcls_last_error(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* IMGCLS_IMGCLS_H */
