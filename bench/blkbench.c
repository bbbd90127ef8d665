/* blkbench: virtio-blk throughput from inside the guest, with O_DIRECT so the guest's page
 * cache is out of the way. Sequential read and write in 1 MiB requests, 4 KiB random reads at
 * queue depth 1 and 32 (32 threads, one request in flight each). Static; goes into the
 * benchmark initramfs. Prints "bench: NAME VALUE UNIT" lines.
 *
 *   blkbench DEVICE SIZE_MIB SECONDS */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static const char *dev;
static uint64_t span;     /* bytes of the device used */
static double seconds;    /* per random-read test */

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *buffer(size_t n)
{
	void *p;
	if (posix_memalign(&p, 4096, n)) exit(1);
	for (size_t i = 0; i < n; i++) ((uint8_t *)p)[i] = (uint8_t)i;
	return p;
}

static double sequential(int write_mode)
{
	int fd = open(dev, (write_mode ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (fd < 0) { perror("blkbench: open"); exit(1); }
	const size_t bs = 1 << 20;
	void *buf = buffer(bs);
	double t0 = now();
	for (uint64_t off = 0; off < span; off += bs) {
		ssize_t n = write_mode ? pwrite(fd, buf, bs, (off_t)off) : pread(fd, buf, bs, (off_t)off);
		if (n != (ssize_t)bs) { perror("blkbench: sequential I/O"); exit(1); }
	}
	if (write_mode) fdatasync(fd);
	double t = now() - t0;
	close(fd);
	free(buf);
	return (double)span / (1 << 20) / t;
}

struct worker { unsigned seed; uint64_t ops; double end; };

static void *random_reads(void *arg)
{
	struct worker *w = arg;
	int fd = open(dev, O_RDONLY | O_DIRECT);
	if (fd < 0) { perror("blkbench: open"); exit(1); }
	void *buf = buffer(4096);
	uint64_t blocks = span / 4096;
	while (now() < w->end) {
		uint64_t b = (uint64_t)rand_r(&w->seed) % blocks;
		if (pread(fd, buf, 4096, (off_t)(b * 4096)) != 4096) { perror("blkbench: random read"); exit(1); }
		w->ops++;
	}
	close(fd);
	free(buf);
	return NULL;
}

static double iops(int depth)
{
	pthread_t t[32];
	struct worker w[32];
	double start = now();
	for (int i = 0; i < depth; i++) {
		w[i] = (struct worker){ .seed = (unsigned)i + 1, .ops = 0, .end = start + seconds };
		pthread_create(&t[i], NULL, random_reads, &w[i]);
	}
	uint64_t ops = 0;
	for (int i = 0; i < depth; i++) {
		pthread_join(t[i], NULL);
		ops += w[i].ops;
	}
	return (double)ops / (now() - start);
}

int main(int argc, char **argv)
{
	if (argc != 4) { fprintf(stderr, "usage: blkbench DEVICE SIZE_MIB SECONDS\n"); return 2; }
	dev = argv[1];
	span = (uint64_t)atol(argv[2]) << 20;
	seconds = atof(argv[3]);
	printf("bench: seq-write %.1f MB/s\n", sequential(1));
	printf("bench: seq-read %.1f MB/s\n", sequential(0));
	printf("bench: randread-qd1 %.0f IOPS\n", iops(1));
	printf("bench: randread-qd32 %.0f IOPS\n", iops(32));
	return 0;
}
