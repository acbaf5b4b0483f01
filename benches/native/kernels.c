/* The compute kernels of fixtures/wat/workloads in C, for
   `gcc -O2 -ffp-contract=off kernels.c -lm`: the physical limit
   the WebAssembly engines are compared with (scripts/benchmarks.sh). Same algorithms,
   arguments and results as the WAT (checked against the expected values of
   benches/tests/workloads.rs by the `result` field, which the report does not trust
   blindly: it prints it). Prints one JSON line per kernel: the median of repeated runs. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint8_t mem[1 << 20];
static volatile int64_t sink;

static int64_t fib_r(uint32_t n) { return n < 2 ? (int64_t)n : fib_r(n - 1) + fib_r(n - 2); }
static int64_t fib(int32_t n) { return fib_r((uint32_t)n); }

static inline uint64_t rotl64(uint64_t x, unsigned r) { r &= 63; return r ? (x << r) | (x >> (64 - r)) : x; }
static inline uint32_t rotr32(uint32_t x, unsigned r) { return (x >> r) | (x << (32 - r)); }

static int64_t mix64(int32_t n) {
    uint64_t x = 0x9E3779B97F4A7C15ull, y = 1;
    for (uint32_t i = (uint32_t)n; i; i--) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        y = rotl64(y * 0xBF58476D1CE4E5B9ull, 31) + x;
    }
    return (int64_t)(x ^ y);
}

static int64_t sieve(int32_t n) {
    uint8_t *m = mem;
    memset(m, 1, (uint32_t)n);
    for (uint32_t i = 2; i * i <= (uint32_t)n; i++)
        if (m[i]) for (uint32_t j = i * i; j < (uint32_t)n; j += i) m[j] = 0;
    int32_t c = 0;
    for (uint32_t i = 2; i < (uint32_t)n; i++) c += m[i];
    return c;
}

static int64_t matmul(int32_t n) {
    int64_t *a = (int64_t *)mem, *b = (int64_t *)(mem + 32768), *c = (int64_t *)(mem + 65536);
    uint32_t nn = (uint32_t)n;
    for (uint32_t i = 0; i < nn * nn; i++) { a[i] = i + 1; b[i] = i ^ 0x55; }
    int64_t sum = 0;
    for (uint32_t i = 0; i < nn; i++)
        for (uint32_t j = 0; j < nn; j++) {
            int64_t acc = 0;
            for (uint32_t k = 0; k < nn; k++) acc += a[i * nn + k] * b[k * nn + j];
            c[i * nn + j] = acc; sum += acc;
        }
    return sum;
}

static const uint32_t K[64] = {
    0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,
    0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,
    0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,
    0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,
    0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
    0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,
    0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,
    0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2};

static int64_t sha256buf(int32_t n) {
    uint8_t *msg = mem;
    uint32_t len = (uint32_t)n;
    for (uint32_t i = 0; i < len; i++) msg[i] = (uint8_t)(i * 167 + 13);
    uint32_t total = (len + 72) & ~63u;
    msg[len] = 0x80;
    memset(msg + len + 1, 0, total - len - 5);
    uint32_t bits = len << 3;
    msg[total - 4] = bits >> 24; msg[total - 3] = bits >> 16; msg[total - 2] = bits >> 8; msg[total - 1] = bits;
    uint32_t h[8] = {0x6A09E667,0xBB67AE85,0x3C6EF372,0xA54FF53A,0x510E527F,0x9B05688C,0x1F83D9AB,0x5BE0CD19};
    for (uint32_t blk = 0; blk < total; blk += 64) {
        uint32_t w[64];
        for (int i = 0; i < 16; i++) {
            const uint8_t *p = msg + blk + 4 * i;
            w[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        }
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = rotr32(w[i-15], 7) ^ rotr32(w[i-15], 18) ^ (w[i-15] >> 3);
            uint32_t s1 = rotr32(w[i-2], 17) ^ rotr32(w[i-2], 19) ^ (w[i-2] >> 10);
            w[i] = w[i-16] + s0 + w[i-7] + s1;
        }
        uint32_t a=h[0],b=h[1],c=h[2],d=h[3],e=h[4],f=h[5],g=h[6],hh=h[7];
        for (int i = 0; i < 64; i++) {
            uint32_t t1 = hh + (rotr32(e,6)^rotr32(e,11)^rotr32(e,25)) + ((e&f)^(~e&g)) + K[i] + w[i];
            uint32_t t2 = (rotr32(a,2)^rotr32(a,13)^rotr32(a,22)) + ((a&b)^(a&c)^(b&c));
            hh=g; g=f; f=e; e=d+t1; d=c; c=b; b=a; a=t1+t2;
        }
        h[0]+=a; h[1]+=b; h[2]+=c; h[3]+=d; h[4]+=e; h[5]+=f; h[6]+=g; h[7]+=hh;
    }
    return (int64_t)((uint64_t)h[0] << 32 | h[1]);
}

static void qsort_r2(int32_t *a, int32_t lo, int32_t hi) {
    while (lo < hi) {
        int32_t p = a[(uint32_t)(lo + hi) >> 1], i = lo - 1, j = hi + 1;
        for (;;) {
            do i++; while (a[i] < p);
            do j--; while (a[j] > p);
            if (i >= j) break;
            int32_t t = a[i]; a[i] = a[j]; a[j] = t;
        }
        qsort_r2(a, lo, j);
        lo = j + 1;
    }
}

static int64_t quicksort(int32_t n) {
    int32_t *a = (int32_t *)mem;
    uint32_t x = (uint32_t)n;
    for (int32_t i = 0; i < n; i++) { x = x * 1103515245u + 12345u; a[i] = (int32_t)x; }
    qsort_r2(a, 0, n - 1);
    uint64_t h = 0;
    for (int32_t i = 0; i < n; i++) {
        if (i && a[i-1] > a[i]) return -1;
        h = h * 31 + (uint64_t)(int64_t)a[i];
    }
    return (int64_t)h;
}

static const uint64_t RC[24] = {
    0x0000000000000001ull,0x0000000000008082ull,0x800000000000808Aull,0x8000000080008000ull,
    0x000000000000808Bull,0x0000000080000001ull,0x8000000080008081ull,0x8000000000008009ull,
    0x000000000000008Aull,0x0000000000000088ull,0x0000000080008009ull,0x000000008000000Aull,
    0x000000008000808Bull,0x800000000000008Bull,0x8000000000008089ull,0x8000000000008003ull,
    0x8000000000008002ull,0x8000000000000080ull,0x000000000000800Aull,0x800000008000000Aull,
    0x8000000080008081ull,0x8000000000008080ull,0x0000000080000001ull,0x8000000080008008ull};
static const unsigned ROT[25] = {0,1,62,28,27,36,44,6,55,20,3,10,43,25,39,41,45,15,21,8,18,2,61,56,14};

static int64_t keccak(int32_t n) {
    uint64_t a[25] = {0}, b[25], c[5];
    for (int32_t it = 0; it < n; it++)
        for (int r = 0; r < 24; r++) {
            for (int x = 0; x < 5; x++) c[x] = a[x] ^ a[x+5] ^ a[x+10] ^ a[x+15] ^ a[x+20];
            for (int x = 0; x < 5; x++) {
                uint64_t d = c[(x+4)%5] ^ rotl64(c[(x+1)%5], 1);
                for (int y = 0; y < 25; y += 5) a[x+y] ^= d;
            }
            for (int x = 0; x < 5; x++)
                for (int y = 0; y < 5; y++) b[y + 5*((2*x+3*y)%5)] = rotl64(a[x+5*y], ROT[x+5*y]);
            for (int y = 0; y < 25; y += 5)
                for (int x = 0; x < 5; x++) a[x+y] = b[x+y] ^ (~b[(x+1)%5+y] & b[(x+2)%5+y]);
            a[0] ^= RC[r];
        }
    return (int64_t)a[0];
}

static int64_t brtable(int32_t n) {
    uint32_t x = 1;
    uint64_t acc = 0x243F6A8885A308D3ull;
    for (uint32_t i = (uint32_t)n; i; i--) {
        x = x * 1664525u + 1013904223u;
        uint64_t k = x >> 24;
        switch (k % 4) {
            case 0: acc += k * 40503 + 1; break;
            case 1: acc ^= k << (k % 40); break;
            case 2: acc = rotl64(acc, (unsigned)(k % 63 + 1)); break;
            default: acc *= 2 * k + 1;
        }
    }
    return (int64_t)acc;
}

/* The bodies of the Computer Language Benchmarks Game; the operations in the WAT's order
   (built with -ffp-contract=off: no fused multiply-add). */
