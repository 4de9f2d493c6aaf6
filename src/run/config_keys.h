/* config_keys.h: the table of configuration keys that config.c is driven by: each key's
 * section, name, type, field of Config, default, accepted values and help line. Private
 * to src/run/. */
#ifndef DOWNHILL_RUN_CONFIG_KEYS_H
#define DOWNHILL_RUN_CONFIG_KEYS_H

#include <stddef.h>
#include <stdint.h>

/* How a key's value is parsed and stored. */
typedef enum { KEY_PATH, KEY_TEXT, KEY_INT, KEY_UINT, KEY_DOUBLE, KEY_LAYERS, KEY_ENUM,
               KEY_BOOL } KeyType;

/* Range rule of a double key. */
typedef enum { DBL_POSITIVE, DBL_NONNEGATIVE, DBL_UNIT, DBL_FRACTION } DoubleRule;

/* One configuration key. */
typedef struct {
    const char *section;
    const char *name;
    KeyType type;
    size_t offset;        /* of the field in Config (KEY_LAYERS: of layers[]) */
    int64_t int_min;      /* KEY_INT: smallest accepted value */
    DoubleRule dbl_rule;  /* KEY_DOUBLE: accepted range */
    const char *def;      /* default, as INI text */
    const char *accepted; /* completes "expected ..." in error messages */
    const char *help;     /* one-line comment printed above the key */
    const char *const *names; /* KEY_ENUM: the spellings, NULL-terminated; the field is an
                               * enum (int) holding the index */
} KeySpec;

/* The spellings of each enum key, NULL-terminated, in the order of the enum's values. */
extern const char *const config_schedule_names[];
extern const char *const config_reduction_names[];

/* config_keys: every key, in the order of the resolved INI text; config_n_keys of them. */
extern const KeySpec config_keys[];
extern const size_t config_n_keys;

#endif
