/* The shipped digits model, models/digits.safetensors (made by `make models`), as read-only
   data of the command: cli/builtin_model.cpp reads it between these two symbols. CMake passes
   the file's path as IMGCLS_DIGITS_MODEL_FILE, and relinks the command when the file changes. */
        .section .rodata
        .balign 64
        .globl imgcls_builtin_digits_begin
imgcls_builtin_digits_begin:
        .incbin IMGCLS_DIGITS_MODEL_FILE
        .globl imgcls_builtin_digits_end
imgcls_builtin_digits_end:
        .section .note.GNU-stack,"",@progbits