static const double BODIES[5][7] = {
    {0, 0, 0, 0, 0, 0, 1},
    {4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
     1.66007664274403694e-03, 7.69901118419740425e-03, -6.90460016972063023e-05, 9.54791938424326609e-04},
    {8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
     -2.76742510726862411e-03, 4.99852801234917238e-03, 2.30417297573763929e-05, 2.85885980666130812e-04},
    {1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
     2.96460137564761618e-03, 2.37847173959480950e-03, -2.96589568540237556e-05, 4.36624404335156298e-05},
    {1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
     2.68067772490389322e-03, 1.62824170038242295e-03, -9.51592254519715870e-05, 5.15138902046611451e-05}};

static int64_t nbody(int32_t n) {
    const double pi = 3.141592653589793, sm = 4 * pi * pi, dpy = 365.24;
    double b[5][7];
    for (int i = 0; i < 5; i++) {
        for (int k = 0; k < 3; k++) { b[i][k] = BODIES[i][k]; b[i][3 + k] = BODIES[i][3 + k] * dpy; }
        b[i][6] = BODIES[i][6] * sm;
    }
    double p[3] = {0, 0, 0};
    for (int i = 0; i < 5; i++) for (int k = 0; k < 3; k++) p[k] += b[i][3 + k] * b[i][6];
    for (int k = 0; k < 3; k++) b[0][3 + k] = -p[k] / sm;
    for (uint32_t step = (uint32_t)n; step; step--) {
        for (int i = 0; i < 5; i++)
            for (int j = i + 1; j < 5; j++) {
                double dx = b[i][0] - b[j][0], dy = b[i][1] - b[j][1], dz = b[i][2] - b[j][2];
                double d2 = dx * dx + dy * dy + dz * dz;
                double mag = 0.01 / (d2 * sqrt(d2));
                double s = b[j][6] * mag;
                b[i][3] -= dx * s; b[i][4] -= dy * s; b[i][5] -= dz * s;
                s = b[i][6] * mag;
                b[j][3] += dx * s; b[j][4] += dy * s; b[j][5] += dz * s;
            }
        for (int i = 0; i < 5; i++) for (int k = 0; k < 3; k++) b[i][k] += 0.01 * b[i][3 + k];
    }
    double e = 0;
    for (int i = 0; i < 5; i++) {
        e += 0.5 * b[i][6] * (b[i][3] * b[i][3] + b[i][4] * b[i][4] + b[i][5] * b[i][5]);
        for (int j = i + 1; j < 5; j++) {
            double dx = b[i][0] - b[j][0], dy = b[i][1] - b[j][1], dz = b[i][2] - b[j][2];
            e -= (b[i][6] * b[j][6]) / sqrt(dx * dx + dy * dy + dz * dz);
        }
    }
    int64_t bits;
    memcpy(&bits, &e, sizeof bits);
    return bits;
}

