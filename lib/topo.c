/*
 * The topology model (see topo.h): hwloc in, plain structs out.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifdef HAVE_HWLOC
#include <hwloc.h>
#endif

#include "error.h"
#include "nvml.h"
#include "strbuf.h"
#include "topo.h"

const char *aic_link_name(enum aic_link link, int nvlinks, char *buf, size_t len)
{
	static const char *const names[] = {"X", "NV", "PIX", "PXB", "PHB", "NODE", "SYS"};

	if (link == AIC_LINK_NV)
		snprintf(buf, len, "NV%d", nvlinks);
	else if (link >= AIC_LINK_SELF && link <= AIC_LINK_SYS)
		snprintf(buf, len, "%s", names[link]);
	else
		snprintf(buf, len, "?");
	return buf;
}

int aic_topo_link_score(const struct aic_topo *t, size_t a, size_t b)
{
	enum aic_link l = aic_topo_link(t, a, b);

	if (l == AIC_LINK_SELF)
		return 100000;
	if (l == AIC_LINK_NV)
		return 1000 + aic_topo_nvlinks(t, a, b);
	return 100 - (int)l;
}

/* "0000:18:00.0" and "18:00.0" name the same device; compare without case. */
static bool busid_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la == lb)
		return strcasecmp(a, b) == 0;
	if (la == lb + 5 && !strncmp(a, "0000:", 5))
		return strcasecmp(a + 5, b) == 0;
	if (lb == la + 5 && !strncmp(b, "0000:", 5))
		return strcasecmp(a, b + 5) == 0;
	return false;
}

int aic_topo_gpu_by_busid(const struct aic_topo *t, const char *busid)
{
	size_t i;

	for (i = 0; i < t->n_gpus; i++)
		if (busid_equal(t->gpus[i].busid, busid))
			return (int)i;
	return -1;
}

void aic_topo_free(struct aic_topo *topo)
{
	if (!topo)
		return;
	free(topo->numa);
	free(topo->cores);
	free(topo->gpus);
	free(topo->nics);
	free(topo->link);
	free(topo->nvlinks);
	free(topo->gpu_nic);
	free(topo);
}

static void set_error(char **errors, const char *fmt, const char *a, const char *b)
{
	struct aic_strbuf sb;

	if (!errors)
		return;
	aic_strbuf_init(&sb);
	aic_strbuf_printf(&sb, fmt, a, b);
	aic_strbuf_append(&sb, "\n", 1);
	*errors = aic_strbuf_detach(&sb);
}

#ifdef HAVE_HWLOC

static void to_cpuset(struct aic_cpuset *dst, hwloc_const_bitmap_t bm)
{
	int i;

	aic_cpuset_zero(dst);
	if (!bm)
		return;
	hwloc_bitmap_foreach_begin(i, bm)
	{
		aic_cpuset_set(dst, i);
	}
	hwloc_bitmap_foreach_end();
}

static void format_busid(char *buf, size_t len, const hwloc_obj_t pci)
{
	snprintf(buf, len, "%04x:%02x:%02x.%01x", (unsigned)pci->attr->pcidev.domain,
		 (unsigned)pci->attr->pcidev.bus, (unsigned)pci->attr->pcidev.dev,
		 (unsigned)pci->attr->pcidev.func);
}

static bool is_nvswitch(const hwloc_obj_t o)
{
	if (o->type != HWLOC_OBJ_PCI_DEVICE)
		return false;
	if (o->subtype && !strcmp(o->subtype, "NVSwitch"))
		return true;
	return o->attr->pcidev.vendor_id == 0x10de && o->attr->pcidev.class_id == 0x0680;
}

static bool is_gpu(const hwloc_obj_t o)
{
	unsigned cls = o->attr->pcidev.class_id;

	/* NVIDIA display (0x0300) or 3D (0x0302) controllers. */
	return o->attr->pcidev.vendor_id == 0x10de && (cls == 0x0300 || cls == 0x0302);
}

