/* Batch HMAC-SHA-256 over an Arrow string array, for ShopVeil's keyed tokens.
 *
 * The caller passes the array's offsets and data buffers; the kernel walks them and
 * writes either raw 32-byte MACs or finished tokens (prefix + 22 base64url characters
 * of the first 17 MAC bytes). The key's padded inner and outer states are compressed
 * once, so a short message costs two compressions. On CPUs with the SHA extensions the
 * compression uses them; elsewhere a portable C version runs. Results are byte-identical
 * to Python's hmac.digest(key, message, "sha256"); the tests check it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define SV_X86 1
#endif

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

static const uint32_t IV256[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

typedef void (*compress_fn)(uint32_t state[8], const uint8_t block[64]);

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void compress_portable(uint32_t state[8], const uint8_t block[64]) {
    uint32_t w[64];
    for (int t = 0; t < 16; t++) {
        w[t] = ((uint32_t)block[4 * t] << 24) | ((uint32_t)block[4 * t + 1] << 16) |
               ((uint32_t)block[4 * t + 2] << 8) | (uint32_t)block[4 * t + 3];
    }
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = ROTR(w[t - 15], 7) ^ ROTR(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = ROTR(w[t - 2], 17) ^ ROTR(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int t = 0; t < 64; t++) {
        uint32_t t1 = h + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) +
                      K256[t] + w[t];
        uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
}

#ifdef SV_X86
/* The SHA extensions keep the state as two vectors, (A,B,E,F) and (C,D,G,H). Two
 * independent messages are hashed side by side so that one's rounds fill the other's
 * instruction latency. */
#define SV_SHA __attribute__((target("sha,sse4.1")))
#define SV_BSWAP _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL)
#define SV_LOAD(st, s0, s1)                                                  \
    do {                                                                     \
        __m128i badc_ = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&(st)[0]), 0xB1); \
        __m128i hgfe_ = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&(st)[4]), 0x1B); \
        s0 = _mm_alignr_epi8(badc_, hgfe_, 8);                              \
        s1 = _mm_blend_epi16(hgfe_, badc_, 0xF0);                           \
    } while (0)
#define SV_STORE(st, s0, s1)                                                 \
    do {                                                                     \
        __m128i feba_ = _mm_shuffle_epi32(s0, 0x1B);                        \
        __m128i dchg_ = _mm_shuffle_epi32(s1, 0xB1);                        \
        _mm_storeu_si128((__m128i *)&(st)[0], _mm_blend_epi16(feba_, dchg_, 0xF0)); \
        _mm_storeu_si128((__m128i *)&(st)[4], _mm_alignr_epi8(dchg_, feba_, 8)); \
    } while (0)
/* W[t..t+3] from W[t-16..], W[t-12..], W[t-8..], W[t-4..]. */
#define SV_SCHED(w16, w12, w8, w4) \
    _mm_sha256msg2_epu32(          \
        _mm_add_epi32(_mm_sha256msg1_epu32(w16, w12), _mm_alignr_epi8(w4, w8, 4)), w4)
#define SV_K(g) _mm_loadu_si128((const __m128i *)&K256[4 * (g)])
#define SV_RNDS(s0, s1, w, g)                                    \
    do {                                                         \
        __m128i wk_ = _mm_add_epi32(w, SV_K(g));                 \
        s1 = _mm_sha256rnds2_epu32(s1, s0, wk_);                 \
        s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(wk_, 0x0E)); \
    } while (0)

