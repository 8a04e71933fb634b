#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "strbuf.h"
#include "topo_file.h"

static void set_error(char **errors, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_error(char **errors, const char *fmt, ...)
{
	struct aic_strbuf sb;
	va_list ap;

	if (!errors)
		return;
	aic_strbuf_init(&sb);
	va_start(ap, fmt);
	aic_strbuf_vprintf(&sb, fmt, ap);
	va_end(ap);
	aic_strbuf_append(&sb, "\n", 1);
	*errors = aic_strbuf_detach(&sb);
}

/*
 * Where the node name comes from, read in SLURM 22.05's source: SPANK has
 * no item for it. The job's environment (spank_getenv) holds whatever srun
 * sent, so in user_init its SLURMD_NODENAME is the user's to choose, and
 * inside an sbatch job it is the batch host's name, inherited by every
 * srun; slurmstepd writes the right value into each task's copy only later
 * (exec_task, src/slurmd/slurmstepd/task.c). slurmstepd's own process
 * environment is another matter: on start, before any plugin is loaded,
 * it sets SLURMD_NODENAME there from the configuration slurmd passes it
 * (setenvf(NULL, "SLURMD_NODENAME", "%s", conf->node_name) in
 * src/slurmd/slurmstepd/slurmstepd.c, _init_from_slurmd), and the job's
 * environment is a separate array that never reaches environ. So getenv()
 * here returns slurmd's NodeName, which is right where NodeName differs
 * from the host name and with several slurmd per host; the host name is
 * only a fallback for a slurmstepd that did not set it.
 */
int aic_spank_node_name(char *buf, size_t len)
{
	const char *name = getenv("SLURMD_NODENAME");

	if (name && *name) {
		if (strlen(name) >= len)
			return -ENAMETOOLONG;
		memcpy(buf, name, strlen(name) + 1);
		return 0;
	}
	if (gethostname(buf, len) != 0)
		return -errno;
	if (strnlen(buf, len) == len)
		return -ENAMETOOLONG;
	return 0;
}

int aic_spank_topo_path(const char *pattern, const char *node, char *buf, size_t len, char **errors)
{
	size_t o = 0, n = strlen(node);
	const char *p;

	if (errors)
		*errors = NULL;
	if (strstr(pattern, "%n") && (!n || strchr(node, '/') || strstr(node, ".."))) {
		set_error(errors, "aic: node name '%s' cannot be part of a file name: topo_xml=%s",
			  node, pattern);
		return -EINVAL;
	}
	for (p = pattern; *p; p++) {
		const char *s = p;
		size_t k = 1;

		if (p[0] == '%' && p[1] == 'n') {
			s = node;
			k = n;
			p++;
		}
		if (o + k >= len) {
			set_error(errors, "aic: topo_xml=%s is too long for node '%s'", pattern,
				  node);
			return -EINVAL;
		}
		memcpy(buf + o, s, k);
		o += k;
	}
	buf[o] = '\0';
	return 0;
}

/* Reads the whole file on fd, at most max bytes, into a NUL-terminated buffer. */
static int read_all(int fd, size_t max, char **out, size_t *n)
{
	char *buf = malloc(max + 2);
	size_t o = 0;

	if (!buf)
		return -ENOMEM;
	/* One byte more than allowed tells a file that grew since fstat. */
	while (o < max + 1) {
		ssize_t r = read(fd, buf + o, max + 1 - o);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int rc = -errno;
			free(buf);
			return rc;
		}
		if (r == 0)
			break;
		o += (size_t)r;
	}
	if (o > max) {
		free(buf);
		return -EFBIG;
	}
	buf[o] = '\0';
	*out = buf;
	*n = o;
	return 0;
}

int aic_spank_topo_load(const char *path, size_t max, struct aic_topo **out, char **errors)
{
	char *buf = NULL;
	struct stat st;
	size_t n = 0;
	int fd, rc;

	*out = NULL;
	if (errors)
		*errors = NULL;
	/*
	 * O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	 * writer, for ever. O_NOFOLLOW: the file is the one named, not where a
	 * link points. Neither the size check nor S_ISREG can come first, as a
	 * path checked then opened may have changed in between.
	 */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ELOOP)
			set_error(errors,
				  "aic: topology '%s' is a symbolic link; topo_xml= must name the "
				  "file itself",
				  path);
		else
			set_error(errors, "aic: cannot read topology '%s': %s", path,
				  aic_strerror(rc));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		set_error(errors, "aic: cannot read topology '%s': %s", path, aic_strerror(rc));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		set_error(errors, "aic: topology '%s' is not a regular file", path);
		goto out_close;
	}
	if ((unsigned long long)st.st_size > max) {
		rc = -EFBIG;
		set_error(errors, "aic: topology '%s' has %lld bytes, more than the %zu read", path,
			  (long long)st.st_size, max);
		goto out_close;
	}
	rc = read_all(fd, max, &buf, &n);
	if (rc == -EFBIG) {
		set_error(errors, "aic: topology '%s' has more than the %zu bytes read", path, max);
		goto out_close;
	}
	if (rc) {
		set_error(errors, "aic: cannot read topology '%s': %s", path, aic_strerror(rc));
		goto out_close;
	}
	rc = aic_topo_load_xml_buffer(buf, n, path, out, errors);
	free(buf);
out_close:
	close(fd);
	return rc;
}
