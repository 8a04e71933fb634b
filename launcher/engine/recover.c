/*
 * A lost node (internal.h): the agents left forget it (NODE_LOST), and its
 * processes are recovered on the nodes left, or the job ends.
 */
#include "config.h"

#include "internal.h"
#include "log.h"
#include "wire.h"

void head__node_lost(struct head *h, struct hagent *a, const char *why)
{
	json_t *m;

	aic_log_error("%s", why);
	m = json_pack("{s:i,s:s}", "rank", a->rank, "node", a->node);
	if (m) {
		head__broadcast(h, AIC_MSG_NODE_LOST, m);
		json_decref(m);
	}
	/* Nothing is recovered yet: the job ends, naming the node. */
	head__end(h, 1, "failed", why);
}
