/* Runs machine code copied into anonymous executable memory, so perf sees frames it cannot name
 * ([unknown]); with argv[2] given it also writes /tmp/perf-PID.map naming that code, as JITs do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* mov ecx, 200000; 1: dec ecx; jnz 1b; ret */
static const unsigned char code[] = {0xb9, 0x40, 0x0d, 0x03, 0x00, 0xff, 0xc9, 0x75, 0xfc, 0xc3};

__attribute__((noinline)) static void call_jitted(void (*fn)(void)) { fn(); }

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    unsigned char *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memcpy(mem, code, sizeof code);
    memcpy(mem + 64, code, sizeof code);
    if (argc > 2) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/perf-%d.map", (int)getpid());
        FILE *f = fopen(path, "w");
        fprintf(f, "%lx %zx LazyCompile:*spin; \"hot\" loop(int) <jit>\n", (unsigned long)mem, sizeof code);
        fclose(f);
    }
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int i = 0;
    do {
        call_jitted((void (*)(void))(mem + (i++ % 2) * 64));
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
    return 0;
}
