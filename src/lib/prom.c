/*
 * prom: the Prometheus text format writer (see prom.h). Numbers are written
 * with %.15g (enough for counts, seconds and bucket bounds); +Inf and NaN are
 * spelled the way the format wants them.
 */
#include "lib/prom.h"
#include <math.h>
#include <stdio.h>

static const char *const prom_type_names[] = {
    [PROM_COUNTER] = "counter", [PROM_GAUGE] = "gauge", [PROM_HISTOGRAM] = "histogram",
};

/* Escapes backslash and newline, and the double quote too when quote is set. */
static void prom_escape(struct buf *b, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            buf_appends(b, "\\\\");
        else if (*s == '\n')
            buf_appends(b, "\\n");
        else if (*s == '"' && quote)
            buf_appends(b, "\\\"");
        else
            buf_putc(b, *s);
    }
}

void prom_escape_label(struct buf *b, const char *s)
{
    prom_escape(b, s, 1);
}

void prom_family(struct buf *b, const char *name, const char *help, enum prom_type type)
{
    buf_printf(b, "# HELP %s ", name);
    prom_escape(b, help, 0);
    buf_printf(b, "\n# TYPE %s %s\n", name, prom_type_names[type]);
}

static void prom_value(struct buf *b, double v)
{
    if (isnan(v))
        buf_appends(b, "NaN");
    else if (isinf(v))
        buf_appends(b, v > 0 ? "+Inf" : "-Inf");
    else
        buf_printf(b, "%.15g", v);
}

/* "name" or "name{label="value"}", then a space. */
static void prom_head(struct buf *b, const char *name, const char *label, const char *label_value)
{
    buf_appends(b, name);
    if (label) {
        buf_printf(b, "{%s=\"", label);
        prom_escape_label(b, label_value ? label_value : "");
        buf_appends(b, "\"}");
    }
    buf_putc(b, ' ');
}

void prom_sample(struct buf *b, const char *name, const char *label, const char *label_value,
                 double value)
{
    prom_head(b, name, label, label_value);
    prom_value(b, value);
    buf_putc(b, '\n');
}

void prom_sample_u64(struct buf *b, const char *name, const char *label,
                     const char *label_value, uint64_t value)
{
    prom_head(b, name, label, label_value);
    buf_printf(b, "%llu\n", (unsigned long long)value);
}

void prom_hist_observe(struct prom_hist *h, double v)
{
    size_t i = 0;
    while (i < h->n_bounds && v > h->bounds[i])
        i++;
    h->counts[i]++;
    h->sum += v;
    h->count++;
}

void prom_hist_write(struct buf *b, const char *name, const struct prom_hist *h)
{
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= h->n_bounds; i++) {
        cumulative += h->counts[i];
        buf_printf(b, "%s_bucket{le=\"", name);
        prom_value(b, i < h->n_bounds ? h->bounds[i] : INFINITY);
        buf_printf(b, "\"} %llu\n", (unsigned long long)cumulative);
    }
    buf_printf(b, "%s_sum ", name);
    prom_value(b, h->sum);
    buf_printf(b, "\n%s_count %llu\n", name, (unsigned long long)h->count);
}
