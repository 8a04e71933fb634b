/*
 * Spin before sleeping, shared by the engine's loop (launcher/net/spin.c)
 * and a worker's reads of its agent's socket (lib/worker/conn.c).
 *
 * A process about to sleep for an answer that will come within tens of
 * microseconds polls for it instead, as MPI libraries and NCCL's proxy do:
 * on a machine whose other cores are idle, the wake-up of a sleeping
 * process is an interrupt to another core that costs more than a control
 * round trip's work (a loopback TCP ping-pong takes 57 us between the two
 * cores of a VM and 12 us on one). Spinning only pays while a core is free
 * for it: with more runnable threads than cores, the spinner would take
 * the core from the very thread it waits for. So a spin polls for at most
 * aic_spin_ns(), only while aic_spin_worth() says no thread waits for a
 * core, and yields between polls (aic_spin_yield).
 *
 * Only synchronous control round trips spin (a phase call, a checkpoint
 * call, endpoints): a worker while it waits for the answer to such a
 * request, the engine after it answered one (the worker's next request of
 * its loop is near). Data never does: a get, a put's answer or a weights
 * receive waits as long as producers take, a publish's answers come around
 * a copy of the whole version, and an engine that spun after every read of
 * data frames took the cores that busy jobs needed (doc/BENCHMARKS.md).
 */
#ifndef AIC_SPIN_H
#define AIC_SPIN_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The default spin, in microseconds (AIC_SPIN_US; 0 turns all spinning
 * off). Scoped to control round trips, it took the idle round trip from
 * 35-45 us to 5 us on a 2-core VM without costing jobs that keep every
 * core busy, whose waits do not spin (doc/BENCHMARKS.md); a wake-up
 * costs about 25 us there, so 50 covers an answer that comes at once and
 * the next request of a loop.
 */
#define AIC_SPIN_US_DEFAULT 50
/* The most AIC_SPIN_US may ask for. */
#define AIC_SPIN_US_MAX 10000

/*
 * How long to poll before sleeping, in nanoseconds: AIC_SPIN_US
 * microseconds (0: never). A value that is not a whole number from 0 to
 * AIC_SPIN_US_MAX gives the default, and *bad (when not NULL) points to it
 * for the caller to report. Read from the environment on each call.
 */
uint64_t aic_spin_ns(const char **bad);

/*
 * Whether a spin may take a core now: the threads the kernel has running
 * or ready to run (/proc/loadavg) are no more than the cores this process
 * may run on; or, bound to fewer cores than the machine has (a worker on
 * its stage's reserved core), no more than the machine's cores while no
 * other thread has switched this one out for 50 ms (it has its core to
 * itself: the others run elsewhere). false when that cannot be told. The
 * answer is kept for a millisecond.
 */
bool aic_spin_worth(void);

/* Yields the core between polls; false when another thread took it a while (stop spinning). */
bool aic_spin_yield(void);

#endif
