#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "jobdir.h"
#include "log.h"
#include "token.h"

static int mkdir_0700(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) == 0)
		return 0;
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	return -errno;
}

int jobdir_create(const char *base, const char *name, const char *token, char *path, size_t len)
{
	char dot[PATH_MAX], sub[PATH_MAX + 64], link[PATH_MAX + 64];
	int rc;

	snprintf(dot, sizeof(dot), "%s/.aic", base);
	rc = mkdir_0700(dot);
	if (rc == 0) {
		snprintf(path, len, "%s/%s", dot, name);
		if (mkdir(path, 0700) != 0)
			rc = -errno;
	}
	if (rc == 0) {
		snprintf(sub, sizeof(sub), "%s/logs", path);
		rc = mkdir_0700(sub);
	}
	if (rc == 0) {
		snprintf(sub, sizeof(sub), "%s/token", path);
		rc = aic_token_write(sub, token);
	}
	if (rc) {
		aic_log_error("cannot make the job directory '%s/%s': %s", dot, name, aic_strerror(rc));
		return rc;
	}
	/* .aic/latest -> name, replaced atomically. */
	snprintf(link, sizeof(link), "%s/.latest.%d", dot, (int)getpid());
	unlink(link);
	if (symlink(name, link) == 0) {
		snprintf(sub, sizeof(sub), "%s/latest", dot);
		if (rename(link, sub) != 0)
			unlink(link);
	}
	return 0;
}

int jobdir_write_text(const char *dir, const char *file, const char *text)
{
	char tmp[PATH_MAX + 64], dst[PATH_MAX + 64];
	FILE *f;
	int rc = 0;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, file);
	snprintf(dst, sizeof(dst), "%s/%s", dir, file);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	if (fputs(text, f) < 0)
		rc = -EIO;
	if (fclose(f) != 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, dst) != 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
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
	char real[PATH_MAX];
	const char *p = given ? given : ".aic/latest";
	struct stat st;

	if (!realpath(p, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
		int e = errno;
		if (given)
			snprintf(err, errlen, "aic: no job directory '%s': %s", given, aic_strerror(-e));
		else
			snprintf(err, errlen,
				 "aic: no job here (no .aic/latest in this directory); give --job DIR");
		return -e;
	}
	snprintf(path, len, "%s", real);
	return 0;
}
