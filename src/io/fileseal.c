/* fileseal.c: the integrity block in the HDF5 user block (see fileseal.h). Two copies of
 * a 48-byte record, at offsets 0 and 256 of the block, little-endian:
 *   magic (16 bytes) | version u32 | state u32 | length u64 | checksum u64 | record_hash u64
 * record_hash is FNV-1a 64 of the 40 bytes before it; checksum is FNV-1a 64 of bytes
 * [FILESEAL_SIZE, length) of the file. */
#define _POSIX_C_SOURCE 200809L /* pread */
#include "fileseal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hash.h"

#define SEAL_MAGIC "DOWNHILL_SEAL\0\0\0" /* 16 bytes with the terminator */
#define SEAL_MAGIC_LEN 16
#define SEAL_VERSION 1
#define SEAL_RECORD_LEN 48
#define SEAL_HASHED_LEN 40 /* bytes of the record that record_hash covers */
#define SEAL_COPY_AT 256   /* offset of the second copy */
#define STATE_COMPLETE 1
#define HASH_BUF (1u << 20) /* bytes read at a time when hashing the file */

static const unsigned char hdf5_signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

typedef struct {
    uint32_t version, state;
    uint64_t length, checksum;
} SealRecord;

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void encode(const SealRecord *r, unsigned char out[SEAL_RECORD_LEN])
{
    memcpy(out, SEAL_MAGIC, SEAL_MAGIC_LEN);
    put_le(out + 16, r->version, 4);
    put_le(out + 20, r->state, 4);
    put_le(out + 24, r->length, 8);
    put_le(out + 32, r->checksum, 8);
    put_le(out + 40, hash_fnv1a(HASH_FNV_BASIS, out, SEAL_HASHED_LEN), 8);
}

/* decode: 1 if the record at p is intact (magic and record_hash), filling r. */
static int decode(const unsigned char *p, SealRecord *r)
{
    if (memcmp(p, SEAL_MAGIC, SEAL_MAGIC_LEN) != 0 ||
        get_le(p + 40, 8) != hash_fnv1a(HASH_FNV_BASIS, p, SEAL_HASHED_LEN))
        return 0;
    *r = (SealRecord){.version = (uint32_t)get_le(p + 16, 4),
                      .state = (uint32_t)get_le(p + 20, 4),
                      .length = get_le(p + 24, 8),
                      .checksum = get_le(p + 32, 8)};
    return 1;
}

/* read_full: pread of exactly n bytes at off; -1 (errno set) or 0 at a short read. */
static ssize_t read_full(int fd, void *buf, size_t n, off_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* file_checksum: FNV-1a 64 of bytes [FILESEAL_SIZE, length) of fd. */
static int file_checksum(int fd, uint64_t length, uint64_t *out, const char *path, Err *e)
{
    unsigned char *buf = alloc_array(HASH_BUF, 1, "file checksum buffer", e);
    uint64_t h = HASH_FNV_BASIS;
    if (!buf)
        return -1;
    for (uint64_t at = FILESEAL_SIZE; at < length;) {
        size_t n = length - at < HASH_BUF ? (size_t)(length - at) : HASH_BUF;
        ssize_t r = read_full(fd, buf, n, (off_t)at);
        if (r != (ssize_t)n) {
            free(buf);
            return err_set(e, "%s: cannot read it to check its checksum (%s)", path,
                           r < 0 ? strerror(errno) : "it shrank while being read");
        }
        h = hash_fnv1a(h, buf, n);
        at += n;
    }
    free(buf);
    *out = h;
    return 0;
}

/* write_all: writes n bytes to fd; -1 with errno set on failure. */
static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int fileseal_write_image(const char *path, unsigned char *image, size_t size, int sync,
                         Err *e)
{
    unsigned char rec[SEAL_RECORD_LEN];
    size_t len = strlen(path);
    char *part = alloc_array(len + sizeof ".part", 1, "file name", e);
    if (!part)
        return -1;
    if (size < FILESEAL_SIZE) {
        free(part);
        return err_set(e, "%s: internal error: a file image of %zu bytes has no user block",
                       path, size);
    }
    memcpy(part, path, len);
    memcpy(part + len, ".part", sizeof ".part");
    SealRecord r = {.version = SEAL_VERSION, .state = STATE_COMPLETE, .length = size,
                    .checksum = hash_fnv1a(HASH_FNV_BASIS, image + FILESEAL_SIZE,
                                           size - FILESEAL_SIZE)};
    encode(&r, rec);
    memcpy(image, rec, sizeof rec);
    memcpy(image + SEAL_COPY_AT, rec, sizeof rec);
    int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) {
        err_set(e, "%s: cannot create it (%s)", part, strerror(errno));
        goto fail;
    }
    int bad = write_all(fd, image, size) != 0 || (sync && fsync(fd) != 0);
    int reason = errno;
    if (close(fd) != 0 && !bad) {
        bad = 1;
        reason = errno;
    }
    if (bad) {
        err_set(e, "%s: cannot write it (%s)%s", part, strerror(reason),
                reason == ENOSPC || reason == EFBIG || reason == EDQUOT
                    ? ": free disk space or choose another directory" : "");
        goto fail;
    }
    if (rename(part, path) != 0) {
        err_set(e, "%s: cannot rename %s to it (%s)", path, part, strerror(errno));
        goto fail;
    }
    free(part);
    return 0;
fail:
    remove(part);
    free(part);
    return -1;
}

