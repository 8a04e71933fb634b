/*
 * JSONL files that runs append to (jsonl.h): a torn last line cut back.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonl.h"

/*
 * Where the whole lines of fd's first size bytes end: after the last
 * newline (0: none), or -1 with errno (EINVAL: none in the last
 * AIC_JSONL_LINE_MAX bytes).
 */
static off_t whole_end(int fd, off_t size)
{
	char buf[4096];
	off_t at = size;

	while (at > 0 && size - at < AIC_JSONL_LINE_MAX) {
		size_t n = at < (off_t)sizeof(buf) ? (size_t)at : sizeof(buf);
		ssize_t k = pread(fd, buf, n, at - (off_t)n);

		if (k != (ssize_t)n) {
			if (k >= 0)
				errno = EIO; /* the file shrank under us */
			return -1;
		}
		for (size_t i = n; i > 0; i--)
			if (buf[i - 1] == '\n')
				return at - (off_t)n + (off_t)i;
		at -= (off_t)n;
	}
	if (at > 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* part: the printable start of fd's bytes from `from` to `size`. */
static void describe(int fd, off_t from, off_t size, char *part, size_t part_size)
{
	size_t n, shown;

	if (!part || part_size < 4)
		return;
	shown = part_size - 4; /* room for "..." and the NUL */
	n = (size_t)(size - from) < shown ? (size_t)(size - from) : shown;
	if (pread(fd, part, n, from) != (ssize_t)n)
		n = 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)part[i] < 0x20 || (unsigned char)part[i] >= 0x7f || part[i] == '"' ||
		    part[i] == '\\')
			part[i] = '?';
	strcpy(part + n, (size_t)(size - from) > n ? "..." : "");
}

FILE *aic_jsonl_append(const char *path, off_t *cut, char *part, size_t part_size)
{
	struct stat st, rst;
	FILE *f;
	off_t end;
	int rfd, err = 0;

	*cut = 0;
	if (part && part_size)
		part[0] = 0;
	f = fopen(path, "ae");
	if (!f)
		return NULL;
	if (fstat(fileno(f), &st) != 0) {
		err = errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0)
		return f; /* a FIFO, a terminal, or nothing yet */
	/* Read through a descriptor of its own: f's is write-only, as a FIFO's must be. */
	rfd = open(path, O_RDONLY | O_CLOEXEC);
	if (rfd < 0) {
		err = errno;
		goto fail;
	}
	if (fstat(rfd, &rst) != 0 || rst.st_dev != st.st_dev || rst.st_ino != st.st_ino) {
		close(rfd);
		err = EAGAIN; /* replaced since it was opened */
		goto fail;
	}
	end = whole_end(rfd, st.st_size);
	if (end < 0)
		err = errno;
	else if (end < st.st_size) {
		describe(rfd, end, st.st_size, part, part_size);
		if (ftruncate(fileno(f), end) != 0)
			err = errno;
		else
			*cut = st.st_size - end;
	}
	close(rfd);
	if (!err)
		return f;
fail:
	fclose(f);
	errno = err;
	return NULL;
}