SV_SHA static void compress_shani(uint32_t state[8], const uint8_t block[64]) {
    __m128i s0, s1;
    SV_LOAD(state, s0, s1);
    const __m128i s0_start = s0, s1_start = s1;
    __m128i m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 0)), SV_BSWAP);
    __m128i m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 16)), SV_BSWAP);
    __m128i m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 32)), SV_BSWAP);
    __m128i m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 48)), SV_BSWAP);
    SV_RNDS(s0, s1, m0, 0);
    SV_RNDS(s0, s1, m1, 1);
    SV_RNDS(s0, s1, m2, 2);
    SV_RNDS(s0, s1, m3, 3);
    for (int g = 4; g < 16; g += 4) {
        m0 = SV_SCHED(m0, m1, m2, m3);
        SV_RNDS(s0, s1, m0, g);
        m1 = SV_SCHED(m1, m2, m3, m0);
        SV_RNDS(s0, s1, m1, g + 1);
        m2 = SV_SCHED(m2, m3, m0, m1);
        SV_RNDS(s0, s1, m2, g + 2);
        m3 = SV_SCHED(m3, m0, m1, m2);
        SV_RNDS(s0, s1, m3, g + 3);
    }
    s0 = _mm_add_epi32(s0, s0_start);
    s1 = _mm_add_epi32(s1, s1_start);
    SV_STORE(state, s0, s1);
}

SV_SHA static void compress_shani_x2(uint32_t sa[8], const uint8_t *ba, uint32_t sb[8],
                                     const uint8_t *bb) {
    __m128i a0, a1, b0, b1;
    SV_LOAD(sa, a0, a1);
    SV_LOAD(sb, b0, b1);
    const __m128i a0s = a0, a1s = a1, b0s = b0, b1s = b1;
    __m128i am0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(ba + 0)), SV_BSWAP);
    __m128i am1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(ba + 16)), SV_BSWAP);
    __m128i am2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(ba + 32)), SV_BSWAP);
    __m128i am3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(ba + 48)), SV_BSWAP);
    __m128i bm0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(bb + 0)), SV_BSWAP);
    __m128i bm1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(bb + 16)), SV_BSWAP);
    __m128i bm2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(bb + 32)), SV_BSWAP);
    __m128i bm3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(bb + 48)), SV_BSWAP);
#define SV_BOTH(ma, mb, g)          \
    SV_RNDS(a0, a1, ma, g);         \
    SV_RNDS(b0, b1, mb, g)
    SV_BOTH(am0, bm0, 0);
    SV_BOTH(am1, bm1, 1);
    SV_BOTH(am2, bm2, 2);
    SV_BOTH(am3, bm3, 3);
    for (int g = 4; g < 16; g += 4) {
        am0 = SV_SCHED(am0, am1, am2, am3);
        bm0 = SV_SCHED(bm0, bm1, bm2, bm3);
        SV_BOTH(am0, bm0, g);
        am1 = SV_SCHED(am1, am2, am3, am0);
        bm1 = SV_SCHED(bm1, bm2, bm3, bm0);
        SV_BOTH(am1, bm1, g + 1);
        am2 = SV_SCHED(am2, am3, am0, am1);
        bm2 = SV_SCHED(bm2, bm3, bm0, bm1);
        SV_BOTH(am2, bm2, g + 2);
        am3 = SV_SCHED(am3, am0, am1, am2);
        bm3 = SV_SCHED(bm3, bm0, bm1, bm2);
        SV_BOTH(am3, bm3, g + 3);
    }
#undef SV_BOTH
    a0 = _mm_add_epi32(a0, a0s);
    a1 = _mm_add_epi32(a1, a1s);
    b0 = _mm_add_epi32(b0, b0s);
    b1 = _mm_add_epi32(b1, b1s);
    SV_STORE(sa, a0, a1);
    SV_STORE(sb, b0, b1);
}

static int cpu_has_sha(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    int sha = (ebx >> 29) & 1;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    int sse41 = (ecx >> 19) & 1, ssse3 = (ecx >> 9) & 1;
    return sha && sse41 && ssse3;
}
#endif

typedef void (*compress2_fn)(uint32_t sa[8], const uint8_t *ba, uint32_t sb[8], const uint8_t *bb);