int fileseal_write(const char *path, Err *e)
{
    struct stat st;
    unsigned char *image = NULL;
    int rc = -1, fd = open(path, O_RDONLY);
    if (fd < 0)
        return err_set(e, "%s: cannot open it (%s)", path, strerror(errno));
    if (fstat(fd, &st) != 0)
        err_set(e, "%s: cannot stat it (%s)", path, strerror(errno));
    else if ((image = alloc_array((size_t)st.st_size + 1, 1, "file image", e)) &&
             read_full(fd, image, (size_t)st.st_size, 0) == (ssize_t)st.st_size)
        rc = 0;
    close(fd);
    if (rc == 0)
        rc = fileseal_write_image(path, image, (size_t)st.st_size, 0, e);
    free(image);
    return rc;
}

#define ROT32(x, k) (((x) << (k)) | ((x) >> (32 - (k))))

/* lookup3: Bob Jenkins' lookup3 hash (hashlittle, initial value 0), the checksum of HDF5
 * metadata (H5_checksum_metadata). */
static uint32_t lookup3(const unsigned char *k, size_t n)
{
    uint32_t a, b, c;
    a = b = c = 0xdeadbeefu + (uint32_t)n;
    for (; n > 12; n -= 12, k += 12) {
        a += k[0] + ((uint32_t)k[1] << 8) + ((uint32_t)k[2] << 16) + ((uint32_t)k[3] << 24);
        b += k[4] + ((uint32_t)k[5] << 8) + ((uint32_t)k[6] << 16) + ((uint32_t)k[7] << 24);
        c += k[8] + ((uint32_t)k[9] << 8) + ((uint32_t)k[10] << 16) + ((uint32_t)k[11] << 24);
        a -= c; a ^= ROT32(c, 4); c += b;
        b -= a; b ^= ROT32(a, 6); a += c;
        c -= b; c ^= ROT32(b, 8); b += a;
        a -= c; a ^= ROT32(c, 16); c += b;
        b -= a; b ^= ROT32(a, 19); a += c;
        c -= b; c ^= ROT32(b, 4); b += a;
    }
    if (n == 0)
        return c;
    uint32_t *word[3] = {&a, &b, &c};
    for (size_t i = 0; i < n; i++)
        *word[i / 4] += (uint32_t)k[i] << (8 * (i % 4));
    c ^= b; c -= ROT32(b, 14);
    a ^= c; a -= ROT32(c, 11);
    b ^= a; b -= ROT32(a, 25);
    c ^= b; c -= ROT32(b, 16);
    a ^= c; a -= ROT32(c, 4);
    b ^= a; b -= ROT32(a, 14);
    c ^= b; c -= ROT32(b, 24);
    return c;
}

