/*
 * aic error codes.
 *
 * Every libaic function that can fail returns an int: 0 on success, or a
 * negative code. A negative code is either -errno (from the system call
 * that failed) or one of the AIC_E* codes below, which are far below any
 * errno value so the two never collide. aic_strerror() turns either into
 * text.
 */
#ifndef AIC_ERROR_H
#define AIC_ERROR_H

enum aic_error {
	AIC_ESPEC = -1000,   /* the job spec is invalid */
	AIC_ETOPO = -1001,   /* the topology cannot be read or makes no sense */
	AIC_ENOFIT = -1002,  /* no placement satisfies the job's demands */
	AIC_EPROTO = -1003,  /* a peer broke the wire protocol */
	AIC_EAUTH = -1004,   /* a peer did not present the job's token */
	AIC_ENOLIB = -1005,  /* an optional run-time library could not be loaded */
	AIC_ECLOSED = -1006, /* the channel or connection is closed */
	AIC_ENOSUPPORT = -1007, /* this build lacks the dependency the call needs */
	AIC_ENCCL = -1008,	/* an NCCL or CUDA call failed */
};

/* The smallest AIC_E* value, for range checks and tests. */
#define AIC_ERROR_MIN AIC_ENCCL

/*
 * Returns a static, constant description of the code `err` (0, -errno or
 * AIC_E*). Never returns NULL; an unknown code gives "unknown error".
 * Thread-safe.
 */
const char *aic_strerror(int err);

#endif