/* The NUMA node of an I/O object, or -1 when its locality spans several or none. */
static int io_numa(hwloc_topology_t topo, hwloc_obj_t o, struct aic_cpuset *cpus)
{
	hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(topo, o);

	if (cpus)
		to_cpuset(cpus, anc ? anc->cpuset : NULL);
	if (!anc || !anc->nodeset || hwloc_bitmap_weight(anc->nodeset) != 1)
		return -1;
	if (cpus && aic_cpuset_empty(cpus))
		return -1;
	return hwloc_bitmap_first(anc->nodeset);
}

/* PCIe path class between two I/O objects (nvidia-smi's PIX..SYS). */
static enum aic_link pci_link(hwloc_obj_t a, hwloc_obj_t b, int numa_a, int numa_b)
{
	hwloc_obj_t up[64], p, anc = NULL;
	size_t n = 0, i;
	int da = 0, db = 0;

	for (p = a; p && n < 64; p = p->parent)
		up[n++] = p;
	for (p = b; p && !anc; p = p->parent)
		for (i = 0; i < n; i++)
			if (up[i] == p) {
				anc = p;
				break;
			}
	if (!anc)
		return AIC_LINK_SYS;
	if (anc->type == HWLOC_OBJ_BRIDGE) {
		if (anc->attr->bridge.upstream_type == HWLOC_OBJ_BRIDGE_HOST)
			return AIC_LINK_PHB;
		for (p = a->parent; p && p != anc; p = p->parent)
			da += p->type == HWLOC_OBJ_BRIDGE;
		for (p = b->parent; p && p != anc; p = p->parent)
			db += p->type == HWLOC_OBJ_BRIDGE;
		/* Through one switch: each side crosses one downstream port at most. */
		return da <= 1 && db <= 1 ? AIC_LINK_PIX : AIC_LINK_PXB;
	}
	if (anc->type == HWLOC_OBJ_PCI_DEVICE)
		return AIC_LINK_PIX;
	if (numa_a >= 0 && numa_a == numa_b)
		return AIC_LINK_NODE;
	return AIC_LINK_SYS;
}

/*
 * hwloc reports NVLink bandwidth, not link counts. One link is 20000 MB/s
 * (NVLink 1), 25000 (NVLink 2 and later, hwloc >= 2.10) or 50000 (NVLink 3
 * and 4 in hwloc <= 2.9); the first that divides the total gives the count.
 */
static int nvlink_count(unsigned long long mbps)
{
	static const unsigned long long per_link[] = {25000, 20000, 50000};
	size_t i;

	if (mbps == 0)
		return 0;
	for (i = 0; i < 3; i++)
		if (mbps % per_link[i] == 0)
			return (int)(mbps / per_link[i]);
	return mbps < 25000 ? 1 : (int)((mbps + 12500) / 25000);
}

struct loader {
	hwloc_topology_t topo;
	struct aic_topo *t;
	hwloc_obj_t *gpu_obj;
	hwloc_obj_t *nic_obj;
};

static int gpu_of(struct loader *l, hwloc_obj_t o)
{
	size_t i;

	if (o->type == HWLOC_OBJ_OS_DEVICE)
		o = o->parent;
	for (i = 0; i < l->t->n_gpus; i++)
		if (l->gpu_obj[i] == o)
			return (int)i;
	return -1;
}

/*
 * Sets NVLink classes from link counts: direct[a * n + b] links between two
 * GPUs, via_switch[a] links from a GPU to the NVSwitch fabric. Two GPUs on
 * the fabric are linked by the smaller of their switch link counts.
 */
