/*
 * vm-writer: the verifying workload of the VM guest (scripts/guest/vm-guest.sh builds it with
 * gcc -static; docs/vm.md describes the markers).
 *
 * Writes 4 KiB blocks at random indexes of a block device with O_DIRECT, one at a time, paced to
 * a target rate. Every block carries a magic, its block index, the sequence number of the write
 * (global, starting at 1), the writer's boot nonce, filler derived from those, and a checksum
 * (FNV-1a 64 over the first 4088 bytes, stored in the last 8). The last acknowledged sequence
 * number of every block is kept in RAM, so after a live migration the guest, now running on the
 * destination, can check that every write it saw completed is there: a line "verify" on the
 * console makes it read every block it ever wrote and print one verdict line, then keep writing.
 *
 * Environment (kernel command-line KEY=value words reach /init's environment):
 *   DISK=/dev/vda  WRITER_IOPS=200  WRITER_BLOCKS=0 (0: the whole disk)  WRITER_REPORT_MS=1000
 *
 * Console markers (one line each):
 *   WRITER-START disk=D blocks=N iops=T nonce=X
 *   WRITER-PROGRESS t_ms=T writes=W errors=E iops=I max_lat_ms=L max_lat_all_ms=M
 *   VERIFY ok blocks=N writes=W t_ms=T          every written block holds its last acknowledged write
 *   VERIFY bad blocks=N bad=K first=B reason=R  (R: magic|index|checksum|nonce|seq=S/want=A|read)
 *   WRITER-END writes=W errors=E                after a "quit" line
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096
#define MAGIC 0x314b4c424d4c564eULL /* "NVLMBLK1" */

static uint64_t nonce;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static uint64_t fnv1a(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return *s = x;
}

static void fill(unsigned char *b, uint64_t index, uint64_t seq) {
    uint64_t *w = (uint64_t *)b;
    w[0] = MAGIC; w[1] = index; w[2] = seq; w[3] = nonce;
    uint64_t s = (index * 0x9e3779b97f4a7c15ULL) ^ seq ^ nonce;
    if (!s) s = 1;
    for (int i = 4; i < BLOCK / 8 - 1; i++) w[i] = xorshift(&s);
    w[BLOCK / 8 - 1] = fnv1a(b, BLOCK - 8);
}

static long env_long(const char *k, long dflt) {
    const char *v = getenv(k);
    return v && *v ? strtol(v, NULL, 10) : dflt;
}

