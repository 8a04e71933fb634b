/*
 * The launcher's logging to stderr (which SLURM collects per task): one line per
 * event, "aic-launch[n1]: ..." so that lines from several nodes interleave
 * legibly. AIC_LOG=debug shows debug lines.
 */
#ifndef AIC_LOG_H
#define AIC_LOG_H

void aic_log_set_name(const char *prog, const char *node);
void aic_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void aic_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void aic_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void aic_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