static int64_t mandelbrot(int32_t n) {
    if (n <= 0) return 0;
    double scale = 3.0 / n;
    int64_t sum = 0;
    for (int32_t y = 0; y < n; y++) {
        double ci = y * scale - 1.5;
        for (int32_t x = 0; x < n; x++) {
            double cr = x * scale - 2.0, zr = 0, zi = 0;
            uint32_t k = 0;
            for (;;) {
                double zr2 = zr * zr, zi2 = zi * zi;
                if (zr2 + zi2 > 4.0) break;
                zi = (zr + zr) * zi + ci;
                zr = zr2 - zi2 + cr;
                if (++k >= 200) break;
            }
            sum += k;
        }
    }
    return sum;
}

/* wasm f32.min/max (NaN if either is one, -0 below +0) and i32.trunc_sat_f32_s. */
static float wmin(float a, float b) {
    if (a != a || b != b) return a + b;
    if (a == b) { uint32_t x, y; memcpy(&x, &a, 4); memcpy(&y, &b, 4); x |= y; memcpy(&a, &x, 4); return a; }
    return a < b ? a : b;
}
static float wmax(float a, float b) {
    if (a != a || b != b) return a + b;
    if (a == b) { uint32_t x, y; memcpy(&x, &a, 4); memcpy(&y, &b, 4); x &= y; memcpy(&a, &x, 4); return a; }
    return a > b ? a : b;
}
static int32_t trunc_sat(float v) {
    if (v != v) return 0;
    if (v <= -2147483648.0f) return INT32_MIN;
    if (v >= 2147483648.0f) return INT32_MAX;
    return (int32_t)v;
}

