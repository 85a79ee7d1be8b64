/*
 * dur: parsing and printing of durations (500ms, 30s, 5m, 2h, 5d) and sizes
 * (512, 512K, 10M, 1G) as the config file writes them. No mail knowledge.
 */
#ifndef POSTINO_DUR_H
#define POSTINO_DUR_H
#include <stddef.h>
#include <stdint.h>

/* "0" is valid (zero). A bare number without unit is seconds. -1 on bad syntax/overflow. */
int dur_parse(const char *s, int64_t *ms);
/* Bare number = bytes; K, M, G are powers of 1024 (case-insensitive, optional trailing B). */
int size_parse(const char *s, uint64_t *bytes);
/* Shortest exact form: 300000 -> "5m", 1500 -> "1500ms". */
void dur_format(int64_t ms, char *out, size_t size);
void size_format(uint64_t bytes, char *out, size_t size);

#endif