static bool apply_nvlink(struct aic_topo *t, const int *direct, const int *via_switch)
{
	size_t n = t->n_gpus, a, b;
	bool any = false;

	for (a = 0; a < n; a++) {
		t->gpus[a].nvswitch = via_switch[a] > 0;
		for (b = 0; b < n; b++) {
			int links = direct[a * n + b];
			if (a == b)
				continue;
			if (links == 0 && via_switch[a] && via_switch[b])
				links = via_switch[a] < via_switch[b] ? via_switch[a] : via_switch[b];
			if (links) {
				t->link[a * n + b] = AIC_LINK_NV;
				t->nvlinks[a * n + b] = links;
				any = true;
			}
		}
	}
	return any;
}

/* NVLink from hwloc's NVLinkBandwidth matrices; false when there are none. */
static bool read_nvlink(struct loader *l)
{
	struct aic_topo *t = l->t;
	struct hwloc_distances_s *d[8];
	unsigned nr = 8, m;
	unsigned long long *direct, *sw;
	int *direct_n = NULL, *sw_n = NULL;
	size_t n = t->n_gpus, a;
	bool any = false;

	direct = calloc(n * n + 1, sizeof(*direct));
	sw = calloc(n + 1, sizeof(*sw));
	direct_n = calloc(n * n + 1, sizeof(*direct_n));
	sw_n = calloc(n + 1, sizeof(*sw_n));
	if (!direct || !sw || !direct_n || !sw_n)
		goto out_free;
	if (hwloc_distances_get_by_name(l->topo, "NVLinkBandwidth", &nr, d, 0) != 0)
		goto out_free;
	if (nr > 8)
		nr = 8;
	for (m = 0; m < nr; m++) {
		unsigned i, j, k = d[m]->nbobjs;
		for (i = 0; i < k; i++) {
			int gi = d[m]->objs[i] ? gpu_of(l, d[m]->objs[i]) : -1;
			if (gi < 0)
				continue;
			for (j = 0; j < k; j++) {
				hwloc_obj_t o = d[m]->objs[j];
				unsigned long long v = d[m]->values[i * k + j];
				int gj;
				if (!o || i == j || v == 0)
					continue;
				gj = gpu_of(l, o);
				if (gj >= 0 && gj != gi)
					direct[(size_t)gi * n + (size_t)gj] += v;
				else if (gj < 0 && is_nvswitch(o))
					sw[gi] += v;
			}
		}
		hwloc_distances_release(l->topo, d[m]);
	}
	for (a = 0; a < n * n; a++)
		direct_n[a] = nvlink_count(direct[a]);
	for (a = 0; a < n; a++)
		sw_n[a] = nvlink_count(sw[a]);
	any = apply_nvlink(t, direct_n, sw_n);
out_free:
	free(direct);
	free(sw);
	free(direct_n);
	free(sw_n);
	return any;
}

/*
 * NVLink from NVML, for machines whose hwloc has no NVML backend (Debian's,
 * for one). Only for the machine we run on, or when AIC_NVML_LIBRARY names
 * a library explicitly (tests use a fake NVML that answers from a fixture):
 * the local NVML says nothing about an XML file from elsewhere.
 */
static void read_nvml(struct aic_topo *t, bool live)
{
	const char *lib = getenv("AIC_NVML_LIBRARY");
	const char **busids;
	int *direct, *sw;
	size_t i, n = t->n_gpus;

	if (n == 0 || (!live && (!lib || !*lib)))
		return;
	busids = calloc(n, sizeof(*busids));
	direct = calloc(n * n, sizeof(*direct));
	sw = calloc(n, sizeof(*sw));
	if (busids && direct && sw) {
		for (i = 0; i < n; i++)
			busids[i] = t->gpus[i].busid;
		if (aic__nvml_links(lib && *lib ? lib : NULL, busids, n, direct, sw) == 0)
			apply_nvlink(t, direct, sw);
	}
	free(busids);
	free(direct);
	free(sw);
}

