/* fuzz_idx.c: the IDX reader (plain or gzip, zlib detects which) and, for inputs that
 * start with the HDF5 signature, the HDF5 input-file reader, through data_probe and
 * data_load with a few shards.
 * Input: 2 bytes split (little endian) | 1 byte flags | images bytes | labels bytes,
 * the first `split` bytes after the 3-byte header are the image file, the rest the labels. */
#include "fuzz_util.h"

#include "io/data.h"
#include "train/shard.h"

#define MAX_SHARD_BYTES (4u << 20) /* the harness loads at most this many pixel bytes */

static void load_and_check(const char *img, const char *lbl, const Shard *s, int n_classes)
{
    Dataset d;
    Err e;
    if (data_load(img, lbl, s, n_classes, &d, &e) == 0) {
        /* a loaded shard holds what it says: touch every byte (ASan checks the bounds) */
        unsigned sum = 0;
        for (int64_t i = 0; i < d.rows * (int64_t)d.info.dim; i++)
            sum += d.images[i];
        for (int64_t i = 0; i < d.rows; i++)
            if (d.labels[i] >= n_classes)
                abort(); /* data_load promised every label is below n_classes */
        if (d.rows != shard_rows(s))
            abort();
        (void)sum;
    } else if (e.msg[0] == '\0' || strchr(e.msg, '\n')) {
        abort(); /* every error is one non-empty line */
    }
    data_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char img[512], lbl[512];
    if (!img[0]) {
        fuzz_path(img, sizeof img, "images");
        fuzz_path(lbl, sizeof lbl, "labels");
    }
    if (size < 3)
        return 0;
    size_t split = (size_t)data[0] | (size_t)data[1] << 8;
    unsigned flags = data[2];
    data += 3;
    size -= 3;
    if (split > size)
        split = size;
    fuzz_write(img, data, split);
    fuzz_write(lbl, data + split, size - split);

    DataInfo info;
    Err e;
    if (data_probe(img, lbl, &info, &e) != 0)
        return 0;
    if (info.count < 1 || info.dim != info.img_rows * info.img_cols || info.dim < 1)
        abort(); /* a successful probe describes a usable set */
    int64_t n = info.count;
    if (n * info.dim > MAX_SHARD_BYTES)
        n = MAX_SHARD_BYTES / info.dim; /* a limit, as data.train_limit would */
    int n_classes = flags & 1 ? 256 : 10;
    int ranks = 1 + (flags >> 1 & 3);
    /* a block of ranks (the test set), lanes (the training set), and a request past the end */
    load_and_check(img, lbl, &(Shard){0}, n_classes);
    Shard block = shard_block(n, (int)(flags >> 3 & 3) % ranks, ranks);
    load_and_check(img, lbl, &block, n_classes);
    int64_t stride = 1 + (flags >> 5);
    Shard lanes = shard_lanes(n, stride, 0, stride > 1 ? stride / 2 : 1);
    load_and_check(img, lbl, &lanes, n_classes);
    if (info.count < INT64_MAX)
        load_and_check(img, lbl, &(Shard){info.count + 1, 1, 0, 1}, n_classes);
    return 0;
}
