#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "error.h"
#include "token.h"

int aic_token_new(char *buf)
{
	return aic_auth_random_hex(buf, AIC_TOKEN_LEN);
}

bool aic_token_equal(const char *a, const char *b)
{
	size_t la = strnlen(a, AIC_TOKEN_LEN + 1), lb = strnlen(b, AIC_TOKEN_LEN + 1), i;
	unsigned char diff = (unsigned char)(la != AIC_TOKEN_LEN || lb != AIC_TOKEN_LEN);

	if (diff)
		return false;
	for (i = 0; i < AIC_TOKEN_LEN; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

int aic_token_write(const char *path, const char *token)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, token, AIC_TOKEN_LEN);
	if (n != AIC_TOKEN_LEN || close(fd) != 0)
		return n < 0 ? -errno : -EIO;
	return 0;
}

int aic_token_read(const char *path, char *buf)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, AIC_TOKEN_LEN);
	close(fd);
	if (n != AIC_TOKEN_LEN)
		return n < 0 ? -errno : AIC_EAUTH;
	buf[AIC_TOKEN_LEN] = '\0';
	return 0;
}