void fileseal_fix_superblock(unsigned char *sb, size_t size)
{
    const size_t covered = 12 + 4 * 8; /* signature..flags, 4 addresses of 8 bytes */
    if (size < covered + 4 || (sb[8] != 2 && sb[8] != 3) || sb[9] != 8 || sb[10] != 8)
        return;
    uint32_t sum = lookup3(sb, covered);
    for (int i = 0; i < 4; i++)
        sb[covered + (size_t)i] = (unsigned char)(sum >> (8 * i));
}

/* damaged: the one-line refusal of a file whose block does not match it. */
static int damaged(Err *e, const char *path, const char *why, const char *hint)
{
    return err_set(e, "%s: damaged: %s; downhill does not read it (%s)", path, why,
                   hint ? hint : "restore it from a copy or write it again");
}

/* check_record: a decoded record against the file (fd, size bytes). Compares the
 * checksums through one more hash so that a coverage-guided fuzzer cannot copy the
 * computed value into the file it mutates (that would test forged files, which are
 * foreign files to downhill: see tests/fuzz/fuzz_h5.c). */
static int check_record(int fd, uint64_t size, const SealRecord *r, const char *path,
                        const char *hint, Err *e)
{
    char why[160];
    uint64_t sum = 0;
    if (r->version != SEAL_VERSION) {
        snprintf(why, sizeof why, "integrity block version %u, this downhill reads %d",
                 (unsigned)r->version, SEAL_VERSION);
        return err_set(e, "%s: %s (use the downhill that wrote it)", path, why);
    }
    if (r->state != STATE_COMPLETE)
        return damaged(e, path, "its integrity block holds an unknown state", hint);
    if (r->length != size) {
        snprintf(why, sizeof why, "%llu bytes long, written %llu bytes long (%s)",
                 (unsigned long long)size, (unsigned long long)r->length,
                 size < r->length ? "truncated" : "extended");
        return damaged(e, path, why, hint);
    }
    if (file_checksum(fd, size, &sum, path, e) != 0)
        return -1;
    uint64_t a = hash_fnv1a(HASH_FNV_BASIS, &sum, sizeof sum);
    uint64_t b = hash_fnv1a(HASH_FNV_BASIS, &r->checksum, sizeof r->checksum);
    if (a != b)
        return damaged(e, path, "its checksum does not match its bytes (changed on disk "
                                "after it was written)", hint);
    return 0;
}

int fileseal_verify(const char *path, const char *hint, FilesealStatus *status, Err *e)
{
    unsigned char block[FILESEAL_SIZE + sizeof hdf5_signature];
    struct stat st;
    SealRecord r;
    *status = FILESEAL_NONE;
    int rc = 0, fd = open(path, O_RDONLY);
    if (fd < 0)
        return err_set(e, "%s: cannot open it (%s)", path, strerror(errno));
    ssize_t got = fstat(fd, &st) == 0 ? read_full(fd, block, sizeof block, 0) : -1;
    if (got < 0)
        rc = err_set(e, "%s: cannot read it (%s)", path, strerror(errno));
    else if (got < (ssize_t)sizeof block || memcmp(block, hdf5_signature, 8) == 0)
        ; /* too short to hold a block, or the superblock first: no block */
    else if (decode(block, &r) || decode(block + SEAL_COPY_AT, &r)) {
        rc = check_record(fd, (uint64_t)st.st_size, &r, path, hint, e);
        *status = rc == 0 ? FILESEAL_VALID : FILESEAL_NONE;
    } else if (memcmp(block, SEAL_MAGIC, SEAL_MAGIC_LEN) == 0 ||
               memcmp(block + SEAL_COPY_AT, SEAL_MAGIC, SEAL_MAGIC_LEN) == 0)
        rc = damaged(e, path, "its integrity block is damaged", hint);
    else if (memcmp(block + FILESEAL_SIZE, hdf5_signature, 8) == 0)
        rc = err_set(e, "%s: its 512-byte user block is not the integrity block downhill "
                        "writes: a downhill file whose block is damaged (%s), or a foreign "
                        "file with a user block (remove it: h5unjam -i FILE -o COPY)", path,
                     hint ? hint : "write it again");
    close(fd);
    return rc;
}
