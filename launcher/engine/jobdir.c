/*
 * Job directories and whom they trust. A job directory holds the job's
 * token, and `aic status`/`aic stop` send that token to the address in its
 * head file, so only a directory that nobody else can change is used: the
 * job directory and .aic are real directories (not symbolic links) of this
 * user's with no access for group or others, and the directory holding a
 * job directory can be changed only by this user or root (or is sticky,
 * like /tmp). Files are created with O_EXCL|O_NOFOLLOW, so a link planted
 * in their place is never followed, nor a file truncated.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "jobdir.h"
#include "jsonl.h"
#include "log.h"
#include "token.h"

/* Whether st, lstat'ed at path, is a directory that only this user can use. */
static int check_private(const char *path, const struct stat *st, char *err, size_t errlen)
{
	if (S_ISLNK(st->st_mode)) {
		snprintf(err, errlen,
			 "aic: '%s' is a symbolic link, not a job directory; remove it", path);
		return -ELOOP;
	}
	if (!S_ISDIR(st->st_mode)) {
		snprintf(err, errlen, "aic: '%s' is not a directory", path);
		return -ENOTDIR;
	}
	if (st->st_uid != geteuid()) {
		snprintf(err, errlen,
			 "aic: '%s' belongs to uid %u, not to you (uid %u): not trusted", path,
			 (unsigned)st->st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	if (st->st_mode & 077) {
		snprintf(err, errlen,
			 "aic: '%s' is open to other users (mode %04o): not trusted; make it "
			 "private (chmod go= '%s') or remove it",
			 path, (unsigned)(st->st_mode & 07777), path);
		return -EPERM;
	}
	return 0;
}

/* Whether nobody but this user and root can rename what is in directory path. */
static int check_parent(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		int rc = -errno;
		snprintf(err, errlen, "aic: cannot use '%s': %s", path, aic_strerror(rc));
		return rc;
	}
	if ((st.st_uid != geteuid() && st.st_uid != 0) ||
	    ((st.st_mode & 022) && !(st.st_mode & S_ISVTX))) {
		snprintf(err, errlen,
			 "aic: '%s' can be changed by other users (uid %u, mode %04o): a job "
			 "directory in it is not trusted",
			 path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* Opens the private directory path (made if missing), or fails with err. */
static int open_private_dir(const char *path, bool make, char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	if (make && mkdir(path, 0700) != 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "aic: cannot make '%s': %s", path, aic_strerror(rc));
		return rc;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int checked;

		rc = -errno;
		/* A link or a file: say which. */
		if (lstat(path, &st) == 0 && (checked = check_private(path, &st, err, errlen)) != 0)
			return checked;
		snprintf(err, errlen, "aic: cannot open '%s': %s", path, aic_strerror(rc));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		snprintf(err, errlen, "aic: cannot use '%s': %s", path, aic_strerror(rc));
		goto out_close;
	}
	rc = check_private(path, &st, err, errlen);
	if (rc == 0)
		return fd;
out_close:
	close(fd);
	return rc;
}

int jobdir_dot(const char *base, char *dot, size_t len, char *err, size_t errlen)
{

	if ((size_t)snprintf(dot, len, "%s/.aic", base) >= len) {
		snprintf(err, errlen, "aic: the path '%s/.aic' is too long", base);
		return -ENAMETOOLONG;
	}
	return open_private_dir(dot, true, err, errlen);
}

/*
 * Writes the token into the file `name`, new, in the directory dirfd, and
 * flushes it to disk when `sync` (a token that replaces another's must not
 * be lost in a crash after the rename).
 */
static int write_token(int dirfd, const char *name, const char *token, bool sync)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, token, AIC_TOKEN_LEN);
	if (n != AIC_TOKEN_LEN || (sync && fsync(fd) != 0)) {
		int rc = n < 0 || n == AIC_TOKEN_LEN ? -errno : -EIO;
		close(fd);
		return rc;
	}
	return close(fd) == 0 ? 0 : -errno;
}

/*
 * Opens the existing directory `name` in dirfd, refusing a link, another
 * user's directory, or one open to others, as open_private_dir does.
 */
static int openat_private(int dirfd, const char *name, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int checked;

		rc = -errno;
		/* A link or a file: say which. */
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    (checked = check_private(path, &st, err, errlen)) != 0)
			return checked;
		snprintf(err, errlen, "aic: cannot open '%s': %s", path, aic_strerror(rc));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		snprintf(err, errlen, "aic: cannot use '%s': %s", path, aic_strerror(rc));
	} else {
		rc = check_private(path, &st, err, errlen);
	}
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

