/*
 * pmix_hello: the smallest PMIx bootstrap, the floor that aic-launch builds on.
 *
 * Every rank puts its node name and IPv4 address under a global key,
 * commits, fences with data collection and then gets every other rank's
 * value. It prints one line for itself and one per peer it could read, so
 * an integration test can check that the ranks, nodes and addresses are
 * distinct and that the modex crossed the nodes. It also checks that the
 * PMIX_RANK variable SLURM gave the task names the same rank as PMIx_Init.
 * Exit status: 0 when every PMIx call succeeded, every peer was read and
 * PMIX_RANK agreed, 1 otherwise.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pmix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KEY "aic.test.endpoint"

/* The first non-loopback IPv4 address: on a minicluster node, its eth0. */
static void first_ipv4(char *buf, size_t len)
{
	struct ifaddrs *ifs, *i;

	snprintf(buf, len, "none");
	if (getifaddrs(&ifs) != 0)
		return;
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		struct sockaddr_in *sin = (struct sockaddr_in *)i->ifa_addr;
		if (ntohl(sin->sin_addr.s_addr) >> 24 == 127)
			continue;
		inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)len);
		break;
	}
	freeifaddrs(ifs);
}

int main(void)
{
	pmix_proc_t me, peer, wild;
	pmix_value_t val, *got;
	pmix_info_t collect;
	char host[256], addr[64], mine[512];
	int rc, bad = 0;
	uint32_t size, r;
	struct timespec t0, t1, done;

	rc = PMIx_Init(&me, NULL, 0);
	if (rc != PMIX_SUCCESS) {
		fprintf(stderr, "pmix_hello: PMIx_Init: %s\n", PMIx_Error_string(rc));
		return 1;
	}
	PMIX_PROC_CONSTRUCT(&wild);
	PMIX_LOAD_PROCID(&wild, me.nspace, PMIX_RANK_WILDCARD);
	rc = PMIx_Get(&wild, PMIX_JOB_SIZE, NULL, 0, &got);
	if (rc != PMIX_SUCCESS) {
		fprintf(stderr, "pmix_hello: get job size: %s\n", PMIx_Error_string(rc));
		goto out_finalize_bad;
	}
	size = got->data.uint32;
	PMIX_VALUE_RELEASE(got);

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	first_ipv4(addr, sizeof(addr));
	snprintf(mine, sizeof(mine), "%s,%s", host, addr);

	PMIX_VALUE_CONSTRUCT(&val);
	val.type = PMIX_STRING;
	val.data.string = mine;
	rc = PMIx_Put(PMIX_GLOBAL, KEY, &val);
	if (rc == PMIX_SUCCESS)
		rc = PMIx_Commit();
	if (rc != PMIX_SUCCESS) {
		fprintf(stderr, "pmix_hello: put: %s\n", PMIx_Error_string(rc));
		goto out_finalize_bad;
	}
	PMIX_INFO_LOAD(&collect, PMIX_COLLECT_DATA, NULL, PMIX_BOOL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = PMIx_Fence(&wild, 1, &collect, 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	clock_gettime(CLOCK_REALTIME, &done);
	if (rc != PMIX_SUCCESS) {
		fprintf(stderr, "pmix_hello: fence: %s\n", PMIx_Error_string(rc));
		goto out_finalize_bad;
	}
	/*
	 * bench/bootstrap.sh: the fence's own time, and the wall clock when it
	 * returned (timed from srun's start, as aic's registration is).
	 */
	if (me.rank == 0 && getenv("PMIX_HELLO_FENCE_MS"))
		fprintf(stderr, "fence_ms %.1f\nfence_wall %.6f\n",
			(double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
			(double)done.tv_sec + (double)done.tv_nsec / 1e9);

	const char *env_rank = getenv("PMIX_RANK");
	printf("rank %u of %u nspace %s node %s addr %s env_rank %s\n", me.rank, size, me.nspace,
	       host, addr, env_rank ? env_rank : "unset");
	if (!env_rank || strtoul(env_rank, NULL, 10) != me.rank || !*env_rank) {
		fprintf(stderr, "pmix_hello: PMIX_RANK='%s' but PMIx_Init gave rank %u\n",
			env_rank ? env_rank : "(unset)", me.rank);
		bad = 1;
	}
	for (r = 0; r < size; r++) {
		PMIX_LOAD_PROCID(&peer, me.nspace, r);
		rc = PMIx_Get(&peer, KEY, NULL, 0, &got);
		if (rc != PMIX_SUCCESS || got->type != PMIX_STRING) {
			fprintf(stderr, "pmix_hello: rank %u: get rank %u: %s\n", me.rank, r,
				PMIx_Error_string(rc));
			bad = 1;
			if (rc == PMIX_SUCCESS)
				PMIX_VALUE_RELEASE(got);
			continue;
		}
		printf("rank %u sees rank %u at %s\n", me.rank, r, got->data.string);
		PMIX_VALUE_RELEASE(got);
	}
	fflush(stdout);
	rc = PMIx_Finalize(NULL, 0);
	return bad || rc != PMIX_SUCCESS;

out_finalize_bad:
	PMIx_Finalize(NULL, 0);
	return 1;
}