static compress_fn compress = compress_portable;
static compress2_fn compress2 = NULL; /* two blocks at once, where the CPU makes it pay */
static const char *kernel_name = "portable";

static void store_be32(uint8_t *out, uint32_t x) {
    out[0] = (uint8_t)(x >> 24);
    out[1] = (uint8_t)(x >> 16);
    out[2] = (uint8_t)(x >> 8);
    out[3] = (uint8_t)x;
}

typedef struct {
    uint32_t inner[8]; /* state after (key ^ ipad) */
    uint32_t outer[8]; /* state after (key ^ opad) */
} hmac_key;

static void hmac_prepare(hmac_key *hk, const uint8_t *key, Py_ssize_t key_len) {
    uint8_t k[64], pad[64];
    memset(k, 0, sizeof k);
    if (key_len > 64) {
        /* Long keys are hashed first, as RFC 2104 says. */
        uint32_t st[8];
        memcpy(st, IV256, sizeof st);
        Py_ssize_t done = 0;
        for (; key_len - done >= 64; done += 64) compress(st, key + done);
        uint8_t last[128];
        Py_ssize_t rest = key_len - done;
        memset(last, 0, sizeof last);
        memcpy(last, key + done, (size_t)rest);
        last[rest] = 0x80;
        int blocks = rest + 9 <= 64 ? 1 : 2;
        uint64_t bits = (uint64_t)key_len * 8;
        for (int i = 0; i < 8; i++) last[64 * blocks - 1 - i] = (uint8_t)(bits >> (8 * i));
        for (int i = 0; i < blocks; i++) compress(st, last + 64 * i);
        for (int i = 0; i < 8; i++) store_be32(k + 4 * i, st[i]);
    } else {
        memcpy(k, key, (size_t)key_len);
    }
    memcpy(hk->inner, IV256, sizeof hk->inner);
    memcpy(hk->outer, IV256, sizeof hk->outer);
    for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x36;
    compress(hk->inner, pad);
    for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x5c;
    compress(hk->outer, pad);
}

/* The single padded block that ends a message of len < 56 bytes after the key block. */
static void short_block(const uint8_t *msg, size_t len, uint8_t block[64]) {
    memset(block, 0, 64);
    if (len) memcpy(block, msg, len);
    block[len] = 0x80;
    uint64_t bits = ((uint64_t)len + 64) * 8;
    for (int i = 0; i < 8; i++) block[63 - i] = (uint8_t)(bits >> (8 * i));
}

/* The outer block: the inner digest, padding, and the length (64 + 32) * 8 = 768 bits. */
static void outer_block(const uint32_t inner[8], uint8_t block[64]) {
    memset(block, 0, 64);
    for (int i = 0; i < 8; i++) store_be32(block + 4 * i, inner[i]);
    block[32] = 0x80;
    block[62] = 0x03;
}

static void hmac_one(const hmac_key *hk, const uint8_t *msg, size_t len, uint8_t mac[32]) {
    uint32_t st[8];
    memcpy(st, hk->inner, sizeof st);
    size_t done = 0;
    for (; len - done >= 64; done += 64) compress(st, msg + done);
    uint8_t last[128];
    size_t rest = len - done;
    memset(last, 0, sizeof last);
    if (rest) memcpy(last, msg + done, rest);
    last[rest] = 0x80;
    int blocks = rest + 9 <= 64 ? 1 : 2;
    uint64_t bits = ((uint64_t)len + 64) * 8;
    for (int i = 0; i < 8; i++) last[64 * blocks - 1 - i] = (uint8_t)(bits >> (8 * i));
    for (int i = 0; i < blocks; i++) compress(st, last + 64 * i);

    uint8_t block[64];
    outer_block(st, block);
    memcpy(st, hk->outer, sizeof st);
    compress(st, block);
    for (int i = 0; i < 8; i++) store_be32(mac + 4 * i, st[i]);
}

