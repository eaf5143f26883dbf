/* stb_image compiled into image_fuzz itself, with the fuzzer's coverage and the sanitizers.
   Debian's libstb.so has neither, so without this the fuzzer could not steer into the
   decoders and a memory error inside them would go unseen. These definitions take
   precedence over libstb.so's when the harness is linked. */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