static int cmp_obj_busid(const void *pa, const void *pb)
{
	const hwloc_obj_t a = *(const hwloc_obj_t *)pa, b = *(const hwloc_obj_t *)pb;
	const struct hwloc_pcidev_attr_s *x = &a->attr->pcidev, *y = &b->attr->pcidev;

	if (x->domain != y->domain)
		return x->domain < y->domain ? -1 : 1;
	if (x->bus != y->bus)
		return x->bus < y->bus ? -1 : 1;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->func < y->func ? -1 : x->func > y->func;
}

static int build(struct loader *l, bool live)
{
	hwloc_topology_t topo = l->topo;
	struct aic_topo *t = l->t;
	hwloc_obj_t o, root = hwloc_get_root_obj(topo);
	const char *host;
	size_t i, j, n;
	int depth;

	host = hwloc_obj_get_info_by_name(root, "HostName");
	if (host)
		snprintf(t->host, sizeof(t->host), "%s", host);
	to_cpuset(&t->cpus, hwloc_topology_get_allowed_cpuset(topo));
	t->n_packages = (size_t)hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);

	n = (size_t)hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
	t->numa = calloc(n + 1, sizeof(*t->numa));
	if (!t->numa)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		o = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, (unsigned)i);
		t->numa[t->n_numa].os_index = (int)o->os_index;
		to_cpuset(&t->numa[t->n_numa].cpus, o->cpuset);
		t->n_numa++;
	}

	depth = hwloc_get_type_depth(topo, HWLOC_OBJ_CORE);
	if (depth < 0)
		depth = hwloc_get_type_depth(topo, HWLOC_OBJ_PU);
	n = depth < 0 ? 0 : (size_t)hwloc_get_nbobjs_by_depth(topo, depth);
	t->cores = calloc(n + 1, sizeof(*t->cores));
	if (!t->cores)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct aic_core *c = &t->cores[t->n_cores];
		o = hwloc_get_obj_by_depth(topo, depth, (unsigned)i);
		to_cpuset(&c->pus, o->cpuset);
		aic_cpuset_and(&c->pus, &c->pus, &t->cpus);
		if (aic_cpuset_empty(&c->pus))
			continue;
		c->os_index = (int)o->os_index;
		c->numa = -1;
		for (j = 0; j < t->n_numa; j++) {
			struct aic_cpuset x;
			aic_cpuset_and(&x, &c->pus, &t->numa[j].cpus);
			if (aic_cpuset_equal(&x, &c->pus)) {
				c->numa = t->numa[j].os_index;
				break;
			}
		}
		t->n_cores++;
	}

	/* GPUs and NICs, each sorted by PCI bus id. */
	n = 0;
	for (o = NULL; (o = hwloc_get_next_pcidev(topo, o));)
		n++;
	l->gpu_obj = calloc(n + 1, sizeof(*l->gpu_obj));
	l->nic_obj = calloc(n + 1, sizeof(*l->nic_obj));
	if (!l->gpu_obj || !l->nic_obj)
		return -ENOMEM;
	for (o = NULL; (o = hwloc_get_next_pcidev(topo, o));) {
		hwloc_obj_t c;
		bool net = false;
		if (is_gpu(o)) {
			l->gpu_obj[t->n_gpus++] = o;
			continue;
		}
		for (c = o->io_first_child; c; c = c->next_sibling)
			if (c->type == HWLOC_OBJ_OS_DEVICE &&
			    (c->attr->osdev.type == HWLOC_OBJ_OSDEV_OPENFABRICS ||
			     c->attr->osdev.type == HWLOC_OBJ_OSDEV_NETWORK))
				net = true;
		if (net)
			l->nic_obj[t->n_nics++] = o;
	}
	qsort(l->gpu_obj, t->n_gpus, sizeof(*l->gpu_obj), cmp_obj_busid);
	qsort(l->nic_obj, t->n_nics, sizeof(*l->nic_obj), cmp_obj_busid);

	t->gpus = calloc(t->n_gpus + 1, sizeof(*t->gpus));
	t->nics = calloc(t->n_nics + 1, sizeof(*t->nics));
	t->link = calloc(t->n_gpus * t->n_gpus + 1, sizeof(*t->link));
	t->nvlinks = calloc(t->n_gpus * t->n_gpus + 1, sizeof(*t->nvlinks));
	t->gpu_nic = calloc(t->n_gpus * t->n_nics + 1, sizeof(*t->gpu_nic));
	if (!t->gpus || !t->nics || !t->link || !t->nvlinks || !t->gpu_nic)
		return -ENOMEM;

	for (i = 0; i < t->n_nics; i++) {
		struct aic_nic *nic = &t->nics[i];
		hwloc_obj_t c;
		format_busid(nic->busid, sizeof(nic->busid), l->nic_obj[i]);
		nic->numa = io_numa(topo, l->nic_obj[i], NULL);
		nic->kind = AIC_NIC_ETH;
		for (c = l->nic_obj[i]->io_first_child; c; c = c->next_sibling) {
			if (c->type != HWLOC_OBJ_OS_DEVICE || !c->name)
				continue;
			if (c->attr->osdev.type == HWLOC_OBJ_OSDEV_OPENFABRICS) {
				nic->kind = AIC_NIC_IB;
				snprintf(nic->name, sizeof(nic->name), "%s", c->name);
			} else if (c->attr->osdev.type == HWLOC_OBJ_OSDEV_NETWORK &&
				   !nic->ifname[0]) {
				snprintf(nic->ifname, sizeof(nic->ifname), "%s", c->name);
			}
		}
		if (!nic->name[0])
			snprintf(nic->name, sizeof(nic->name), "%s", nic->ifname);
	}

	for (i = 0; i < t->n_gpus; i++) {
		struct aic_gpu *g = &t->gpus[i];
		hwloc_obj_t c, pci = l->gpu_obj[i];
		const char *model = NULL;
		g->index = (int)i;
		format_busid(g->busid, sizeof(g->busid), pci);
		g->numa = io_numa(topo, pci, &g->cpus);
		aic_cpuset_and(&g->cpus, &g->cpus, &t->cpus);
		for (c = pci->io_first_child; c && !model; c = c->next_sibling)
			if (c->type == HWLOC_OBJ_OS_DEVICE)
				model = hwloc_obj_get_info_by_name(c, "GPUModel");
		if (model)
			snprintf(g->model, sizeof(g->model), "%s", model);
		else
			snprintf(g->model, sizeof(g->model), "NVIDIA [%04x:%04x]",
				 (unsigned)pci->attr->pcidev.vendor_id,
				 (unsigned)pci->attr->pcidev.device_id);
	}
	for (i = 0; i < t->n_gpus; i++)
		for (j = 0; j < t->n_gpus; j++)
			t->link[i * t->n_gpus + j] =
				i == j ? AIC_LINK_SELF
				       : pci_link(l->gpu_obj[i], l->gpu_obj[j], t->gpus[i].numa,
						  t->gpus[j].numa);
	if (!read_nvlink(l))
		read_nvml(t, live);

	/* Each GPU's nearest NIC: best path class, then InfiniBand, then PCI order. */
	for (i = 0; i < t->n_gpus; i++) {
		int best = -1;
		for (j = 0; j < t->n_nics; j++) {
			enum aic_link k = pci_link(l->gpu_obj[i], l->nic_obj[j], t->gpus[i].numa,
						   t->nics[j].numa);
			t->gpu_nic[i * t->n_nics + j] = k;
			if (best < 0 || k < t->gpu_nic[i * t->n_nics + (size_t)best] ||
			    (k == t->gpu_nic[i * t->n_nics + (size_t)best] &&
			     t->nics[j].kind == AIC_NIC_IB && t->nics[best].kind != AIC_NIC_IB))
				best = (int)j;
		}
		t->gpus[i].nic = best;
	}
	return 0;
}