int main(void) {
    const char *disk = getenv("DISK") ? getenv("DISK") : "/dev/vda";
    long iops = env_long("WRITER_IOPS", 200), report_ms = env_long("WRITER_REPORT_MS", 1000);
    long blocks = env_long("WRITER_BLOCKS", 0);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int fd = open(disk, O_RDWR | O_DIRECT);
    if (fd < 0) { printf("WRITER-FAILED open %s: %s\n", disk, strerror(errno)); return 1; }
    uint64_t size = 0;
    if (ioctl(fd, BLKGETSIZE64, &size) < 0) { printf("WRITER-FAILED size of %s: %s\n", disk, strerror(errno)); return 1; }
    if (blocks <= 0 || (uint64_t)blocks > size / BLOCK) blocks = (long)(size / BLOCK);
    if (iops < 1) iops = 1;
    uint64_t *acked = calloc((size_t)blocks, sizeof(uint64_t));   /* last acknowledged seq, 0 = never */
    uint64_t *failed = calloc((size_t)blocks, sizeof(uint64_t));  /* seq of a failed write after it: either may be there */
    unsigned char *buf, *rbuf;
    if (!acked || !failed || posix_memalign((void **)&buf, BLOCK, BLOCK) || posix_memalign((void **)&rbuf, BLOCK, BLOCK)) {
        printf("WRITER-FAILED out of memory\n");
        return 1;
    }
    uint64_t rng = now_ns() | 1;
    nonce = xorshift(&rng);
    printf("WRITER-START disk=%s blocks=%ld iops=%ld nonce=%016llx\n", disk, blocks, iops, (unsigned long long)nonce);

    uint64_t t0 = now_ns(), period = 1000000000ULL / (uint64_t)iops, due = t0;
    uint64_t seq = 0, writes = 0, errors = 0, lat_max = 0, lat_all = 0, last_report = t0, writes_at_report = 0;
    char line[256];
    size_t linelen = 0;
    for (;;) {
        uint64_t now = now_ns();
        if (now >= due) {
            uint64_t idx = xorshift(&rng) % (uint64_t)blocks;
            fill(buf, idx, ++seq);
            uint64_t a = now_ns();
            ssize_t n = pwrite(fd, buf, BLOCK, (off_t)(idx * BLOCK));
            uint64_t lat = now_ns() - a;
            if (n == BLOCK) {
                acked[idx] = seq;
                failed[idx] = 0;
                writes++;
            } else {
                failed[idx] = seq;   /* unknown outcome: the old or the new content may be on the disk */
                errors++;
                printf("WRITER-ERROR block=%llu seq=%llu: %s\n", (unsigned long long)idx, (unsigned long long)seq,
                       n < 0 ? strerror(errno) : "short write");
            }
            if (lat > lat_max) lat_max = lat;
            if (lat > lat_all) lat_all = lat;
            due += period;
            now = now_ns();
            if (now > due + 1000000000ULL) due = now;   /* a long stall: go on at the rate, no burst */
        }
        if (now - last_report >= (uint64_t)report_ms * 1000000ULL) {
            double secs = (now - last_report) / 1e9;
            printf("WRITER-PROGRESS t_ms=%llu writes=%llu errors=%llu iops=%.0f max_lat_ms=%.1f max_lat_all_ms=%.1f\n",
                   (unsigned long long)((now - t0) / 1000000), (unsigned long long)writes, (unsigned long long)errors,
                   (writes - writes_at_report) / secs, lat_max / 1e6, lat_all / 1e6);
            last_report = now;
            writes_at_report = writes;
            lat_max = 0;
        }
        /* wait for the next write or a console line, whichever comes first */
        now = now_ns();
        uint64_t wait = due > now ? due - now : 0;
        struct timespec ts = {(time_t)(wait / 1000000000ULL), (long)(wait % 1000000000ULL)};
        struct pollfd p = {0, POLLIN, 0};
        if (ppoll(&p, 1, &ts, NULL) <= 0 || !(p.revents & POLLIN)) continue;
        ssize_t r = read(0, line + linelen, sizeof line - 1 - linelen);
        if (r <= 0) continue;
        linelen += (size_t)r;
        line[linelen] = 0;
        char *nl;
        while ((nl = strchr(line, '\n')) || (nl = strchr(line, '\r'))) {
            *nl = 0;
            if (strstr(line, "verify")) {
                uint64_t v0 = now_ns(), checked = 0, bad = 0, first = 0;
                char reason[64] = "";
                for (long i = 0; i < blocks; i++) {
                    if (!acked[i] && !failed[i]) continue;
                    checked++;
                    const char *why = NULL;
                    char tmp[64];
                    uint64_t *w = (uint64_t *)rbuf;
                    if (pread(fd, rbuf, BLOCK, (off_t)i * BLOCK) != BLOCK) why = "read";
                    else if (!acked[i]) why = NULL;   /* only a failed write: whatever is there is allowed */
                    else if (w[0] != MAGIC) why = "magic";
                    else if (w[1] != (uint64_t)i) why = "index";
                    else if (w[BLOCK / 8 - 1] != fnv1a(rbuf, BLOCK - 8)) why = "checksum";
                    else if (w[3] != nonce) why = "nonce";
                    else if (w[2] != acked[i] && !(failed[i] && w[2] == failed[i])) {
                        snprintf(tmp, sizeof tmp, "seq=%llu/want=%llu", (unsigned long long)w[2], (unsigned long long)acked[i]);
                        why = tmp;
                    }
                    if (why) {
                        if (!bad++) { first = (uint64_t)i; snprintf(reason, sizeof reason, "%s", why); }
                    }
                }
                if (bad) printf("VERIFY bad blocks=%llu bad=%llu first=%llu reason=%s\n", (unsigned long long)checked,
                                (unsigned long long)bad, (unsigned long long)first, reason);
                else printf("VERIFY ok blocks=%llu writes=%llu t_ms=%llu\n", (unsigned long long)checked,
                            (unsigned long long)writes, (unsigned long long)((now_ns() - v0) / 1000000));
                due = now_ns();   /* the check paused writing: go on from now */
            } else if (strstr(line, "quit")) {
                printf("WRITER-END writes=%llu errors=%llu\n", (unsigned long long)writes, (unsigned long long)errors);
                return 0;
            }
            size_t used = (size_t)(nl - line) + 1;
            memmove(line, line + used, linelen - used + 1);
            linelen -= used;
        }
        if (linelen >= sizeof line - 1) linelen = 0;   /* a line too long to be a command */
    }
}