static int64_t stencil32(int32_t n) {
    float *a = (float *)mem;
    uint32_t x = (uint32_t)n;
    for (int32_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        a[i] = (float)((int32_t)x >> 8) * 0x1p-16f;
    }
    for (int p = 0; p < 16; p++)
        for (int32_t i = 1; i < n - 1; i++)
            a[i] = wmin(64.0f, wmax(-64.0f, (a[i - 1] + a[i + 1]) * 0.25f + a[i] * 0.55f));
    uint64_t h = 0;
    for (int32_t i = 0; i < n; i++) {
        float v = a[i];
        h = h * 31 + (uint64_t)(int64_t)trunc_sat(nearbyintf(v * 16.0f));
        h = h * 31 + (uint64_t)(int64_t)trunc_sat(floorf(v));
        h = h * 31 + (uint64_t)(int64_t)trunc_sat(sqrtf(fabsf(v)) * 1000.0f);
    }
    return (int64_t)h;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void) {
    struct { const char *name; int64_t (*f)(int32_t); int32_t n; } ks[] = {
        {"fib", fib, 25}, {"mix64", mix64, 1000000}, {"sieve", sieve, 1000000},
        {"matmul", matmul, 64}, {"sha256buf", sha256buf, 65536}, {"quicksort", quicksort, 50000},
        {"keccak", keccak, 2000}, {"brtable", brtable, 1000000},
        {"nbody", nbody, 50000}, {"mandelbrot", mandelbrot, 200}, {"stencil32", stencil32, 16384}};
    for (size_t k = 0; k < sizeof ks / sizeof ks[0]; k++) {
        /* Through a volatile function pointer and argument: no constant folding. */
        int64_t (*volatile f)(int32_t) = ks[k].f;
        volatile int32_t n = ks[k].n;
        double t[31];
        int64_t result = 0;
        for (int r = 0; r < 31; r++) {
            double t0 = now_ns();
            result = f(n);
            t[r] = now_ns() - t0;
            sink = result;
        }
        qsort(t, 31, sizeof t[0], cmp);
        printf("{\"workload\": \"%s\", \"n\": %d, \"result\": %lld, \"median_ns\": %.0f}\n",
               ks[k].name, ks[k].n, (long long)result, t[15]);
    }
    return 0;
}
