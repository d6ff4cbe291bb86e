/* Replay driver for libFuzzer targets when libFuzzer is not in the build (gcc, or -Dfuzz=false):
 * links with any file defining LLVMFuzzerTestOneInput, runs it on every seed given on the
 * command line (files, or directories of files), then on FUZZ_ITERATIONS (default 200000)
 * deterministic mutations of those seeds, so every build - the sanitizer one too - fuzzes a
 * little in `meson test`. Environment: FUZZ_ITERATIONS, FUZZ_SEED (default fixed),
 * FUZZ_CRASH_FILE (where the input that crashed is saved; default fuzz-replay-crash.bin). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target, as with libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
/* Present when built with a sanitizer, whose reports end the process without a signal. */
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

#define DEFAULT_ITERATIONS 200000ul
#define DEFAULT_SEED 0x9E3779B97F4A7C15ull
#define MAX_SEED_FILE (1u << 20)        /* bigger seed files are cut to this */
#define MAX_MUTANT (64u * 1024u + 512u) /* mutants grow past the 65535 length limit, no further */
#define MAX_STACKED 4                   /* mutations applied to one seed per run */

struct seed {
	char *name;
	uint8_t *data;
	size_t len;
};

static struct seed *seeds;
static size_t n_seeds, cap_seeds;

/* What is running now, for the crash handler (async-signal-safe access only). */
static const uint8_t *volatile cur_data;
static volatile size_t cur_len;
static const char *crash_file = "fuzz-replay-crash.bin";

static uint64_t rng_state;

static uint64_t rng(void) /* xorshift64* */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

static size_t below(size_t n) /* uniform enough in [0, n); n > 0 */
{
	return (size_t)(rng() % n);
}

static void die(const char *what, const char *name)
{
	fprintf(stderr, "fuzz-replay: %s %s: %s\n", what, name, strerror(errno));
	exit(2);
}

static void add_seed(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t len;

	if (f == NULL)
		die("cannot open seed", path);
	buf = malloc(MAX_SEED_FILE);
	if (buf == NULL)
		die("out of memory reading", path);
	len = fread(buf, 1, MAX_SEED_FILE, f);
	if (ferror(f))
		die("cannot read seed", path);
	fclose(f);
	if (n_seeds == cap_seeds) {
		cap_seeds = cap_seeds ? 2 * cap_seeds : 64;
		seeds = realloc(seeds, cap_seeds * sizeof(*seeds));
		if (seeds == NULL)
			die("out of memory reading", path);
	}
	seeds[n_seeds].name = strdup(path);
	seeds[n_seeds].data = buf;
	seeds[n_seeds].len = len;
	n_seeds++;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Directory entries in name order, so the mutation sequence does not depend on the filesystem. */
static void add_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (d == NULL)
		die("cannot open corpus directory", dir);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			names = realloc(names, cap * sizeof(*names));
			if (names == NULL)
				die("out of memory listing", dir);
		}
		if (asprintf(&names[n], "%s/%s", dir, e->d_name) < 0)
			die("out of memory listing", dir);
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
			add_seed(names[i]);
		free(names[i]);
	}
	free(names);
}

static void say(const char *s)
{
	if (write(STDERR_FILENO, s, strlen(s)) < 0) {
		/* nothing more can be done while dying */
	}
}

/* Save the input that is running; called from a signal handler or a sanitizer's death
 * callback, so only async-signal-safe calls. */
static void save_crash(void)
{
	int fd = open(crash_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd >= 0) {
		if (cur_data != NULL && cur_len > 0 && write(fd, (const void *)cur_data, cur_len) < 0) {
			/* as above */
		}
		close(fd);
	}
	say("fuzz-replay: crashed; input saved to ");
	say(crash_file);
	say(" (replay it: this binary + that file, FUZZ_ITERATIONS=0)\n");
}

static void on_crash(int sig)
{
	save_crash();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Run the target on an exactly-sized heap copy, so sanitizers see reads past the end. */
static void run_one(const uint8_t *data, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	if (copy == NULL) {
		fprintf(stderr, "fuzz-replay: out of memory\n");
		exit(2);
	}
	if (len)
		memcpy(copy, data, len);
	cur_data = copy;
	cur_len = len;
	LLVMFuzzerTestOneInput(copy, len);
	cur_data = NULL;
	free(copy);
}

/* ---------------------------------------------------------------- mutations */

static void insert_bytes(uint8_t *b, size_t *len, size_t at, size_t n)
{
	if (*len + n > MAX_MUTANT)
		n = MAX_MUTANT - *len;
	memmove(b + at + n, b + at, *len - at);
	for (size_t i = 0; i < n; i++)
		b[at + i] = (uint8_t)rng();
	*len += n;
}

/* Make a length field agree with the size again (1 or 3 octets, as MQTT-SN and many TLV-ish
 * formats use), so mutants get past the framing checks into the bodies. */
static void fix_length(uint8_t *b, size_t *len)
{
	if (*len >= 4 && b[0] == 0x01) {
		b[1] = (uint8_t)(*len >> 8);
		b[2] = (uint8_t)*len;
	} else if (*len >= 2 && *len <= 255 && *len != 1) {
		b[0] = (uint8_t)*len;
	} else if (*len > 255 && *len + 2 <= MAX_MUTANT) {
		memmove(b + 3, b + 1, *len - 1);
		*len += 2;
		b[0] = 0x01;
		b[1] = (uint8_t)(*len >> 8);
		b[2] = (uint8_t)*len;
	}
}

static const uint8_t interesting[] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x7F, 0x80, 0xFE, 0xFF };