/*
 * The job directory's token, replaced atomically in a reused directory: a
 * new file, flushed, renamed over the old one (rename replaces a link at
 * "token" itself, never what it points to), then the directory flushed.
 */
static int replace_token(int jfd, const char *token)
{
	char tmp[64];
	int rc;

	snprintf(tmp, sizeof(tmp), ".token.%d", (int)getpid());
	unlinkat(jfd, tmp, 0);
	rc = write_token(jfd, tmp, token, true);
	if (rc == 0 && renameat(jfd, tmp, jfd, "token") != 0)
		rc = -errno;
	if (rc) {
		unlinkat(jfd, tmp, 0);
		return rc;
	}
	return fsync(jfd) == 0 ? 0 : -errno;
}

/*
 * Everything below .aic is made through directory descriptors, so a .aic
 * swapped for someone else's between the check and the writes cannot
 * receive the token. With `reuse`, an existing job directory (and its
 * logs/) is opened instead of refused, under the same checks as .aic.
 */
static int make_jobdir(const char *base, const char *name, const char *token, char *path,
		       size_t len, bool reuse, bool *reused)
{
	char dot[PATH_MAX], link[64], err[PATH_MAX + 256], sub[PATH_MAX + 8];
	int dotfd, jfd = -1, lfd, rc;

	if (reused)
		*reused = false;
	dotfd = jobdir_dot(base, dot, sizeof(dot), err, sizeof(err));
	if (dotfd < 0) {
		/* The log has its own prefix. */
		aic_log_error("%s", strncmp(err, "aic: ", 5) ? err : err + 5);
		return dotfd;
	}
	snprintf(path, len, "%s/%s", dot, name);
	err[0] = '\0';
	rc = mkdirat(dotfd, name, 0700) == 0 ? 0 : -errno;
	if (rc == -EEXIST && reuse) {
		jfd = openat_private(dotfd, name, path, err, sizeof(err));
		rc = jfd < 0 ? jfd : 0;
		if (rc == 0 && reused)
			*reused = true;
		if (rc == 0) {
			snprintf(sub, sizeof(sub), "%s/logs", path);
			rc = mkdirat(jfd, "logs", 0700) == 0 ? 0 : -errno;
			if (rc == -EEXIST) {
				lfd = openat_private(jfd, "logs", sub, err, sizeof(err));
				rc = lfd < 0 ? lfd : close(lfd);
			}
		}
		if (rc == 0)
			rc = replace_token(jfd, token);
	} else {
		if (rc == 0) {
			jfd = openat(dotfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			rc = jfd >= 0 ? 0 : -errno;
		}
		if (rc == 0 && mkdirat(jfd, "logs", 0700) != 0)
			rc = -errno;
		if (rc == 0)
			rc = write_token(jfd, "token", token, false);
	}
	if (rc) {
		if (err[0])
			aic_log_error("%s", strncmp(err, "aic: ", 5) ? err : err + 5);
		else
			aic_log_error("cannot make the job directory '%s/%s': %s", dot, name,
				      aic_strerror(rc));
		goto out_close;
	}
	/* .aic/latest -> name, replaced atomically. */
	snprintf(link, sizeof(link), ".latest.%d", (int)getpid());
	unlinkat(dotfd, link, 0);
	if (symlinkat(name, dotfd, link) == 0 && renameat(dotfd, link, dotfd, "latest") != 0)
		unlinkat(dotfd, link, 0);
out_close:
	if (jfd >= 0)
		close(jfd);
	close(dotfd);
	return rc;
}

int jobdir_create(const char *base, const char *name, const char *token, char *path, size_t len)
{
	return make_jobdir(base, name, token, path, len, false, NULL);
}

int jobdir_reuse(const char *base, const char *name, const char *token, char *path, size_t len,
		 bool *reused)
{
	return make_jobdir(base, name, token, path, len, true, reused);
}

/*
 * Writes a file atomically: a temporary file, renamed over the old one.
 * With `sync`, the data reach the disk before the rename and the rename
 * before the return (the directory is synced too): a crash at any moment
 * leaves the old file or the new one, whole.
 */
static int write_atomic(const char *dir, const char *file, const char *text, bool sync)
{
	char tmp[PATH_MAX + 64], dst[PATH_MAX + 64];
	size_t n = strlen(text), off = 0;
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, file);
	snprintf(dst, sizeof(dst), "%s/%s", dir, file);
	/* A temporary file left by a killed writer is ours to replace. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (off < n) {
		ssize_t w = write(fd, text + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)w;
	}
	if (!rc && sync && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && !rc)
		rc = -errno;
	/* rename replaces a link at dst itself, never what it points to. */
	if (!rc && rename(tmp, dst) != 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	if (sync) {
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return -errno;
		rc = fsync(dfd) == 0 ? 0 : -errno;
		close(dfd);
	}
	return rc;
}

int jobdir_resume(const char *dir, const char *token, char *path, size_t len)
{
	char real[PATH_MAX], base[PATH_MAX], *name, *dot;
	bool reused = false;
	int rc;

	if (!realpath(dir, real)) {
		rc = -errno;
		aic_log_error("no job directory '%s' to resume: %s", dir, aic_strerror(rc));
		return rc;
	}
	snprintf(base, sizeof(base), "%s", real);
	name = strrchr(base, '/');
	*name++ = '\0';
	dot = strrchr(base, '/');
	if (!dot || strcmp(dot + 1, ".aic")) {
		aic_log_error("'%s' is not a job directory (DIR/.aic/NAME): nothing to resume", dir);
		return -EINVAL;
	}
	*dot = '\0';
	rc = make_jobdir(*base ? base : "/", name, token, path, len, true, &reused);
	if (rc == 0 && !reused)
		rc = -ENOENT;
	return rc;
}

int jobdir_write_text(const char *dir, const char *file, const char *text)
{
	return write_atomic(dir, file, text, false);
}

int jobdir_write_durable(const char *dir, const char *file, json_t *obj)
{
	char *text = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	int rc;

	if (!text)
		return -ENOMEM;
	rc = write_atomic(dir, file, text, true);
	free(text);
	return rc;
}

int jobdir_write_json(const char *dir, const char *file, json_t *obj)
{
	char *text = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	int rc;

	if (!text)
		return -ENOMEM;
	rc = jobdir_write_text(dir, file, text);
	free(text);
	return rc;
}

int jobdir_find(const char *given, char *path, size_t len, char *err, size_t errlen)
{
	char real[PATH_MAX], parent[PATH_MAX];
	const char *p = given ? given : ".aic/latest";
	struct stat st;
	int rc;

	if (!given && lstat(".aic", &st) == 0 &&
	    (rc = check_private(".aic", &st, err, errlen)) != 0)
		return rc;
	if (!realpath(p, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
		int e = errno;
		if (given)
			snprintf(err, errlen, "aic: no job directory '%s': %s", given, aic_strerror(-e));
		else
			snprintf(err, errlen,
				 "aic: no job here (no .aic/latest in this directory); give --job DIR");
		return -e;
	}
	rc = check_private(real, &st, err, errlen);
	if (rc)
		return rc;
	snprintf(parent, sizeof(parent), "%s", real);
	rc = check_parent(dirname(parent), err, errlen);
	if (rc)
		return rc;
	snprintf(path, len, "%s", real);
	return 0;
}

FILE *jobdir_open(const char *dir, const char *file, int *rc)
{
	char path[PATH_MAX + 64];
	struct stat st;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		*rc = -errno;
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		*rc = -EPERM;
		close(fd);
		return NULL;
	}
	f = fdopen(fd, "r");
	if (!f) {
		*rc = -errno;
		close(fd);
	}
	return f;
}

FILE *jobdir_append(const char *dir, const char *file)
{
	char path[PATH_MAX + 64], part[48];
	off_t cut;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = aic_jsonl_append(path, &cut, part, sizeof(part));
	if (!f && errno == EINVAL)
		aic_log_error("cannot write %s: no line end in its last %lld bytes", path,
			      (long long)AIC_JSONL_LINE_MAX);
	else if (!f)
		aic_log_error("cannot write %s: %s", path, strerror(errno));
	else if (cut)
		aic_log_warn("%s ended in %lld bytes of a line cut short (\"%s\", a run killed while "
			     "writing it): cut back to its last whole line",
			     path, (long long)cut, part);
	return f;
}
