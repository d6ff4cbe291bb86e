/* The access token and the refusal counters (ctl_auth.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl_auth.h"

const char *const ctl_refusal_names[CTL_REFUSED_MAX] = {
#define CTL_REFUSAL_NAME(e, n) n,
	CTL_FOREACH_REFUSAL(CTL_REFUSAL_NAME)
#undef CTL_REFUSAL_NAME
};
uint64_t ctl_refused[CTL_REFUSED_MAX];

bool ctl_token_eq(const char *want, size_t want_len, const void *got, size_t got_len)
{
	const unsigned char *g = got;
	unsigned char d = want_len != got_len || want_len == 0;

	for (size_t i = 0; i < want_len; i++)
		d |= (unsigned char)(want[i] ^ (i < got_len ? g[i] : 0));
	return d == 0;
}

static bool token_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("._~+/=-", c);
}

static int make_token(const char *path, char *err, size_t errlen)
{
	unsigned char raw[CTL_TOKEN_BYTES];
	char hex[2 * CTL_TOKEN_BYTES + 2];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "token: getrandom: %s", strerror(errno));
			return -1;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	hex[2 * CTL_TOKEN_BYTES] = '\n';
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "token: cannot create '%s': %s", path, strerror(errno));
		return -1;
	}
	size_t len = 2 * CTL_TOKEN_BYTES + 1, off = 0;
	while (off < len) {
		ssize_t n = write(fd, hex + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off < len || fsync(fd) != 0) {
		snprintf(err, errlen, "token: cannot write '%s': %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

int ctl_token_load(const char *path, bool create, char *tok, size_t toklen, char *err, size_t errlen)
{
	char buf[CTL_TOKEN_MAX + 2];
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0 && errno == ENOENT && create) {
		if (make_token(path, err, errlen) != 0)
			return -1;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0) {
		snprintf(err, errlen, "token: cannot open '%s': %s%s", path, strerror(errno),
			 create ? ""
				: "; give the token file of fanout-control (STATE_DIR/" CTL_TOKEN_FILE ") with "
				  "--token-file or FANOUT_TOKEN_FILE, or the token in FANOUT_TOKEN");
		return -1;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "token: '%s' is not a regular file", path);
		close(fd);
		return -1;
	}
	if (create && (sb.st_mode & 077)) {
		snprintf(err, errlen, "token: '%s' is readable by group or others (mode %04o); chmod 600 %s", path,
			 (unsigned)(sb.st_mode & 07777), path);
		close(fd);
		return -1;
	}
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "token: cannot read '%s': %s", path, strerror(errno));
		return -1;
	}
	size_t len = (size_t)n;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		len--;
	bool ok = len >= CTL_TOKEN_MIN && len <= CTL_TOKEN_MAX && len < toklen;
	for (size_t i = 0; ok && i < len; i++)
		ok = token_char(buf[i]);
	if (!ok) {
		snprintf(err, errlen,
			 "token: '%s' must hold one token of %d..%d characters [A-Za-z0-9._~+/=-]; delete it "
			 "and restart fanout-control to make a new one",
			 path, CTL_TOKEN_MIN, CTL_TOKEN_MAX);
		return -1;
	}
	memcpy(tok, buf, len);
	tok[len] = '\0';
	return 0;
}