static void mutate(uint8_t *b, size_t *len)
{
	size_t at;

	switch (below(11)) {
	case 0: /* flip a bit */
		if (*len)
			b[below(*len)] ^= (uint8_t)(1u << below(8));
		break;
	case 1: /* random byte */
		if (*len)
			b[below(*len)] = (uint8_t)rng();
		break;
	case 2: /* interesting byte */
		if (*len)
			b[below(*len)] = interesting[below(sizeof(interesting))];
		break;
	case 3: /* truncate */ *len = below(*len + 1); break;
	case 4: /* tweak the leading length octet(s) by a little */
		if (*len >= 3 && b[0] == 0x01)
			b[2] = (uint8_t)(b[2] + below(5) - 2);
		else if (*len)
			b[0] = (uint8_t)(b[0] + below(5) - 2);
		break;
	case 5: /* insert a few bytes */ insert_bytes(b, len, below(*len + 1), 1 + below(8)); break;
	case 6: /* insert a run long enough to cross the 255-octet boundary */
		insert_bytes(b, len, below(*len + 1), 200 + below(120));
		break;
	case 7: /* delete a range */
		if (*len) {
			size_t n;

			at = below(*len);
			n = 1 + below(*len - at);
			memmove(b + at, b + at + n, *len - at - n);
			*len -= n;
		}
		break;
	case 8: /* splice: append the tail of another seed */
		if (n_seeds) {
			const struct seed *s = &seeds[below(n_seeds)];
			size_t from = below(s->len + 1), n = s->len - from;

			if (*len + n > MAX_MUTANT)
				n = MAX_MUTANT - *len;
			memcpy(b + *len, s->data + from, n);
			*len += n;
		}
		break;
	case 9: /* swap two bytes */
		if (*len >= 2) {
			size_t i = below(*len), j = below(*len);
			uint8_t t = b[i];

			b[i] = b[j];
			b[j] = t;
		}
		break;
	default: /* 16-bit big-endian interesting value */
		if (*len >= 2) {
			static const uint16_t v16[] = { 0x0000, 0x0001, 0x00FF, 0x0100, 0x7FFF, 0xFFFF, 0xFFFE };
			uint16_t v = v16[below(sizeof(v16) / sizeof(v16[0]))];

			at = below(*len - 1);
			b[at] = (uint8_t)(v >> 8);
			b[at + 1] = (uint8_t)v;
		}
		break;
	}
}

static unsigned long env_ulong(const char *name, unsigned long dflt)
{
	const char *v = getenv(name);
	char *end;
	unsigned long x;

	if (v == NULL || *v == '\0')
		return dflt;
	errno = 0;
	x = strtoul(v, &end, 0);
	if (errno || *end != '\0') {
		fprintf(stderr, "fuzz-replay: %s=%s is not a number; unset it or give e.g. %s=1000\n", name, v, name);
		exit(2);
	}
	return x;
}

int main(int argc, char **argv)
{
	unsigned long iterations = env_ulong("FUZZ_ITERATIONS", DEFAULT_ITERATIONS);
	struct timespec t0, t1;
	uint8_t *work = malloc(MAX_MUTANT);
	size_t max_len = 0;
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

	uint64_t seed = env_ulong("FUZZ_SEED", 0);

	rng_state = seed = seed ? seed : DEFAULT_SEED;
	if (getenv("FUZZ_CRASH_FILE"))
		crash_file = getenv("FUZZ_CRASH_FILE");
	if (work == NULL) {
		fprintf(stderr, "fuzz-replay: out of memory\n");
		return 2;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) != 0)
			die("cannot find corpus", argv[i]);
		if (S_ISDIR(st.st_mode))
			add_dir(argv[i]);
		else
			add_seed(argv[i]);
	}
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(save_crash);
	signal(SIGABRT, on_crash);
	signal(SIGSEGV, on_crash);
	signal(SIGBUS, on_crash);
	signal(SIGFPE, on_crash);
	signal(SIGILL, on_crash);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < n_seeds; i++)
		run_one(seeds[i].data, seeds[i].len);
	run_one(NULL, 0);
	for (unsigned long it = 0; it < iterations; it++) {
		size_t len = 0;
		size_t k = 1 + below(MAX_STACKED);

		if (n_seeds) {
			const struct seed *s = &seeds[below(n_seeds)];

			len = s->len < MAX_MUTANT ? s->len : MAX_MUTANT;
			memcpy(work, s->data, len);
		}
		while (k--)
			mutate(work, &len);
		if (below(2))
			fix_length(work, &len);
		if (len > max_len)
			max_len = len;
		run_one(work, len);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	printf("fuzz-replay %s: %zu seeds + %lu mutants (seed 0x%llx, max %zu bytes) in %.2f s, no crash\n", name,
	       n_seeds, iterations, (unsigned long long)seed, max_len,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	for (size_t i = 0; i < n_seeds; i++) {
		free(seeds[i].name);
		free(seeds[i].data);
	}
	free(seeds);
	free(work);
	return 0;
}