/* Two short messages (< 56 bytes each) through compress2: four compressions in two steps. */
static void hmac_two_short(const hmac_key *hk, const uint8_t *ma, size_t la, const uint8_t *mb,
                           size_t lb, uint8_t mac_a[32], uint8_t mac_b[32]) {
    uint32_t sa[8], sb[8];
    uint8_t block_a[64], block_b[64];
    memcpy(sa, hk->inner, sizeof sa);
    memcpy(sb, hk->inner, sizeof sb);
    short_block(ma, la, block_a);
    short_block(mb, lb, block_b);
    compress2(sa, block_a, sb, block_b);
    outer_block(sa, block_a);
    outer_block(sb, block_b);
    memcpy(sa, hk->outer, sizeof sa);
    memcpy(sb, hk->outer, sizeof sb);
    compress2(sa, block_a, sb, block_b);
    for (int i = 0; i < 8; i++) {
        store_be32(mac_a + 4 * i, sa[i]);
        store_be32(mac_b + 4 * i, sb[i]);
    }
}

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 22 base64url characters of mac[0:17]: 5 whole groups of 3 bytes, then 2 characters. */
static void encode_token(const uint8_t mac[32], char *out) {
    for (int g = 0; g < 5; g++) {
        uint32_t v = ((uint32_t)mac[3 * g] << 16) | ((uint32_t)mac[3 * g + 1] << 8) | mac[3 * g + 2];
        out[4 * g] = B64URL[(v >> 18) & 63];
        out[4 * g + 1] = B64URL[(v >> 12) & 63];
        out[4 * g + 2] = B64URL[(v >> 6) & 63];
        out[4 * g + 3] = B64URL[v & 63];
    }
    out[20] = B64URL[mac[15] >> 2];
    out[21] = B64URL[((mac[15] & 3) << 4) | (mac[16] >> 4)];
}

/* Reads offsets (int32 or int64) and checks they stay inside the data buffer. */
static int message_bounds(const Py_buffer *offsets, int wide, Py_ssize_t data_len,
                          Py_ssize_t first, Py_ssize_t count) {
    Py_ssize_t width = wide ? 8 : 4;
    if (first < 0 || count < 0 || (first + count + 1) * width > offsets->len) {
        PyErr_SetString(PyExc_ValueError, "offsets buffer is shorter than first + count + 1");
        return -1;
    }
    for (Py_ssize_t i = first; i <= first + count; i++) {
        int64_t lo = wide ? ((const int64_t *)offsets->buf)[i] : ((const int32_t *)offsets->buf)[i];
        if (lo < 0 || lo > data_len) {
            PyErr_SetString(PyExc_ValueError, "an offset points outside the data buffer");
            return -1;
        }
        if (i > first) {
            int64_t prev = wide ? ((const int64_t *)offsets->buf)[i - 1]
                                : ((const int32_t *)offsets->buf)[i - 1];
            if (lo < prev) {
                PyErr_SetString(PyExc_ValueError, "offsets are not non-decreasing");
                return -1;
            }
        }
    }
    return 0;
}

static inline int64_t offset_at(const Py_buffer *offsets, int wide, Py_ssize_t i) {
    return wide ? ((const int64_t *)offsets->buf)[i] : ((const int32_t *)offsets->buf)[i];
}

/* hmac_many(key, offsets, data, first, count, wide, prefix_or_None) -> bytes
 *
 * With prefix None: count * 32 bytes of MACs. With a prefix: count tokens of
 * len(prefix) + 22 bytes each, back to back.
 */
