/*
 * Replays a fuzz corpus through a libFuzzer-style entry point without
 * libFuzzer: every regular file in each directory (or each file) named in
 * argv is one input. Prints TAP, one test per input; a crash ends the
 * binary, which automake reports as an error.
 */
#ifndef AIC_FUZZ_REPLAY_H
#define AIC_FUZZ_REPLAY_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef int (*aic_fuzz_fn)(const uint8_t *data, size_t size);

static int aic_fuzz_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int aic_fuzz_one(const char *path, aic_fuzz_fn fn, int n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long len;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    !(buf = malloc((size_t)len + 1)) || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		printf("not ok %d - %s: cannot read\n", n, path);
		if (f)
			fclose(f);
		free(buf);
		return 1;
	}
	fclose(f);
	fn(buf, (size_t)len);
	free(buf);
	printf("ok %d - %s\n", n, path);
	fflush(stdout);
	return 0;
}

static int aic_fuzz_replay(int argc, char **argv, aic_fuzz_fn fn)
{
	char **files = NULL;
	size_t n = 0, i;
	int a, bad = 0;

	for (a = 1; a < argc; a++) {
		struct stat st;
		DIR *d;
		struct dirent *e;

		if (stat(argv[a], &st) != 0)
			continue;
		if (!S_ISDIR(st.st_mode)) {
			files = realloc(files, (n + 1) * sizeof(*files));
			files[n++] = strdup(argv[a]);
			continue;
		}
		d = opendir(argv[a]);
		while (d && (e = readdir(d))) {
			char p[4096];
			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", argv[a], e->d_name);
			files = realloc(files, (n + 1) * sizeof(*files));
			files[n++] = strdup(p);
		}
		if (d)
			closedir(d);
	}
	if (n == 0) {
		printf("1..0 # SKIP no corpus files\n");
		return 0;
	}
	qsort(files, n, sizeof(*files), aic_fuzz_cmp);
	printf("1..%zu\n", n);
	for (i = 0; i < n; i++) {
		bad |= aic_fuzz_one(files[i], fn, (int)i + 1);
		free(files[i]);
	}
	free(files);
	return bad;
}

#endif
