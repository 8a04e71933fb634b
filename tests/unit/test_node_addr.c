/*
 * engine_node_addr (launcher/engine/engine.c): the address the head and
 * the agents listen on and give to others. In a network namespace of its
 * own, made like a Debian node with Docker: the hostname maps to
 * 127.0.1.1, docker0 (172.17.0.1, the same on every node) comes first,
 * eth0 (10.99.5.2) routes to the other nodes. The route to srun's node
 * (SLURM_LAUNCH_NODE_IPADDR) gives eth0, so does the default route without
 * it, and AIC_NODE_ADDR wins. Skipped (77) where namespaces or `ip` are not
 * to be had (not root).
 */
#define _GNU_SOURCE
#include "config.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "aic_test.h"
#include "engine.h"

static void launch_node_route(void **state)
{
	char buf[64];

	(void)state;
	unsetenv("AIC_NODE_ADDR");
	setenv("SLURM_LAUNCH_NODE_IPADDR", "10.99.5.1", 1);
	engine_node_addr(buf, sizeof(buf));
	assert_string_equal(buf, "10.99.5.2");
}

static void default_route(void **state)
{
	char buf[64];

	(void)state;
	unsetenv("AIC_NODE_ADDR");
	unsetenv("SLURM_LAUNCH_NODE_IPADDR");
	engine_node_addr(buf, sizeof(buf));
	assert_string_equal(buf, "10.99.5.2");
}

static void fixed(void **state)
{
	char buf[64];

	(void)state;
	setenv("AIC_NODE_ADDR", "10.1.2.3", 1);
	setenv("SLURM_LAUNCH_NODE_IPADDR", "10.99.5.1", 1);
	engine_node_addr(buf, sizeof(buf));
	assert_string_equal(buf, "10.1.2.3");
}

/* A node of its own: namespaces, interfaces, routes, the hostname and its hosts file. */
static int make_node(void)
{
	char hosts[] = "/tmp/aic-test-hosts.XXXXXX";
	FILE *f;
	int fd;

	if (unshare(CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWNS) != 0)
		return -1;
	/* Nothing mounted here may reach the real machine's mounts. */
	if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return -1;
	if (system("ip link add docker0 type veth peer name d1 && "
		   "ip link add eth0 type veth peer name e1 && "
		   "ip addr add 172.17.0.1/16 dev docker0 && ip addr add 10.99.5.2/24 dev eth0 && "
		   "for l in lo docker0 d1 eth0 e1; do ip link set $l up || exit 1; done && "
		   "ip route add default via 10.99.5.1 dev eth0") != 0)
		return -1;
	fd = mkstemp(hosts);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f)
		return -1;
	fprintf(f, "127.0.0.1 localhost\n127.0.1.1 node1\n");
	fclose(f);
	if (sethostname("node1", 5) != 0 || mount(hosts, "/etc/hosts", NULL, MS_BIND, NULL) != 0) {
		unlink(hosts);
		return -1;
	}
	unlink(hosts); /* the mount keeps it */
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(launch_node_route),
		cmocka_unit_test(default_route),
		cmocka_unit_test(fixed),
	};

	if (make_node() != 0) {
		printf("1..0 # SKIP no network namespace of its own (not root, or no ip)\n");
		return AIC_TEST_SKIP;
	}
	return aic_test_run(tests);
}