static PyObject *hmac_many(PyObject *self, PyObject *args) {
    Py_buffer key, offsets, data, prefix = {0};
    Py_ssize_t first, count;
    int wide;
    PyObject *prefix_obj;
    if (!PyArg_ParseTuple(args, "y*y*y*nnpO", &key, &offsets, &data, &first, &count, &wide,
                          &prefix_obj))
        return NULL;
    PyObject *result = NULL;
    int has_prefix = prefix_obj != Py_None;
    if (has_prefix && PyObject_GetBuffer(prefix_obj, &prefix, PyBUF_SIMPLE) < 0) goto done;
    if (message_bounds(&offsets, wide, data.len, first, count) < 0) goto done;

    Py_ssize_t width = has_prefix ? prefix.len + 22 : 32;
    if (count > 0 && width > PY_SSIZE_T_MAX / count) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, width * count);
    if (result == NULL) goto done;
    char *out = PyBytes_AS_STRING(result);

    Py_BEGIN_ALLOW_THREADS;
    hmac_key hk;
    hmac_prepare(&hk, (const uint8_t *)key.buf, key.len);
    const uint8_t *base = (const uint8_t *)data.buf;
    uint8_t mac[32], mac2[32];
    Py_ssize_t i = 0;
    while (i < count) {
        int64_t lo = offset_at(&offsets, wide, first + i);
        int64_t hi = offset_at(&offsets, wide, first + i + 1);
        int64_t hi2 = i + 1 < count ? offset_at(&offsets, wide, first + i + 2) : -1;
        char *slot = out + i * width;
        if (compress2 != NULL && hi2 >= 0 && hi - lo < 56 && hi2 - hi < 56) {
            hmac_two_short(&hk, base + lo, (size_t)(hi - lo), base + hi, (size_t)(hi2 - hi),
                           has_prefix ? mac : (uint8_t *)slot,
                           has_prefix ? mac2 : (uint8_t *)slot + width);
            if (has_prefix) {
                memcpy(slot, prefix.buf, (size_t)prefix.len);
                encode_token(mac, slot + prefix.len);
                memcpy(slot + width, prefix.buf, (size_t)prefix.len);
                encode_token(mac2, slot + width + prefix.len);
            }
            i += 2;
            continue;
        }
        if (has_prefix) {
            hmac_one(&hk, base + lo, (size_t)(hi - lo), mac);
            memcpy(slot, prefix.buf, (size_t)prefix.len);
            encode_token(mac, slot + prefix.len);
        } else {
            hmac_one(&hk, base + lo, (size_t)(hi - lo), (uint8_t *)slot);
        }
        i += 1;
    }
    memset(&hk, 0, sizeof hk);
    Py_END_ALLOW_THREADS;

done:
    PyBuffer_Release(&key);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&data);
    if (has_prefix && prefix.obj != NULL) PyBuffer_Release(&prefix);
    return result;
}

static PyObject *kernel(PyObject *self, PyObject *args) { return PyUnicode_FromString(kernel_name); }

/* use_portable(): switch to the portable compression (tests compare both kernels). */
static PyObject *use_portable(PyObject *self, PyObject *args) {
    int portable;
    if (!PyArg_ParseTuple(args, "p", &portable)) return NULL;
    compress = compress_portable;
    compress2 = NULL;
    kernel_name = "portable";
#ifdef SV_X86
    if (!portable && cpu_has_sha()) {
        compress = compress_shani;
        compress2 = compress_shani_x2;
        kernel_name = "sha-ni";
    }
#endif
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"hmac_many", hmac_many, METH_VARARGS, "Batch HMAC-SHA-256 over Arrow string buffers."},
    {"kernel", kernel, METH_NOARGS, "The SHA-256 compression in use: sha-ni or portable."},
    {"use_portable", use_portable, METH_VARARGS, "Force (True) or release (False) the portable kernel."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_hmac_native",
                                    "Batch HMAC-SHA-256 for keyed tokens.", -1, methods};

PyMODINIT_FUNC PyInit__hmac_native(void) {
#ifdef SV_X86
    if (cpu_has_sha()) {
        compress = compress_shani;
        compress2 = compress_shani_x2;
        kernel_name = "sha-ni";
    }
#endif
    return PyModule_Create(&module);
}
