/*
 * fuzz_input: what several harnesses do with their input bytes. Included
 * by the harnesses (not a harness itself: run.sh builds fuzz_*.c only).
 */
#ifndef POSTINO_FUZZ_INPUT_H
#define POSTINO_FUZZ_INPUT_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * The input up to its first NUL as a C string, in a heap block of exactly
 * that size (so ASan sees any read past the terminator); *len its length.
 * The caller frees it.
 */
static inline char *fuzz_cstring(const uint8_t *data, size_t size, size_t *len)
{
    *len = strnlen((const char *)data, size);
    char *s = malloc(*len + 1);
    memcpy(s, data, *len);
    s[*len] = '\0';
    return s;
}

#endif
