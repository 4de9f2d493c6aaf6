/* kind.c: the names of the network's kinds (kind.h), as the configuration and the files
 * spell them. */
#include "net/kind.h"

#include <string.h>

static const char *const activation_names[] = {"sigmoid", "tanh", "relu"};
static const char *const output_names[] = {"sigmoid", "softmax"};
static const char *const cost_names[] = {"quadratic", "cross_entropy"};
static const char *const init_names[] = {"auto", "normal", "glorot", "he"};

/* name_of: names[v] for 0 <= v < n, else "?". */
static const char *name_of(const char *const *names, int n, int v)
{
    return v >= 0 && v < n ? names[v] : "?";
}

const char *kind_activation_name(Activation a)
{
    return name_of(activation_names, 3, (int)a);
}

const char *kind_output_name(OutputKind o)
{
    return name_of(output_names, 2, (int)o);
}

const char *kind_cost_name(CostKind c)
{
    return name_of(cost_names, 2, (int)c);
}

const char *kind_init_name(InitKind i)
{
    return name_of(init_names, 4, (int)i);
}

/* lookup: *v = the index of name in names (n of them); name NULL leaves *v (the default).
 * -1 for an unknown name. */
static int lookup(const char *const *names, int n, const char *name, int *v)
{
    if (!name)
        return 0;
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) {
            *v = i;
            return 0;
        }
    return -1;
}

int kind_parse(NetKind *k, const char *activation, const char *output, const char *cost,
               const char *what, Err *e)
{
    int a = ACT_SIGMOID, o = OUTPUT_SIGMOID, c = COST_QUADRATIC;
    if (lookup(activation_names, 3, activation, &a) != 0)
        return err_set(e, "%s: activation \"%s\" is not one of sigmoid, tanh, relu", what,
                       activation);
    if (lookup(output_names, 2, output, &o) != 0)
        return err_set(e, "%s: output \"%s\" is not one of sigmoid, softmax", what, output);
    if (lookup(cost_names, 2, cost, &c) != 0)
        return err_set(e, "%s: cost \"%s\" is not one of quadratic, cross_entropy", what, cost);
    *k = (NetKind){.hidden = (Activation)a, .output = (OutputKind)o, .cost = (CostKind)c};
    return 0;
}

InitKind kind_init_resolve(InitKind init, Activation a)
{
    if (init != INIT_AUTO)
        return init;
    return a == ACT_RELU ? INIT_HE : a == ACT_TANH ? INIT_GLOROT : INIT_NORMAL;
}
