/* test_collapse_rule: score_collapse's definition at its edges: 99% of the examples with every
 * output below 0.05, one predicted class, and sets too small to judge. */
#include "check.h"
#include "train/evaluate.h"

/* score: a Score of n examples, `low` of them saturated, classes first..last predicted. */
static Score score(int64_t n, int64_t low, int64_t first, int64_t last)
{
    return (Score){.count = n, .saturated = low, .first_class = first, .last_class = last};
}

int main(void)
{
    CHECK(score_collapse(&(Score){0}) == 0, "an empty set is not collapsed");
    CHECK(score_collapse(&(Score){.count = 1000, .first_class = 0, .last_class = 9}) == 0,
          "a varied, unsaturated set is not collapsed");
    Score s = score(1000, 990, 0, 9);
    CHECK(score_collapse(&s) == COLLAPSE_SATURATED, "990 of 1000 saturated (99%%) is collapsed");
    s = score(1000, 989, 0, 9);
    CHECK(score_collapse(&s) == 0, "989 of 1000 saturated (98.9%%) is not");
    s = score(10000, 9900, 4, 4);
    CHECK(score_collapse(&s) == (COLLAPSE_SATURATED | COLLAPSE_ONE_CLASS),
          "saturated and one class: both signs");
    s = score(10000, 0, 7, 7);
    CHECK(score_collapse(&s) == COLLAPSE_ONE_CLASS, "every example predicted as class 7");
    s = score(EVAL_COLLAPSE_MIN - 1, EVAL_COLLAPSE_MIN - 1, 3, 3);
    CHECK(score_collapse(&s) == 0, "fewer than %d examples are not judged", EVAL_COLLAPSE_MIN);
    s = score(EVAL_COLLAPSE_MIN, EVAL_COLLAPSE_MIN, 3, 3);
    CHECK(score_collapse(&s) != 0, "%d examples are judged", EVAL_COLLAPSE_MIN);
    return check_report("test_collapse_rule");
}
