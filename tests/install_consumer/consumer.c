/* An installed imgcls from C: load a model, classify a picture. Exits 1 on a wrong answer.
 *   consumer_c MODEL PICTURE EXPECTED_CLASS */
#include <stdio.h>
#include <string.h>

#include "imgcls/imgcls.h"

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  imgcls_model* model = imgcls_model_load(argv[1]);
  if (model == NULL) {
    fprintf(stderr, "%s\n", imgcls_last_error());
    return 1;
  }
  int label = imgcls_predict_file(model, argv[2], NULL, 0);
  const char* name = label >= 0 ? imgcls_model_class_name(model, label) : NULL;
  if (name == NULL)
    fprintf(stderr, "%s\n", imgcls_last_error());
  else
    printf("C: %s is a %s\n", argv[2], name);
  int ok = name != NULL && strcmp(name, argv[3]) == 0;
  imgcls_model_free(model);
  return ok ? 0 : 1;
}
