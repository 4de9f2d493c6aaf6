/* kind.h: what kind of network a Layout describes beyond its sizes: the hidden layers'
 * activation, the output layer, the cost, and how weights are initialised. Value 0 of each
 * is the seed's network (sigmoid everywhere, quadratic cost, N(0, 1/fan_in)). */
#ifndef DOWNHILL_NET_KIND_H
#define DOWNHILL_NET_KIND_H

#include "core/common.h"

/* The hidden layers' activation (model.activation). */
typedef enum { ACT_SIGMOID = 0, ACT_TANH, ACT_RELU } Activation;

/* The output layer (model.output): elementwise sigmoid, or softmax over the outputs. */
typedef enum { OUTPUT_SIGMOID = 0, OUTPUT_SOFTMAX } OutputKind;

/* The cost of one example (model.cost): sum_j (a_j - y_j)^2, or cross-entropy (with
 * sigmoid outputs the binary form per output, with softmax the categorical form). */
typedef enum { COST_QUADRATIC = 0, COST_CROSS_ENTROPY } CostKind;

/* Weight initialisation (model.init); biases always start at 0. AUTO picks by activation:
 * NORMAL for sigmoid, GLOROT for tanh, HE for relu. NORMAL: N(0, 1/fan_in); GLOROT:
 * N(0, 2/(fan_in + fan_out)); HE: N(0, 2/fan_in). */
typedef enum { INIT_AUTO = 0, INIT_NORMAL, INIT_GLOROT, INIT_HE } InitKind;

/* The network's kind; the zero value is the seed's network. */
typedef struct {
    Activation hidden;
    OutputKind output;
    CostKind cost;
} NetKind;

/* kind_activation_name / kind_output_name / kind_cost_name / kind_init_name: the value's
 * name as model.activation, model.output, model.cost and model.init spell it (static). */
const char *kind_activation_name(Activation a);
const char *kind_output_name(OutputKind o);
const char *kind_cost_name(CostKind c);
const char *kind_init_name(InitKind i);

/* kind_parse: *k from the three names (NULL: the seed's value of that field); an unknown
 * name is an error naming it (what is the field's name in messages). */
int kind_parse(NetKind *k, const char *activation, const char *output, const char *cost,
               const char *what, Err *e);

/* kind_init_resolve: the initialisation INIT_AUTO stands for with hidden activation a
 * (sigmoid: NORMAL, tanh: GLOROT, relu: HE); any other value as it is. */
InitKind kind_init_resolve(InitKind init, Activation a);

#endif