/*
 * Loads from the hwloc XML file `xml`, or from `buf` (len bytes, NUL at
 * buf[len]) named `xml` in messages when buf is not NULL, or from this
 * machine when both are NULL.
 */
static int load(const char *xml, const char *buf, size_t len, struct aic_topo **out, char **errors)
{
	struct loader l = {0};
	int rc;

	*out = NULL;
	if (errors)
		*errors = NULL;
	if (buf && len >= INT_MAX) {
		set_error(errors, "aic: topology '%s' is too large%s", xml, "");
		return -EFBIG;
	}
	if (xml && !buf && access(xml, R_OK) != 0) {
		rc = -errno;
		set_error(errors, "aic: cannot read topology '%s': %s", xml, aic_strerror(rc));
		return rc;
	}
	l.t = calloc(1, sizeof(*l.t));
	if (!l.t)
		return -ENOMEM;
	if (hwloc_topology_init(&l.topo) != 0) {
		rc = -ENOMEM;
		goto out_free;
	}
	hwloc_topology_set_io_types_filter(l.topo, HWLOC_TYPE_FILTER_KEEP_ALL);
	/* hwloc takes a buffer's size with its final NUL, as its export gives it. */
	if (buf ? hwloc_topology_set_xmlbuffer(l.topo, buf, (int)len + 1) != 0
		: xml && hwloc_topology_set_xml(l.topo, xml) != 0) {
		rc = AIC_ETOPO;
		set_error(errors, "aic: '%s' is not an hwloc XML topology%s", xml, "");
		goto out_destroy;
	}
	if (hwloc_topology_load(l.topo) != 0) {
		rc = AIC_ETOPO;
		set_error(errors, "aic: cannot load the topology%s%s", xml ? " from " : "",
			  xml ? xml : "");
		goto out_destroy;
	}
	rc = build(&l, xml == NULL);
	if (rc == 0 && !l.t->host[0]) {
		if (xml) {
			/* No HostName in the file: name the node after it, less ".xml". */
			const char *base = strrchr(xml, '/');
			char *dot;
			snprintf(l.t->host, sizeof(l.t->host), "%s", base ? base + 1 : xml);
			dot = strrchr(l.t->host, '.');
			if (dot && dot != l.t->host && !strcmp(dot, ".xml"))
				*dot = '\0';
		} else if (gethostname(l.t->host, sizeof(l.t->host)) != 0) {
			snprintf(l.t->host, sizeof(l.t->host), "localhost");
		}
		l.t->host[sizeof(l.t->host) - 1] = '\0';
	}
	if (rc == -ENOMEM)
		set_error(errors, "aic: %s%s", "out of memory", "");
out_destroy:
	hwloc_topology_destroy(l.topo);
out_free:
	free(l.gpu_obj);
	free(l.nic_obj);
	if (rc == 0)
		*out = l.t;
	else
		aic_topo_free(l.t);
	return rc;
}

int aic_topo_load_xml(const char *path, struct aic_topo **out, char **errors)
{
	return load(path, NULL, 0, out, errors);
}

int aic_topo_load_xml_buffer(const char *buf, size_t len, const char *name, struct aic_topo **out,
			     char **errors)
{
	return load(name, buf, len, out, errors);
}

int aic_topo_load_live(struct aic_topo **out, char **errors)
{
	return load(NULL, NULL, 0, out, errors);
}

#else /* !HAVE_HWLOC */

int aic_topo_load_xml(const char *path, struct aic_topo **out, char **errors)
{
	*out = NULL;
	set_error(errors, "aic: cannot load topology '%s'%s: this build has no hwloc",
		  path ? path : "(live)", "");
	return AIC_ENOSUPPORT;
}

int aic_topo_load_xml_buffer(const char *buf, size_t len, const char *name, struct aic_topo **out,
			     char **errors)
{
	(void)buf;
	(void)len;
	return aic_topo_load_xml(name, out, errors);
}

int aic_topo_load_live(struct aic_topo **out, char **errors)
{
	return aic_topo_load_xml(NULL, out, errors);
}

#endif
