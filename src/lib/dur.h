/*
 * dur: parsing and printing of durations (500ms, 30s, 5m, 2h, 5d) and sizes
 * (512, 512K, 10M, 1G) as the config file writes them, the wall clock in
 * ms, and ms as a timeval. No mail knowledge.
 */
#ifndef POSTINO_DUR_H
#define POSTINO_DUR_H
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

/* "0" is valid (zero). A bare number without unit is seconds. -1 on bad syntax/overflow. */
int dur_parse(const char *s, int64_t *ms);
/* Bare number = bytes; K, M, G are powers of 1024 (case-insensitive, optional trailing B). */
int size_parse(const char *s, uint64_t *bytes);
/* Shortest exact form: 300000 -> "5m", 1500 -> "1500ms". */
void dur_format(int64_t ms, char *out, size_t size);
void size_format(uint64_t bytes, char *out, size_t size);
/* The wall clock in ms since the epoch (queue ids, arrival, retry times, notices). */
int64_t dur_now_ms(void);
/* ms (>= 0) as a struct timeval, for libevent's timers and timeouts. */
struct timeval dur_timeval(int64_t ms);

#endif
