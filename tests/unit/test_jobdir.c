/*
 * launcher/engine/jobdir.c: which job directories are trusted. Another
 * user who can plant a link or a directory in a shared submit directory
 * must not get the job's files truncated nor its token: a .aic or job
 * directory that is a link, someone else's, or open to others is refused,
 * and files are never written through a link. The cases with another
 * owner need root (chown); without it they are left out.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aic_test.h"
#include "jobdir.h"
#include "token.h"

#define NOBODY 65534

static char base[] = "/tmp/aic-test-jobdir-XXXXXX";
static const char token[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static const char *at(const char *rel)
{
	static char buf[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", base, rel);
	return buf[i];
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static const char *read_file(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "/tmp/aic-test-jobdir-XXXXXX");
	if (!mkdtemp(base))
		return -1;
	/* The submit directory: this user's, as a user's home is. */
	return chmod(base, 0755);
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd) == 0 ? 0 : -1;
}

static void create_and_find(void **state)
{
	char path[PATH_MAX], found[PATH_MAX], err[PATH_MAX + 256], cwd[PATH_MAX];
	struct stat st;
	int rc;

	(void)state;
	assert_int_equal(jobdir_create(base, "7.0", token, path, sizeof(path)), 0);
	assert_string_equal(path, at(".aic/7.0"));
	assert_int_equal(lstat(at(".aic"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(lstat(at(".aic/7.0/logs"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(lstat(at(".aic/7.0/token"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_string_equal(read_file(at(".aic/7.0/token")), token);
	assert_string_equal(read_file(at(".aic/latest/token")), token);
	/* A second job in the same .aic. */
	assert_int_equal(jobdir_create(base, "8.0", token, path, sizeof(path)), 0);

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(base), 0);
	rc = jobdir_find(NULL, found, sizeof(found), err, sizeof(err));
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rc, 0);
	assert_string_equal(found, at(".aic/8.0"));
	assert_int_equal(jobdir_find(at(".aic/7.0"), found, sizeof(found), err, sizeof(err)), 0);
	assert_string_equal(found, at(".aic/7.0"));
}

/* A .aic planted as a link: nothing is made where it points. */
static void dot_symlink_refused(void **state)
{
	char path[PATH_MAX], err[PATH_MAX + 256], want[PATH_MAX + 256];
	struct stat st;

	(void)state;
	assert_int_equal(mkdir(at("elsewhere"), 0700), 0);
	assert_int_equal(symlink("elsewhere", at(".aic")), 0);
	assert_int_equal(jobdir_create(base, "7.0", token, path, sizeof(path)), -ELOOP);
	assert_int_equal(lstat(at("elsewhere/7.0"), &st), -1);
	assert_int_equal(jobdir_dot(base, path, sizeof(path), err, sizeof(err)), -ELOOP);
	snprintf(want, sizeof(want), "aic: '%s' is a symbolic link, not a job directory; remove it",
		 at(".aic"));
	assert_string_equal(err, want);
}

/* A .aic that others may write to (a group member could plant anything in it). */
static void dot_open_to_others_refused(void **state)
{
	char path[PATH_MAX], err[PATH_MAX + 256], want[PATH_MAX + 512];
	struct stat st;

	(void)state;
	assert_int_equal(mkdir(at(".aic"), 0700), 0);
	assert_int_equal(chmod(at(".aic"), 0777), 0);
	assert_int_equal(jobdir_create(base, "7.0", token, path, sizeof(path)), -EPERM);
	assert_int_equal(lstat(at(".aic/7.0"), &st), -1);
	assert_int_equal(jobdir_dot(base, path, sizeof(path), err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want),
		 "aic: '%s' is open to other users (mode 0777): not trusted; make it private "
		 "(chmod go= '%s') or remove it",
		 at(".aic"), at(".aic"));
	assert_string_equal(err, want);
	assert_int_equal(chmod(at(".aic"), 0750), 0);
	assert_int_equal(jobdir_create(base, "7.0", token, path, sizeof(path)), -EPERM);
}

/* Another user's .aic, or job directory. */
static void other_owner_refused(void **state)
{
	char path[PATH_MAX], found[PATH_MAX], err[PATH_MAX + 256], want[PATH_MAX + 256];
	struct stat st;

	(void)state;
	if (geteuid() != 0)
		return;
	assert_int_equal(mkdir(at(".aic"), 0700), 0);
	assert_int_equal(chown(at(".aic"), NOBODY, NOBODY), 0);
	assert_int_equal(jobdir_create(base, "7.0", token, path, sizeof(path)), -EPERM);
	assert_int_equal(lstat(at(".aic/7.0"), &st), -1);
	assert_int_equal(jobdir_dot(base, path, sizeof(path), err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want), "aic: '%s' belongs to uid %d, not to you (uid 0): not trusted",
		 at(".aic"), NOBODY);
	assert_string_equal(err, want);

	/* A job directory of someone else's, in a .aic of ours. */
	assert_int_equal(chown(at(".aic"), 0, 0), 0);
	assert_int_equal(mkdir(at(".aic/9.0"), 0700), 0);
	assert_int_equal(chown(at(".aic/9.0"), NOBODY, NOBODY), 0);
	assert_int_equal(jobdir_find(at(".aic/9.0"), found, sizeof(found), err, sizeof(err)),
			 -EPERM);
	snprintf(want, sizeof(want), "aic: '%s' belongs to uid %d, not to you (uid 0): not trusted",
		 at(".aic/9.0"), NOBODY);
	assert_string_equal(err, want);
}

/* What aic status and aic stop trust: the job directory, its parent, its head file. */
static void find_refuses_untrusted(void **state)
{
	char path[PATH_MAX], found[PATH_MAX], err[PATH_MAX + 256], want[PATH_MAX + 256],
		cwd[PATH_MAX];
	FILE *f;
	int rc;

	(void)state;
	assert_int_equal(jobdir_create(base, "7.0", token, path, sizeof(path)), 0);
	write_file(at(".aic/7.0/head"), "127.0.0.1:1\n");
	f = jobdir_open(path, "head", &rc);
	assert_non_null(f);
	fclose(f);

	/* A job directory others can write to. */
	assert_int_equal(chmod(path, 0770), 0);
	assert_int_equal(jobdir_find(path, found, sizeof(found), err, sizeof(err)), -EPERM);
	assert_int_equal(chmod(path, 0700), 0);

	/* .aic/latest followed to a directory in a .aic open to others (non-sticky). */
	assert_int_equal(chmod(at(".aic"), 0777), 0);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(base), 0);
	rc = jobdir_find(NULL, found, sizeof(found), err, sizeof(err));
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rc, -EPERM);
	assert_int_equal(jobdir_find(path, found, sizeof(found), err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want),
		 "aic: '%s' can be changed by other users (uid %u, mode 0777): a job directory in "
		 "it is not trusted",
		 at(".aic"), (unsigned)geteuid());
	assert_string_equal(err, want);
	assert_int_equal(chmod(at(".aic"), 0700), 0);
	assert_int_equal(jobdir_find(path, found, sizeof(found), err, sizeof(err)), 0);

	/* A head file that is a link, or someone else's. */
	assert_int_equal(rename(at(".aic/7.0/head"), at("fake-head")), 0);
	assert_int_equal(symlink(at("fake-head"), at(".aic/7.0/head")), 0);
	assert_null(jobdir_open(path, "head", &rc));
	assert_int_equal(rc, -ELOOP);
	if (geteuid() == 0) {
		assert_int_equal(unlink(at(".aic/7.0/head")), 0);
		write_file(at(".aic/7.0/head"), "127.0.0.1:1\n");
		assert_int_equal(chown(at(".aic/7.0/head"), NOBODY, NOBODY), 0);
		assert_null(jobdir_open(path, "head", &rc));
		assert_int_equal(rc, -EPERM);
	}
}

/* A link planted where the status file is written: its target is left alone. */
static void write_never_follows_links(void **state)
{
	char path[PATH_MAX];

	(void)state;
	assert_int_equal(jobdir_create(base, "7.0", token, path, sizeof(path)), 0);
	write_file(at("victim"), "precious\n");
	assert_int_equal(symlink(at("victim"), at(".aic/7.0/.status.json.tmp")), 0);
	assert_int_equal(symlink(at("victim"), at(".aic/7.0/status.json")), 0);
	assert_int_equal(jobdir_write_text(path, "status.json", "{}\n"), 0);
	assert_string_equal(read_file(at("victim")), "precious\n");
	assert_string_equal(read_file(at(".aic/7.0/status.json")), "{}\n");
}

/*
 * A requeued job (same id) runs again in its old directory: what the first
 * run wrote stays, the token is the new run's, and a fresh job of the same
 * name is still refused.
 */
static void reuse_continues_in_old_directory(void **state)
{
	static const char token2[] =
		"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
	char path[PATH_MAX];
	struct stat st;
	bool reused = true;

	(void)state;
	assert_int_equal(jobdir_reuse(base, "7.0", token, path, sizeof(path), &reused), 0);
	assert_false(reused);
	assert_string_equal(path, at(".aic/7.0"));
	write_file(at(".aic/7.0/logs/train.0.log"), "step 1\n");
	write_file(at(".aic/7.0/metrics.jsonl"), "{}\n");

	assert_int_equal(jobdir_create(base, "7.0", token2, path, sizeof(path)), -EEXIST);
	assert_int_equal(jobdir_reuse(base, "7.0", token2, path, sizeof(path), &reused), 0);
	assert_true(reused);
	assert_string_equal(path, at(".aic/7.0"));
	assert_string_equal(read_file(at(".aic/7.0/token")), token2);
	assert_int_equal(lstat(at(".aic/7.0/token"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_string_equal(read_file(at(".aic/7.0/logs/train.0.log")), "step 1\n");
	assert_string_equal(read_file(at(".aic/7.0/metrics.jsonl")), "{}\n");
	assert_string_equal(read_file(at(".aic/latest/token")), token2);

	/* Its logs/ gone: made again. */
	assert_int_equal(unlink(at(".aic/7.0/logs/train.0.log")), 0);
	assert_int_equal(rmdir(at(".aic/7.0/logs")), 0);
	assert_int_equal(jobdir_reuse(base, "7.0", token, path, sizeof(path), &reused), 0);
	assert_int_equal(lstat(at(".aic/7.0/logs"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
}

/* The old directory is reused only under the checks a new one gets. */
static void reuse_refuses_untrusted(void **state)
{
	char path[PATH_MAX];
	bool reused;

	(void)state;
	assert_int_equal(jobdir_create(base, "7.0", token, path, sizeof(path)), 0);
	/* Open to others. */
	assert_int_equal(chmod(at(".aic/7.0"), 0770), 0);
	assert_int_equal(jobdir_reuse(base, "7.0", token, path, sizeof(path), &reused), -EPERM);
	assert_string_equal(read_file(at(".aic/7.0/token")), token);
	assert_int_equal(chmod(at(".aic/7.0"), 0700), 0);
	/* Its logs/ a link to somewhere else. */
	assert_int_equal(rmdir(at(".aic/7.0/logs")), 0);
	assert_int_equal(mkdir(at("elsewhere"), 0700), 0);
	assert_int_equal(symlink(at("elsewhere"), at(".aic/7.0/logs")), 0);
	assert_int_equal(jobdir_reuse(base, "7.0", token, path, sizeof(path), &reused), -ELOOP);
	assert_int_equal(unlink(at(".aic/7.0/logs")), 0);
	/* The job directory itself a link. */
	assert_int_equal(rename(at(".aic/7.0"), at("moved")), 0);
	assert_int_equal(symlink(at("moved"), at(".aic/7.0")), 0);
	assert_int_equal(jobdir_reuse(base, "7.0", token, path, sizeof(path), &reused), -ELOOP);
	/* A token planted as a link: replaced, its target untouched. */
	assert_int_equal(unlink(at(".aic/7.0")), 0);
	assert_int_equal(rename(at("moved"), at(".aic/7.0")), 0);
	write_file(at("victim"), "precious\n");
	assert_int_equal(unlink(at(".aic/7.0/token")), 0);
	assert_int_equal(symlink(at("victim"), at(".aic/7.0/token")), 0);
	assert_int_equal(jobdir_reuse(base, "7.0", token, path, sizeof(path), &reused), 0);
	assert_string_equal(read_file(at("victim")), "precious\n");
	assert_string_equal(read_file(at(".aic/7.0/token")), token);
}

/* The journal's write: whole, through no link, no temporary file left. */
static void durable_write(void **state)
{
	char path[PATH_MAX];
	json_t *o = json_pack("{s:i}", "version", 1);
	struct stat st;

	(void)state;
	assert_int_equal(jobdir_create(base, "7.0", token, path, sizeof(path)), 0);
	write_file(at("victim"), "precious\n");
	assert_int_equal(symlink(at("victim"), at(".aic/7.0/state.json")), 0);
	assert_int_equal(symlink(at("victim"), at(".aic/7.0/.state.json.tmp")), 0);
	assert_int_equal(jobdir_write_durable(path, "state.json", o), 0);
	assert_string_equal(read_file(at("victim")), "precious\n");
	assert_string_equal(read_file(at(".aic/7.0/state.json")), "{\n  \"version\": 1\n}");
	assert_int_equal(lstat(at(".aic/7.0/state.json"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(lstat(at(".aic/7.0/.state.json.tmp"), &st), -1);
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(create_and_find, setup, teardown),
		cmocka_unit_test_setup_teardown(dot_symlink_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(dot_open_to_others_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(other_owner_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(find_refuses_untrusted, setup, teardown),
		cmocka_unit_test_setup_teardown(write_never_follows_links, setup, teardown),
		cmocka_unit_test_setup_teardown(reuse_continues_in_old_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(reuse_refuses_untrusted, setup, teardown),
		cmocka_unit_test_setup_teardown(durable_write, setup, teardown),
	};
	return aic_test_run(tests);
}
