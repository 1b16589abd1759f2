/* Several named threads (one name with spaces, one Firedancer-like), kernel time and page faults. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static double seconds = 1.0;
static volatile unsigned long sink;

static double elapsed(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

__attribute__((noinline)) static void read_zeros(int fd, char *buf) {
    if (read(fd, buf, 1 << 20) < 0) perror("read");
}

__attribute__((noinline)) static void write_null(int fd, const char *buf) {
    if (write(fd, buf, 1 << 20) < 0) perror("write");
}

__attribute__((noinline)) static void touch_pages(void) {
    size_t n = 8 << 20;
    char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (size_t i = 0; i < n; i += 4096) p[i] = 1;
    munmap(p, n);
}

__attribute__((noinline)) static void io_loop(void) {
    int zero = open("/dev/zero", O_RDONLY), null = open("/dev/null", O_WRONLY);
    char *buf = malloc(1 << 20);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (elapsed(&t0) < seconds) { read_zeros(zero, buf); write_null(null, buf); touch_pages(); }
    free(buf); close(zero); close(null);
}

__attribute__((noinline)) static unsigned long spin_step(unsigned long x) {
    for (int i = 0; i < 100000; i++) x = x * 6364136223846793005UL + 1442695040888963407UL;
    return x;
}

__attribute__((noinline)) static void cpu_loop(void) {
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long x = 1;
    while (elapsed(&t0) < seconds) x = spin_step(x);
    sink += x;
}

__attribute__((noinline)) static void syscall_loop(void) {
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (elapsed(&t0) < seconds) for (int i = 0; i < 1000; i++) sink += (unsigned long)getppid();
}

static void *worker(void *arg) {
    const char *name = arg;
    prctl(PR_SET_NAME, name, 0, 0, 0);
    if (strcmp(name, "worker one") == 0) io_loop();
    else if (strcmp(name, "net:0") == 0) syscall_loop();
    else cpu_loop();
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1) seconds = atof(argv[1]);
    static const char *names[] = {"worker one", "net:0", "verify:1"};
    pthread_t t[3];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, worker, (void *)names[i]);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    printf("%lu\n", sink);
    return 0;
}
